#!/usr/bin/env node
// bench/browser.mjs MODELS_DIR OUT.json [--runs N] [--threads N] [--arch A] [--engine simd|relaxed]: in headless
// Debian Chromium, our engine (single-threaded and threaded builds; --engine: the SIMD ones, the default, or the
// relaxed-SIMD ones, default $GC_ENGINE) against ONNX Runtime Web (wasm SIMD backend, numThreads 1 and N),
// forward only, the same model (the seeded ResNet bench/models.py made in MODELS_DIR, --arch names it: ours from
// safetensors, ORT from torch.onnx.export) and the
// same 224x224 input, in one cross-origin-isolated page, each engine in its own worker, runs alternating
// (bench/page/bench.js). Then each of our builds alone, cold: a fresh profile, navigation → first heatmap.
// Figures only. The browser is /usr/bin/chromium (CHROMIUM=...) through playwright-core; nothing downloads.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const { BUILD, ROOT, loadRGBA } = require('./lib.js');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const [models, outFile] = args;
const runs = Number(opt('--runs', 12));
const N = Number(opt('--threads', 2));
const arch = opt('--arch', 'resnet18');
const engine = opt('--engine', process.env.GC_ENGINE || 'simd');
if (engine !== 'simd' && engine !== 'relaxed') throw new Error(`browser: --engine ${engine}: simd or relaxed`);
const sfx = engine === 'relaxed' ? '-relaxed' : '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const log = (s) => process.stderr.write(`browser: ${s}\n`);

// ---- the site: a temp folder of copies (scripts/serve only serves files inside its folder) ----------
const site = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-bench-site-'));
const copy = (from, to = path.basename(from)) => { fs.mkdirSync(path.dirname(path.join(site, to)), { recursive: true }); fs.copyFileSync(from, path.join(site, to)); };
for (const f of fs.readdirSync(path.join(HERE, 'page'))) copy(path.join(HERE, 'page', f));
for (const f of ['.js', '.wasm', '-mt.js', '-mt.wasm', '-mt.worker.js'].map((e) => `gradcam-engine${sfx}${e}`)) {
  if (fs.existsSync(path.join(BUILD, 'web', f))) copy(path.join(BUILD, 'web', f));
}
const ortDist = path.join(HERE, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) copy(path.join(ortDist, f), `ort/${f}`);
copy(path.join(models, 'seeded.safetensors'), 'models/seeded.safetensors');
copy(path.join(models, 'seeded.onnx'), 'models/seeded.onnx');
fs.writeFileSync(path.join(site, 'models/input224.rgba'), loadRGBA(path.join(models, 'input224.png')).rgba);
{ // .npy → raw float32: skip the header
  const b = fs.readFileSync(path.join(models, 'input224.npy'));
  const hl = b.readUInt16LE(8);
  fs.writeFileSync(path.join(site, 'models/input224.f32'), b.subarray(10 + hl));
}
const ortVersion = JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', 'onnxruntime-web', 'package.json'))).version;

// ---- serve it (scripts/serve: COOP/COEP, so the page is cross-origin isolated and threads work) -----
const server = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve'), '0', site], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => { buf += d; const m = buf.match(/(http:\/\/\S+\/)/); if (m) resolve(m[1]); });
  server.on('exit', (c) => reject(new Error(`scripts/serve exited ${c}`)));
});

async function browser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  return { context, close: async () => { await context.close().catch(() => {}); fs.rmSync(profile, { recursive: true, force: true }); } };
}

const out = { runs, threads: N, arch, engine, model_bytes: fs.statSync(path.join(models, 'seeded.safetensors')).size, ort_version: ortVersion, chromium: '', rounds: [], errors: [] };
try {
  // ---- side by side, forward --------------------------------------------------------------------------
  const b = await browser();
  out.chromium = b.context.browser() ? b.context.browser().version() : '';
  const page = await b.context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push(m.text()); });
  await page.goto(`${base}index.html?threads=${N}&engine=${engine}`);
  out.cross_origin_isolated = await page.evaluate(() => window.bench.crossOriginIsolated);
  log(`page up (crossOriginIsolated: ${out.cross_origin_isolated}); loading 4 engines (${arch}, our ${engine} engine)`);
  const want = ['ours-1', `ort-1`, `ours-${N}`, `ort-${N}`];
  if (!fs.existsSync(path.join(site, `gradcam-engine${sfx}-mt.js`))) { want.splice(want.indexOf(`ours-${N}`), 1); out.errors.push('no threaded build of our engine'); }
  out.setup = await page.evaluate((w) => window.bench.setup(w), want);
  for (let r = 0; r < runs + 2; r++) {
    const round = await page.evaluate((r) => window.bench.round(r), r);
    if (r >= 2) out.rounds.push(round); // 2 warm-up rounds
  }
  // Grad-CAM and pixels in the page too (ours only; ORT Web has no backward), after the forward rounds
  out.explain = {};
  for (const name of want.filter((n) => n.startsWith('ours'))) {
    // per run: a forward alone, then forward + explain at layer4 (with the overlay), then forward + to the pixels
    out.explain[name] = { forward: [], layer4: [], input: [] };
    for (let r = 0; r < runs + 1; r++) {
      const f = await page.evaluate((n) => window.bench.forward(n), name);
      const one = {};
      for (const layer of ['layer4', 'input']) {
        const f2 = await page.evaluate((n) => window.bench.forward(n), name);
        const e = await page.evaluate(([n, l]) => window.bench.explain(n, l), [name, layer]);
        one[layer] = f2.ms + e.ms;
      }
      if (r) { out.explain[name].forward.push(f.ms); out.explain[name].layer4.push(one.layer4); out.explain[name].input.push(one.input); }
    }
  }
  out.memory = await page.evaluate(() => window.bench.memory());
  await b.close();
  log('side-by-side done; cold starts');

  // ---- cold start → first heatmap, each of our builds alone in a fresh profile ----------------------
  out.cold = {};
  for (const name of want.filter((n) => n.startsWith('ours'))) {
    const c = await browser();
    const p = await c.context.newPage();
    await p.goto(`${base}index.html?threads=${N}&engine=${engine}&cold=${name}`);
    out.cold[name] = await p.evaluate(() => window.coldResult);
    await c.close();
  }
} catch (e) {
  out.errors.push(String(e && e.stack || e));
  log(`error: ${e && e.message || e}`);
} finally {
  server.kill();
  fs.rmSync(site, { recursive: true, force: true });
}
fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
process.exit(out.rounds.length ? 0 : 1);
