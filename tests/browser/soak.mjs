#!/usr/bin/env node
// soak.mjs [--explains N] [--every K] [--warmup W]: the API on one page for a long time (issue 15), in the
// browser GC_BROWSER names. One page session (the site's origin, the default shapes model) does N explains
// (default 2000) one after another, cycling through the shared photos (../shared/images), classes (top-1
// and 0..7), layers (single, a pair, conv1..layer4.1), model input sizes 32..512, and the methods: the
// quick ones mostly, with now and then a Score-CAM (at 32×32), an aug-smooth, metrics (at 64×64), an
// explain aborted midway and one only redrawn in another colormap. Every K explains (default 50) it
// records the engine's WebAssembly memory (gc.stats(): its size, and the bytes malloc holds when the engine
// exports gc_js_heap_used), the page's JS heap after a forced GC (Chromium: performance.memory, precise with
// --enable-precise-memory-info), performance.measureUserAgentSpecificMemory() (page + workers) and the
// browser's process-tree PSS. Prints the curve as CSV and a verdict:
//   PASS when no explain failed (other than the deliberately aborted ones) and, after the warm-up (the
//   first W explains, default 336: the schedule repeats every 168 explains (each size × each method once,
//   and the extras), so these are two rounds of exactly the work that follows), the curve is flat:
//   the WebAssembly memory did not grow at all (it grows in 8 MB steps: a leak of 4 KB per explain shows
//   within 2000), malloc's bytes (when known) and the JS heap rise by less than 1 KB per explain on a
//   least-squares line through the samples (<= 2 MB over 2000 explains, i.e. nothing kept per call).
// Run it alone, under nice:  nice -n 19 node tests/browser/soak.mjs
// soak-short.test.mjs runs the same loop (runSoak) for 150 explains with looser bounds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as h from './helpers.mjs';

