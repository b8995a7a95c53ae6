#!/usr/bin/env node
// viewers-bench.mjs [--runs N] [--model seeded|shapes]: what a page of many <grad-cam-viewer>s costs
// against a page of one (issue 12: 12 viewers of one model must use ≤ 1.25× the memory and download the
// weights once). Figures only, no assertions. Configurations, each in a fresh headless Chromium
// (Debian's, through playwright-core), alternating, --runs times (default 3):
//   viewers 1, viewers 12   <grad-cam-viewer loading="eager"> elements, each with its own image, all
//                           rendered (gradcam-done) before measuring
//   api-solo 12             12 createGradCam() instances without {shared: true}: what 12 viewers cost
//                           when every one had its own engine (the viewer before the shared engine)
// Memory: performance.measureUserAgentSpecificMemory() (the page and its workers: JS heaps, ArrayBuffers,
// the engines' WebAssembly memories; cross-origin isolated page, eager measurement flag), and the PSS of
// the browser's whole process tree (/proc/*/smaps_rollup, what the machine pays). Downloads: the GET
// requests for the .safetensors file, from playwright's request log.
//   node tests/browser/viewers-bench.mjs --runs 3 --model seeded
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as h from './helpers.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const runs = Number(opt('--runs', 3));
const which = opt('--model', 'seeded');
const log = (s) => process.stderr.write(`viewers-bench: ${s}\n`);

const site = h.makeSite();
if (which === 'shapes') { // makeSite leaves the site's own weights out
  fs.mkdirSync(path.join(site.dir, 'models', 'shapes'), { recursive: true });
  for (const f of ['resnet18-shapes.safetensors', 'labels.txt']) fs.copyFileSync(path.join(h.WEB, 'models', 'shapes', f), path.join(site.dir, 'models', 'shapes', f));
}
const model = which === 'shapes'
  ? { model: 'models/shapes/resnet18-shapes.safetensors', labels: 'models/shapes/labels.txt' }
  : { model: 'models/test/seeded.safetensors', labels: 'models/test/labels.txt' };
fs.writeFileSync(path.join(site.dir, 'viewers.html'), `<!doctype html><html lang="en"><meta charset="utf-8"><title>viewers</title>
<style>grad-cam-viewer { width: 120px; }</style><body><main id="m"></main><script type="module" src="viewers.js"></script></body></html>`);
fs.writeFileSync(path.join(site.dir, 'viewers.js'), `
const q = new URLSearchParams(location.search);
const n = Number(q.get('n')), mode = q.get('mode'), model = q.get('model'), labels = q.get('labels');
const images = ['shapes-1.png', 'shapes-2.png', 'shapes-3.png', 'both.png', 'dogs.png', 'horses.jpg'].map((f) => 'samples/' + f);
window.done = 0;
window.failed = null;
if (mode === 'viewers') {
  await import('./grad-cam-viewer.js');
  for (let i = 0; i < n; i++) {
    const v = document.createElement('grad-cam-viewer');
    for (const [k, val] of Object.entries({ src: images[i % images.length], model, labels, loading: 'eager', layer: i % 2 ? 'layer3' : 'layer4' })) v.setAttribute(k, val);
    v.addEventListener('gradcam-done', () => { window.done++; }, { once: true });
    v.addEventListener('gradcam-error', (e) => { window.failed = e.detail.message; });
    document.getElementById('m').append(v);
  }
} else {
  const g = await import('./gradcam.js');
  window.keep = [];
  for (let i = 0; i < n; i++) {
    const gc = await g.createGradCam({ model, labels, shared: mode === 'api-shared' });
    const img = await g.toImageData(await (await fetch(images[i % images.length])).blob());
    await gc.explain(img, { layer: i % 2 ? 'layer3' : 'layer4' });
    window.keep.push(gc);
    window.done++;
  }
}`);

// The PSS (kB) of every process under the browser whose command line names our profile.
function treePss(profile) {
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.set(Number(pid), { ppid, cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch { /* gone meanwhile */ }
  }
  const roots = [...procs].filter(([, p]) => p.cmd.includes(profile)).map(([pid]) => pid);
  const all = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) if (!all.has(pid) && all.has(p.ppid)) { all.add(pid); grew = true; }
  }
  let kb = 0;
  for (const pid of all) {
    try {
      kb += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
    } catch { /* gone */ }
  }
  return kb;
}

async function once(mode, n, srv) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-viewers-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: h.CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--enable-blink-features=ForceEagerMeasureMemory', '--js-flags=--expose-gc'],
  });
  try {
    const reqs = h.recordRequests(context);
    const page = await context.newPage();
    const q = new URLSearchParams({ n, mode, ...model });
    await page.goto(`${srv.url}viewers.html?${q}`);
    await page.waitForFunction((n) => window.done >= n || window.failed, n, { timeout: 600000 });
    const failed = await page.evaluate(() => window.failed);
    if (failed) throw new Error(failed);
    await page.waitForTimeout(1000);
    const mem = await page.evaluate(async () => {
      globalThis.gc?.();
      const m = await performance.measureUserAgentSpecificMemory();
      return m.bytes;
    });
    const pss = treePss(profile);
    const downloads = reqs.filter((r) => r.method === 'GET' && /\.safetensors$/.test(r.url)).length;
    return { mem: mem / 1048576, pss: pss / 1024, downloads };
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const srv = await h.serve(site.dir);
const configs = [['viewers', 1], ['viewers', 12], ['api-solo', 12]];
const res = Object.fromEntries(configs.map(([m, n]) => [`${m} ${n}`, []]));
try {
  for (let r = 0; r < runs; r++) {
    for (const [m, n] of r % 2 ? [...configs].reverse() : configs) {
      const x = await once(m, n, srv);
      log(`run ${r + 1} ${m} ${n}: measureUserAgentSpecificMemory ${x.mem.toFixed(1)} MiB, process tree PSS ${x.pss.toFixed(0)} MiB, weight downloads ${x.downloads}`);
      res[`${m} ${n}`].push(x);
    }
  }
} finally {
  await srv.stop();
  site.cleanup();
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const base = res['viewers 1'];
console.log(`model: ${model.model} (${which}); ${runs} runs each, alternating; medians`);
console.log('| page | memory (measureUserAgentSpecificMemory) | ratio to 1 viewer | process tree PSS | ratio | weight downloads |');
console.log('|---|---|---|---|---|---|');
for (const [k, v] of Object.entries(res)) {
  const m = med(v.map((x) => x.mem)), p = med(v.map((x) => x.pss));
  console.log(`| ${k} | ${m.toFixed(1)} MiB | ${(m / med(base.map((x) => x.mem))).toFixed(2)}× | ${p.toFixed(0)} MiB | ${(p / med(base.map((x) => x.pss))).toFixed(2)}× | ${[...new Set(v.map((x) => x.downloads))].join('/')} |`);
}
