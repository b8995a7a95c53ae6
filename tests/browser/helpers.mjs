// helpers.mjs: shared setup for the browser tests and the benchmark.
//
// Two browsers, one set of tests: GC_BROWSER=chromium (the default) runs them in Debian's /usr/bin/chromium
// driven by playwright-core; GC_BROWSER=firefox in Debian's /usr/bin/firefox-esr driven by puppeteer-core
// over WebDriver BiDi, through firefox.mjs, which gives the same Playwright-shaped context and pages (the
// subset in notes/common.md and what the tests use). A test that cannot run in one of them says so with
// {skip: h.skipIn('firefox', 'why')}. Override the binaries with CHROMIUM=... or FIREFOX=....
//
// Nothing here downloads anything: no browser is ever downloaded (never `playwright install`), the model
// is a seeded torchvision ResNet-18 made at test time with /usr/bin/python3 (tests/conftest.py's
// seeded_resnet18) and cached in the OS temp dir by content key, and the site is a temporary copy of
// build/web plus that model, served by scripts/serve.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB = path.join(ROOT, 'build', 'web');
export const CLI = path.join(ROOT, 'build', 'gradcam');
export const OUT = path.join(ROOT, 'tests', 'browser', 'out');
export const IMAGES = path.join(path.dirname(ROOT), 'shared', 'images');
export const BOTH = fs.existsSync(path.join(IMAGES, 'both.png')) ? path.join(IMAGES, 'both.png') : path.join(ROOT, 'web', 'samples', 'both.png');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
export const BROWSER = (process.env.GC_BROWSER || 'chromium').toLowerCase();
if (!['chromium', 'firefox'].includes(BROWSER)) throw new Error(`GC_BROWSER=${process.env.GC_BROWSER}: use chromium or firefox`);
// A test's skip option: the reason when running in that browser, else false.
export const skipIn = (browser, why) => (BROWSER === browser ? `${browser}: ${why}` : false);
export const PYTHON = process.env.GC_TORCH_PYTHON || '/usr/bin/python3';

export function need() {
  const missing = [];
  if (!fs.existsSync(path.join(WEB, 'gradcam-engine.wasm'))) missing.push('build/web/gradcam-engine.wasm (build the site first)');
  if (!fs.existsSync(path.join(WEB, 'index.html'))) missing.push('build/web/index.html (cmake --build build --target site)');
  if (!fs.existsSync(CLI)) missing.push('build/gradcam');
  if (BROWSER === 'chromium' && !fs.existsSync(CHROMIUM)) missing.push(`${CHROMIUM} (apt-get install chromium)`);
  if (BROWSER === 'firefox' && !fs.existsSync(FIREFOX)) missing.push(`${FIREFOX} (apt-get install firefox-esr)`);
  if (missing.length) throw new Error(`missing: ${missing.join(', ')}`);
}

// The seeded model, as .pth and .safetensors (models/convert), made once per conftest.py version.
export function seededModel() {
  const conftest = fs.readFileSync(path.join(ROOT, 'tests', 'conftest.py'));
  const key = crypto.createHash('sha256').update(conftest).update(fs.readFileSync(path.join(ROOT, 'models', 'convert'))).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `gradcam-browser-fixtures-${key}`);
  const pth = path.join(dir, 'seeded.pth'), st = path.join(dir, 'seeded.safetensors');
  if (fs.existsSync(st) && fs.existsSync(pth)) return { pth, st };
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${dir}/tmp-${process.pid}`;
  const py = `import sys; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'tests'))})
from conftest import seeded_resnet18
import torch
torch.set_num_threads(1)
torch.save(seeded_resnet18().state_dict(), ${JSON.stringify(`${tmp}.pth`)})`;
  let r = spawnSync(PYTHON, ['-c', py], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the seeded model failed: ${r.stderr}`);
  r = spawnSync(PYTHON, [path.join(ROOT, 'models', 'convert'), `${tmp}.pth`, `${tmp}.safetensors`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`models/convert failed: ${r.stderr}`);
  fs.renameSync(`${tmp}.pth`, pth); // atomic: concurrent test files see all or nothing
  fs.renameSync(`${tmp}.safetensors`, st);
  return { pth, st };
}