// build/web with its shapes model (not the ImageNet one), the shared photos under imgs/, and a blank page.
export function makeSoakSite() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-soak-'));
  fs.cpSync(h.WEB, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}imagenet`) });
  fs.mkdirSync(path.join(dir, 'imgs'));
  const photos = fs.existsSync(h.IMAGES) ? fs.readdirSync(h.IMAGES).filter((f) => /\.(png|jpe?g|jfif)$/i.test(f)).sort() : [];
  for (const f of photos) fs.copyFileSync(path.join(h.IMAGES, f), path.join(dir, 'imgs', f.replace(/\.jfif$/i, '.jpg')));
  if (!photos.length) for (const f of ['shapes-1.png', 'both.png', 'horses.jpg']) fs.copyFileSync(path.join(h.WEB, 'samples', f), path.join(dir, 'imgs', f));
  fs.writeFileSync(path.join(dir, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>soak</title>');
  return { dir, images: fs.readdirSync(path.join(dir, 'imgs')).sort().map((f) => `imgs/${f}`) };
}

// In the page: the instance and the decoded photos.
async function setUp(images) {
  const g = await import('./gradcam.js');
  const gc = await g.createGradCam();
  const imgs = [];
  for (const f of images) imgs.push(await g.toImageData(await (await fetch(f)).blob()));
  window.soak = { gc, imgs, k: 0, size: 224, errors: [], aborted: 0, reused: 0, t0: performance.now() };
}

// In the page: explains k .. k+count-1 (one after another), then one sample. Self-contained: it is
// serialized into the page.
async function chunk({ count, sizes, measureUA }) {
  const s = window.soak, { gc, imgs } = s;
  const FAST = ['gradcam', 'hirescam', 'gradcam++', 'xgradcam', 'layercam', 'gradcamelementwise', 'eigencam', 'eigengradcam',
    'segeigencam', 'fem', 'shapleycam', 'finercam', 'kpcacam', 'ablationcam'];
  const LAYERS = ['layer4', 'layer3', 'layer2', 'layer1', 'layer4.1', 'layer3.0', 'layer3,layer4', 'conv1'];
  const setSize = async (n) => { if (s.size !== n) { await gc.setInputSize(n, n); s.size = n; } };
  // A period of P explains (every size × every method, once), then the same again: the same work over
  // and over, so that after the first periods (the warm-up) a growing memory can only be a leak.
  const P = sizes.length * FAST.length;
  let prev = s.prev;
  for (const end = s.k + count; s.k < end; s.k++) {
    const k = s.k, j = k % P;
    let size = sizes[Math.floor(j / FAST.length)];
    let method = FAST[j % FAST.length], layer = LAYERS[(j + Math.floor(j / FAST.length)) % LAYERS.length];
    if (method === 'kpcacam' || method === 'ablationcam') layer = 'layer4'; // elsewhere: long (ablation) or n² (kernel PCA)
    // above 224 or before layer2 (large maps: the decompositions get slow), the gradient methods only
    if ((size > 224 || /conv1|layer1/.test(layer)) && j % FAST.length >= 5) method = FAST[j % 5];
    const opts = { method, layer, classIndex: (j % 9) - 1, alpha: 0.3 + 0.1 * (j % 5) };
    if (j === P - 1) { Object.assign(opts, { method: 'scorecam', layer: 'layer4' }); size = 32; }
    if (j === 20) opts.augSmooth = true;
    if (j === 9) { opts.metrics = true; size = Math.min(size, 64); }
    const restyle = j % 41 === 40 && prev; // the previous explanation in another colormap: redrawn only
    const ac = j % 37 === 36 ? new AbortController() : null;
    try {
      if (!restyle) await setSize(size);
      const img = restyle || j % 3 ? null : imgs[Math.floor(j / 3) % imgs.length]; // new pixels every third call
      if (ac) setTimeout(() => ac.abort(), 5 * (j % 4));
      const r = await gc.explain(img, restyle ? { ...prev, colormap: 'viridis' } : { ...opts, signal: ac?.signal });
      if (!(r.overlay.width > 0 && r.cam.length === r.camWidth * r.camHeight && r.camWidth === s.size)) throw new Error('a malformed result');
      if (restyle && !r.reused) throw new Error('a restyle was computed again');
      if (r.reused) s.reused++;
      prev = restyle ? null : opts;
    } catch (e) {
      if (ac && e.name === 'AbortError') s.aborted++;
      else s.errors.push(`explain ${k} (${JSON.stringify(restyle ? 'restyle' : { ...opts, size })}): ${e.name}: ${e.message}`);
      prev = null;
    }
  }
  s.prev = prev;
  const st = await gc.stats();
  globalThis.gc?.(); // --js-flags=--expose-gc
  const js = performance.memory ? performance.memory.usedJSHeapSize : null;
  let ua = null;
  if (measureUA && globalThis.crossOriginIsolated && performance.measureUserAgentSpecificMemory) {
    const m = await performance.measureUserAgentSpecificMemory();
    const workers = m.breakdown.filter((b) => b.attribution.some((a) => /Worker/.test(a.scope || ''))).reduce((a, b) => a + b.bytes, 0);
    ua = { total: m.bytes, workers };
  }
  return {
    explains: s.k, seconds: (performance.now() - s.t0) / 1000, heapBytes: st.heapBytes, heapUsed: st.heapUsed, js, ua,
    pending: st.pending, queued: st.queued, clients: st.clients, computed: st.computed, errors: s.errors.length, aborted: s.aborted, reused: s.reused,
  };
}

// The soak on `page` (at the soak site's blank.html) → {samples, errors, engine}. onSample(sample) sees
// each as it comes (the caller may add to it, e.g. the PSS).
export async function runSoak(page, { explains, every, sizes, images, measureUA = false, onSample }) {
  await page.evaluate(setUp, images);
  const samples = [];
  while (samples.length * every < explains) {
    const smp = await page.evaluate(chunk, { count: Math.min(every, explains - samples.length * every), sizes, measureUA });
    await onSample?.(smp);
    samples.push(smp);
  }
  const errors = await page.evaluate(() => window.soak.errors);
  const engine = await page.evaluate(() => window.soak.gc.engine);
  await page.evaluate(() => window.soak.gc.dispose());
  return { samples, errors, engine };
}

// Least-squares slope of ys over xs.
export function slope(xs, ys) {
  const n = xs.length, mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2; }
  return den ? num / den : 0;
}

// The PSS (kB) of every process under the browser whose command line names `profile`.
function treePss(profile) {
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      procs.set(Number(pid), { ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch { /* gone meanwhile */ }
  }
  const all = new Set([...procs].filter(([, p]) => p.cmd.includes(profile)).map(([pid]) => pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) if (!all.has(pid) && all.has(p.ppid)) { all.add(pid); grew = true; }
  }
  let kb = 0;
  for (const pid of all) {
    try { kb += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]); } catch { /* gone */ }
  }
  return kb;
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
  const explains = Number(opt('--explains', 2000)), every = Number(opt('--every', 50)), warmup = Number(opt('--warmup', 336));
  const browserName = h.BROWSER;
  const log = (s) => process.stderr.write(`soak: ${s}\n`);
  if (h.shapesSkip) throw new Error(h.shapesSkip);
  const site = makeSoakSite();
  const srv = await h.serve(site.dir);
  let context, close, profile = null;
  if (browserName === 'chromium') {
    const { chromium } = await import('playwright-core');
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-soak-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: h.CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-first-run', '--enable-precise-memory-info', '--js-flags=--expose-gc', '--enable-blink-features=ForceEagerMeasureMemory'],
    });
    close = async () => { await context.close().catch(() => {}); fs.rmSync(profile, { recursive: true, force: true }); };
  } else {
    ({ context, close } = await h.launch());
  }
  const mib = (b) => (b == null ? '' : (b / 1048576).toFixed(2));
  try {
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${srv.url}blank.html`);
    const sizes = [32, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512];
    log(`${explains} explains, a sample every ${every}, ${site.images.length} photos, input sizes ${sizes.join(' ')}, ${browserName}`);
    // the curve as it comes (a run cut short keeps what it measured)
    console.log('explains,seconds,wasm_heap_mib,malloc_used_mib,page_js_heap_mib,ua_total_mib,ua_workers_mib,browser_pss_mib,errors');
    const { samples, errors, engine } = await runSoak(page, {
      explains, every, sizes, images: site.images, measureUA: browserName === 'chromium',
      onSample: (smp) => {
        smp.pss = profile ? treePss(profile) * 1024 : null;
        console.log([smp.explains, smp.seconds.toFixed(1), mib(smp.heapBytes), mib(smp.heapUsed), mib(smp.js), mib(smp.ua?.total),
          mib(smp.ua?.workers), mib(smp.pss), smp.errors].join(','));
        if (smp.explains % (every * 4) === 0 || smp.explains === explains) {
          log(`${smp.explains} explains, ${smp.seconds.toFixed(0)} s: wasm ${mib(smp.heapBytes)} MiB, JS ${mib(smp.js)} MiB, PSS ${mib(smp.pss)} MiB, ${smp.errors} errors`);
        }
      },
    });
    const post = samples.filter((s) => s.explains >= warmup), first = post[0], last = samples.at(-1);
    const xs = post.map((s) => s.explains), perKB = (key) => (post.every((s) => key(s) != null) ? slope(xs, post.map(key)) / 1024 : null);
    const growth = last.heapBytes - first.heapBytes;
    const jsSlope = perKB((s) => s.js), mallocSlope = perKB((s) => s.heapUsed), uaSlope = perKB((s) => s.ua?.total), pssSlope = perKB((s) => s.pss);
    const all = [...errors, ...pageErrors.map((m) => `pageerror: ${m}`)];
    for (const e of all.slice(0, 10)) log(`error: ${e}`);
    const ok = !all.length && growth <= 0 && (jsSlope == null || jsSlope < 1) && (mallocSlope == null || mallocSlope < 1) && last.pending === 0;
    const f = (v, u = 'KB/explain') => (v == null ? 'n/a' : `${v.toFixed(3)} ${u}`);
    console.log(`${explains} explains in ${last.seconds.toFixed(0)} s (${engine}, ${browserName}); ${last.aborted} aborted on purpose, ${last.reused} redrawn only, ` +
      `${all.length} errors; after the warm-up (${warmup}): WebAssembly memory ${mib(first.heapBytes)} → ${mib(last.heapBytes)} MiB ` +
      `(${growth > 0 ? '+' : ''}${mib(growth)}), malloc'd ${f(mallocSlope)}, page JS heap ${f(jsSlope)} ` +
      `(${mib(Math.min(...post.map((s) => s.js)))}..${mib(Math.max(...post.map((s) => s.js)))} MiB), page+workers (measureUserAgentSpecificMemory) ${f(uaSlope)}, ` +
      `browser PSS ${f(pssSlope)}`);
    console.log(`verdict: ${ok ? 'PASS' : 'FAIL'} — flat = no failed explain, the WebAssembly memory not grown after the warm-up, ` +
      'malloc\'d bytes and the JS heap rising < 1 KB per explain on a least-squares line; nothing left pending');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await close();
    await srv.stop();
    fs.rmSync(site.dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main(); // run, not imported
