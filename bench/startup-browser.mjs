#!/usr/bin/env node
// bench/startup-browser.mjs MODELS_DIR [--runs N] [--threads N]: start-up in headless Debian Chromium,
// navigation → first result, ours against ONNX Runtime Web on the same model (issue 13). Figures only.
//   ours          a page that does what a site author writes: createGradCam({model}) (the public API,
//                 gradcam.js: worker, engine, weights) + explain(image) at layer4, overlay drawn on a canvas
//   ours-shapes   the same with createGradCam() (the default shapes model, 22 MB F16)
//   ort           onnxruntime-web (wasm backend, numThreads N): InferenceSession.create(seeded.onnx) + one
//                 run on the same normalised input (a forward only: ORT has no heatmap)
//   fetch-only    the floor under any library that reads this file: a page that only fetches
//                 seeded.safetensors into an ArrayBuffer (the download through Chromium's network stack),
//                 'no-store' as our loader does (no HTTP-cache write: 443 → 321 ms cold, 7 runs)
// Each configuration: a fresh browser profile (empty HTTP cache, Cache API, compiled-code cache) → "cold";
// then a reload in that profile → "warm" (our weights from the Cache API; ORT's from the HTTP cache, as
// each library does by itself). Times are the page's performance.now() at the result, i.e. from the
// navigation's start. Configurations alternate, --runs times (default 7); medians.
// MODELS_DIR: bench/models.py's folder (seeded.safetensors, seeded.onnx, input224.png, input224.npy).
//   node bench/startup-browser.mjs bench/out/models-<hash> --runs 7 --threads 2
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
// --builds DIR1,DIR2: several build folders side by side (e.g. this tree's and an older commit's)
const builds = opt('--builds', process.env.GC_BUILD || path.join(ROOT, 'build')).split(',').map((b) => path.resolve(b));
const [models] = args;
const runs = Number(opt('--runs', 7));
const N = Number(opt('--threads', 2));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const log = (s) => process.stderr.write(`startup-browser: ${s}\n`);
if (!models || !fs.existsSync(path.join(models, 'seeded.onnx'))) throw new Error('give bench/models.py\'s folder (python3 bench/models.py DIR makes it)');