// A temporary site: build/web without its (large) weights, plus models/test/{seeded.safetensors,
// seeded.pth, labels.txt} (ImageNet labels: the seeded model has 1000 classes).
export function makeSite() {
  need();
  const { pth, st } = seededModel();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-site-'));
  fs.cpSync(WEB, dir, { recursive: true, filter: (src) => !/\.(safetensors|pth)$/.test(src) });
  fs.mkdirSync(path.join(dir, 'models', 'test'), { recursive: true });
  fs.copyFileSync(st, path.join(dir, 'models', 'test', 'seeded.safetensors'));
  fs.copyFileSync(pth, path.join(dir, 'models', 'test', 'seeded.pth'));
  fs.copyFileSync(path.join(ROOT, 'models', 'imagenet', 'labels.txt'), path.join(dir, 'models', 'test', 'labels.txt'));
  // The same weights posing as the optional ImageNet model (a link inside the site: scripts/serve
  // follows links that stay inside its directory), so the page's ImageNet choice can be tested.
  fs.mkdirSync(path.join(dir, 'models', 'imagenet'), { recursive: true });
  fs.symlinkSync('../test/seeded.safetensors', path.join(dir, 'models', 'imagenet', 'resnet18-imagenet.safetensors'));
  return { dir, pth, st, labels: path.join(ROOT, 'models', 'imagenet', 'labels.txt'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// scripts/serve on a free port; resolves to {url, stop}.
export function serve(dir) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve'), '0', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const t = setTimeout(() => { p.kill(); reject(new Error(`scripts/serve did not start: ${err}`)); }, 10000);
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ url: m[1], stop: () => new Promise((r) => { if (p.exitCode !== null) return r(); p.once('exit', r); p.kill('SIGTERM'); }) });
      }
    });
    p.on('exit', (code) => { clearTimeout(t); reject(new Error(`scripts/serve exited ${code}: ${err}`)); });
  });
}