// ---- the site ------------------------------------------------------------------------------------------
const site = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-startup-site-'));
const put = (to, data) => { fs.mkdirSync(path.dirname(path.join(site, to)), { recursive: true }); fs.writeFileSync(path.join(site, to), data); };
const copy = (from, to) => put(to, fs.readFileSync(from));
const ortDist = path.join(HERE, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) copy(path.join(ortDist, f), `ort/${f}`);
copy(path.join(models, 'seeded.onnx'), 'models/seeded.onnx');
{ const b = fs.readFileSync(path.join(models, 'input224.npy')); put('input224.f32', b.subarray(10 + b.readUInt16LE(8))); }
const page = (script) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>start-up</title><canvas id="c" width="224" height="224"></canvas><script type="module" src="${script}"></script></html>`;
const OURS = `import { createGradCam, toImageData } from './gradcam.js';
const q = new URLSearchParams(location.search);
try {
  const image = fetch('input224.png').then((r) => r.blob()).then((b) => toImageData(b));
  const gc = await createGradCam(q.get('model') === 'shapes' ? { threads: Number(q.get('threads')) } : { model: 'models/seeded.safetensors', threads: Number(q.get('threads')) });
  const ready = performance.now();
  const r = await gc.explain(await image, { layer: 'layer4', heatmap: false });
  document.getElementById('c').getContext('2d').putImageData(r.overlay, 0, 0);
  window.result = { first: performance.now(), ready, engine: gc.engine, top: r.top[0].index, startup: gc.startup };
} catch (e) { window.result = { error: String(e.message || e) }; }`;
builds.forEach((b, i) => { // each build in its own folder bN/, with its own copy of the models
  // every engine the build has (SIMD, relaxed; single, threaded): the page picks among them as a site's would
  const engines = fs.readdirSync(path.join(b, 'web')).filter((f) => f.startsWith('gradcam-engine'));
  for (const f of ['gradcam.js', 'load.js', 'worker.js', 'pth.js', ...engines, 'models/shapes/resnet18-shapes.safetensors', 'models/shapes/labels.txt']) {
    if (fs.existsSync(path.join(b, 'web', f))) copy(path.join(b, 'web', f), `b${i}/${f}`);
  }
  copy(path.join(models, 'seeded.safetensors'), `b${i}/models/seeded.safetensors`);
  copy(path.join(models, 'input224.png'), `b${i}/input224.png`);
  put(`b${i}/ours.html`, page('ours.js'));
  put(`b${i}/ours.js`, OURS);
});
put('fetch.html', page('fetch.js'));
put('fetch.js', `try {
  const b = await fetch('b0/models/seeded.safetensors', { cache: 'no-store' }).then((r) => r.arrayBuffer());
  window.result = { first: performance.now(), ready: performance.now(), engine: 'fetch only', top: b.byteLength };
} catch (e) { window.result = { error: String(e.message || e) }; }`);
put('ort.html', page('ort.js'));
put('ort.js', `import * as ort from './ort/ort.wasm.min.mjs';
const q = new URLSearchParams(location.search);
try {
  ort.env.wasm.numThreads = Number(q.get('threads'));
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
  const input = fetch('input224.f32').then((r) => r.arrayBuffer());
  const s = await ort.InferenceSession.create('models/seeded.onnx', { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const ready = performance.now();
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(await input), [1, 3, 224, 224]) });
  const z = out[s.outputNames[0]].data;
  let top = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[top]) top = i;
  window.result = { first: performance.now(), ready, engine: 'onnxruntime-web', top };
} catch (e) { window.result = { error: String(e.message || e) }; }`);

const server = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve'), '0', site], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => { buf += d; const m = buf.match(/(http:\/\/\S+\/)/); if (m) resolve(m[1]); });
  server.on('exit', (c) => reject(new Error(`scripts/serve exited ${c}`)));
});

async function once(url) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-startup-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const p = await context.newPage();
    const result = async (nav) => {
      await nav();
      await p.waitForFunction(() => window.result, null, { timeout: 120000 });
      const r = await p.evaluate(() => window.result);
      if (r.error) throw new Error(r.error);
      return r;
    };
    const cold = await result(() => p.goto(url));
    await new Promise((r) => setTimeout(r, 500)); // let the Cache API write of the weights finish
    const warm = await result(() => p.reload());
    return { cold, warm };
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const tag = (b) => (builds.length > 1 ? ` (${path.basename(path.dirname(b))})` : '');
const configs = { ort: `${base}ort.html?threads=${N}`, 'fetch-only': `${base}fetch.html` };
builds.forEach((b, i) => {
  configs[`ours${tag(b)}`] = `${base}b${i}/ours.html?threads=${N}`;
  configs[`ours-shapes${tag(b)}`] = `${base}b${i}/ours.html?model=shapes&threads=${N}`;
});
const res = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
try {
  for (let r = 0; r < runs; r++) {
    const order = Object.keys(configs);
    for (const k of r % 2 ? order.reverse() : order) {
      const x = await once(configs[k]);
      const prof = (s) => (s ? ` [${Object.entries(s).map(([n, v]) => `${n} ${v == null ? '-' : v.toFixed(0)}`).join(', ')}]` : '');
      log(`run ${r + 1} ${k}: cold ${x.cold.first.toFixed(0)} ms${prof(x.cold.startup)}, warm ${x.warm.first.toFixed(0)} ms${prof(x.warm.startup)}; ${x.cold.engine}, top-1 ${x.cold.top}`);
      res[k].push(x);
    }
  }
} finally {
  server.kill();
  fs.rmSync(site, { recursive: true, force: true });
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const ort = med(res.ort.map((x) => x.cold.first)), ortWarm = med(res.ort.map((x) => x.warm.first));
console.log(`${new Date().toISOString()}, ${runs} runs alternating, ${N} threads, Chromium, loopback; medians (ms from navigation)`);
const steps = ['worker', 'workerRunning', 'engineLoaded', 'weights', 'copied', 'modelMade', 'ready'];
for (const k of Object.keys(configs).filter((c) => c !== 'ort' && c !== 'fetch-only')) {
  for (const when of ['cold', 'warm']) {
    const v = res[k].map((x) => x[when].startup).filter(Boolean);
    if (v.length) console.log(`${k} ${when} start-up profile (ms from navigation): ${steps.map((s) => `${s} ${med(v.map((x) => x[s] ?? NaN)).toFixed(0)}`).join(', ')}, first heatmap ${med(res[k].map((x) => x[when].first)).toFixed(0)}`);
  }
}
console.log('| page | cold: first result | (engine + model ready) | × ORT Web cold | warm reload: first result | × ORT Web warm |');
console.log('|---|---|---|---|---|---|');
for (const [k, v] of Object.entries(res)) {
  const c = med(v.map((x) => x.cold.first)), w = med(v.map((x) => x.warm.first));
  console.log(`| ${k} | ${c.toFixed(0)} | ${med(v.map((x) => x.cold.ready)).toFixed(0)} | ${(c / ort).toFixed(2)} | ${w.toFixed(0)} | ${(w / ortWarm).toFixed(2)} |`);
}