// The browser GC_BROWSER names, headless, with a fresh profile and a fake camera → {context, close}: a
// Playwright persistent BrowserContext (Chromium) or firefox.mjs's look-alike. Options: viewport
// ({width, height}), colorScheme ('light' | 'dark': prefers-color-scheme for every page).
export async function launch({ viewport = { width: 1200, height: 1100 }, colorScheme } = {}) {
  if (BROWSER === 'firefox') {
    const { launchFirefox } = await import('./firefox.mjs');
    return launchFirefox({ viewport, colorScheme });
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
    viewport, colorScheme,
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// Record every request of the context (pages, their workers and service workers).
export function recordRequests(context) {
  const log = [];
  context.on('request', (r) => log.push({ url: r.url(), method: r.method(), postData: r.postData(), type: r.resourceType() }));
  return log;
}

export function cli(args) {
  const r = spawnSync(process.execPath, [CLI, ...args.map(String)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`gradcam ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

// build/gradcam explain → {json, overlay: {width, height, channels, data (RGB, or RGBA for alpha_scaling)},
// heatmap, grid (with compare: e.g. 'layers:layer3,layer4', the --grid PNG)}
export function cliExplain(image, model, { cls, layer, alpha, size, method, eigenSmooth, augSmooth, metrics, colormap, mode, grey,
  sign, scale, interp, compare } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-cli-'));
  const out = path.join(dir, 'overlay.png'), heat = path.join(dir, 'heat.png'), grid = path.join(dir, 'grid.png');
  const args = ['explain', image, '--model', model, '--json', '-o', out, '--heatmap', heat];
  if (cls != null && cls >= 0) args.push('--class', cls);
  if (layer) args.push('--layer', Array.isArray(layer) ? layer.join(',') : layer);
  if (method) args.push('--method', method);
  if (eigenSmooth) args.push('--eigen-smooth');
  if (augSmooth) args.push('--aug-smooth');
  if (metrics) args.push('--metrics');
  if (alpha != null) args.push('--alpha', alpha);
  if (size) args.push('--size', `${size}x${size}`);
  if (colormap) args.push('--colormap', colormap);
  if (mode) args.push('--mode', mode);
  if (grey) args.push('--grey');
  if (sign) args.push('--sign', sign);
  if (scale) args.push('--scale', scale);
  if (interp) args.push('--interp', interp);
  if (compare) args.push('--compare', compare, '--grid', grid);
  try {
    const json = JSON.parse(cli(args).trim().split('\n').pop());
    const r = { json, overlay: decodePng(fs.readFileSync(out)), heatmap: decodePng(fs.readFileSync(heat)) };
    if (compare) r.grid = decodePng(fs.readFileSync(grid));
    return r;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Tile i of a --compare grid of n tiles, each w x h (render.c's gc_render_grid: 8 px margins and gaps,
// n <= 5 tiles a row else half of them, two 9 px lines of label + 4 px under each tile) → RGB image.
export function gridTile(grid, n, i, w, h) {
  const cols = n <= 5 ? n : Math.ceil(n / 2), x0 = 8 + (i % cols) * (w + 8), y0 = 8 + Math.floor(i / cols) * (h + 4 + 18 + 8);
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = grid.data[((y0 + y) * grid.width + x0 + x) * grid.channels + c];
    }
  }
  return { width: w, height: h, channels: 3, data };
}

export function cliTop(image, model) {
  return JSON.parse(cli(['classify', image, '--model', model, '--top', '5', '--json']).trim()).top;
}

// A minimal PNG decoder (8-bit, non-interlaced, grey/RGB/RGBA), enough for the CLI's output.
export function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let p = 8, w = 0, h = 0, type = 0;
  const idat = [];
  while (p < buf.length) {
    const len = buf.readUInt32BE(p), kind = buf.toString('latin1', p + 4, p + 8), body = buf.subarray(p + 8, p + 8 + len);
    if (kind === 'IHDR') {
      w = body.readUInt32BE(0); h = body.readUInt32BE(4); type = body[9];
      if (body[8] !== 8 || body[12] !== 0) throw new Error('unsupported PNG (bit depth or interlace)');
    } else if (kind === 'IDAT') idat.push(body);
    p += 12 + len;
  }
  const ch = { 0: 1, 2: 3, 4: 2, 6: 4 }[type];
  const raw = zlib.inflateSync(Buffer.concat(idat)), stride = w * ch;
  const out = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= ch ? out[y * stride + x - ch] : 0, b = y ? out[(y - 1) * stride + x] : 0, c = x >= ch && y ? out[(y - 1) * stride + x - ch] : 0;
      let v = line[x];
      if (f === 1) v += a; else if (f === 2) v += b; else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) { const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      out[y * stride + x] = v & 255;
    }
  }
  return { width: w, height: h, channels: ch, data: out };
}

// RGBA pixels of a canvas of the page (by element id, or a selector inside a shadow root via fn).
export async function canvasPixels(page, id) {
  const r = await page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
    return { width: c.width, height: c.height, b64: btoa(s) };
  }, id);
  return { width: r.width, height: r.height, data: Buffer.from(r.b64, 'base64') };
}

// Largest per-channel difference between canvas RGBA and a PNG's RGB(A).
export function maxDiff(rgba, png) {
  if (rgba.width !== png.width || rgba.height !== png.height) return Infinity;
  let m = 0;
  for (let i = 0, n = png.width * png.height; i < n; i++) {
    for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(rgba.data[i * 4 + c] - png.data[i * png.channels + c]));
  }
  return m;
}

export async function waitExplained(page, before, timeout = 60000) {
  await page.waitForFunction((n) => Number(document.body.dataset.explained || 0) > n, before, { timeout });
  return page.evaluate(() => Number(document.body.dataset.explained));
}

export const explainedCount = (page) => page.evaluate(() => Number(document.body.dataset.explained || 0));
export const errorCount = (page) => page.evaluate(() => Number(document.body.dataset.errors || 0));

// out/<name>, or out/<name>-firefox.png in Firefox (both browsers' shots side by side).
export function screenshotPath(name) {
  fs.mkdirSync(OUT, { recursive: true });
  return path.join(OUT, BROWSER === 'chromium' ? name : name.replace(/(\.\w+)?$/, `-${BROWSER}$1`));
}

// The label list the page shows for the test model (the count matches: ImageNet's 1000 names).
export function labelsOf(site) {
  const lines = fs.readFileSync(site.labels, 'utf8').split('\n').map((s) => s.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

// The offline shapes model and a scene it knows, in the built site; `skip` says why a suite cannot run.
export const SHAPES_MODEL = path.join(WEB, 'models', 'shapes', 'resnet18-shapes.safetensors');
export const SHAPES_IMAGE = path.join(WEB, 'samples', 'shapes-1.png');
export const shapesSkip = fs.existsSync(SHAPES_MODEL) ? false
  : `no shapes model at ${path.relative(ROOT, SHAPES_MODEL)} (train it, then rebuild the site)`;

// A suite's shared set-up: dir served, one browser with one page (page errors logged). Close with
// closeSuite; its exit timer keeps a stuck browser from holding the test run.
export async function openSuite(dir) {
  need();
  const srv = await serve(dir);
  const browser = await launch();
  const page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  return { srv, browser, page };
}
export async function closeSuite({ srv, browser } = {}) {
  setTimeout(() => process.exit(process.exitCode ?? 1), 20000).unref();
  await srv?.stop();
  await browser?.close();
}
