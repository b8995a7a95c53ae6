// page.test.mjs: index.html in headless Chromium against the CLI (build/gradcam) on the same model.
//
// One browser, one server and one temporary site for the whole file (the tests run in order and
// share the browser profile, so the Cache API and the service worker carry over from test to test,
// as for a person using the page). Every request of every test is recorded; the last test checks them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';
import * as h from './helpers.mjs';

let site, srv, browser, log, page, base;
const T = 180000; // per test: generous for a 2-core machine shared with other work
const MODEL_QS = 'index.html?model=models/test/seeded.safetensors&labels=models/test/labels.txt';

before(async () => {
  site = h.makeSite();
  srv = await h.serve(site.dir);
  base = srv.url;
  browser = await h.launch();
  log = h.recordRequests(browser.context);
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  // Keep every text the model status line shows (the download progress passes quickly).
  await page.addInitScript(() => document.addEventListener('DOMContentLoaded', () => {
    const s = document.getElementById('model-status');
    window.statusLog = [];
    new MutationObserver(() => window.statusLog.push(s.textContent)).observe(s, { childList: true, characterData: true, subtree: true });
  }));
});

after(async () => {
  // Never let a stuck browser keep the run alive: the runner waits for this process to end.
  setTimeout(() => process.exit(process.exitCode ?? 1), 20000).unref();
  await srv?.stop();
  site?.cleanup();
  await browser?.close();
});

async function openWithModel(qs = MODEL_QS) {
  await page.goto(base + qs);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 90000 });
}

async function pickImage(file) {
  const n = await h.explainedCount(page);
  await page.setInputFiles('#image-file', file);
  return h.waitExplained(page, n);
}

// The overlay canvas against the CLI's overlay for the same settings: ±2 per channel.
async function assertMatchesCli(image, opts, model = site.st) {
  const ref = h.cliExplain(image, model, opts);
  const px = await h.canvasPixels(page, 'overlay');
  const d = h.maxDiff(px, ref.overlay);
  assert.ok(d <= 2, `overlay differs from the CLI's by up to ${d} (class ${opts.cls}, layer ${opts.layer})`);
  return { ref, px };
}

const topOnPage = () => page.$$eval('#top5-list input', (els) => els.map((e) => ({ index: Number(e.value), prob: Number(e.dataset.prob), checked: e.checked })));
const caption = () => page.textContent('#caption');

test('both.png: top-5 and overlay equal the CLI', { timeout: T }, async () => {
  await openWithModel();
  const mb = (fs.statSync(site.st).size / 1048576).toFixed(1);
  const shown = await page.evaluate(() => window.statusLog);
  assert.ok(shown.some((s) => new RegExp(`^seeded\\.safetensors: \\d+\\.\\d / ${mb} MB$`).test(s)), `download progress shown: ${shown.join(' | ')}`);
  assert.equal(await page.$eval('#model-progress', (p) => p.value === p.max && p.max > 0), true);
  await pickImage(h.BOTH);
  const top = await topOnPage();
  const ref = h.cliTop(h.BOTH, site.st);
  assert.deepEqual(top.map((t) => t.index), ref.map((t) => t.index));
  top.forEach((t, i) => assert.ok(Math.abs(t.prob - ref[i].prob) < 1e-5, `prob of ${t.index}: ${t.prob} vs CLI ${ref[i].prob}`));
  assert.ok(top[0].checked, 'the top-1 class is the one explained');
  await assertMatchesCli(h.BOTH, {});
  assert.match(await page.textContent('#timings'), /forward [\d.]+ ms · backward [\d.]+ ms · render [\d.]+ ms/);
  await page.screenshot({ path: h.screenshotPath('page-both.png'), fullPage: true });
  // Every control has a name a screen reader can say.
  const unnamed = await page.$$eval('input, select, button, progress', (els) => els.filter((e) => {
    if (e.closest('[hidden]')) return false;
    const byLabel = e.id && document.querySelector(`label[for="${e.id}"]`);
    return !(byLabel || e.closest('label') || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e.tagName === 'BUTTON' && e.textContent.trim()));
  }).map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
});

test('switching class and layer re-renders and matches the CLI', { timeout: T }, async () => {
  const before = await h.canvasPixels(page, 'overlay');
  const top = await topOnPage();
  const cls = top[2].index;
  let n = await h.explainedCount(page);
  await page.check(`#cls-${cls}`);
  n = await h.waitExplained(page, n);
  const a = await assertMatchesCli(h.BOTH, { cls });
  assert.notDeepEqual(a.px.data, before.data, 'the overlay changed with the class');
  await page.selectOption('#layer', 'layer2.0');
  n = await h.waitExplained(page, n);
  const b = await assertMatchesCli(h.BOTH, { cls, layer: 'layer2.0' });
  assert.notDeepEqual(b.px.data, a.px.data, 'the overlay changed with the layer');
  assert.match(await caption(), /layer2\.0$/);
  await page.selectOption('#layer', 'conv1');
  n = await h.waitExplained(page, n);
  await assertMatchesCli(h.BOTH, { cls, layer: 'conv1' });
  // Keyboard: arrow keys move through the classes, and the focus survives the re-render.
  await page.focus(`#cls-${cls}`);
  await page.keyboard.press('ArrowDown');
  n = await h.waitExplained(page, n);
  assert.equal(await page.evaluate(() => document.activeElement.id), `cls-${top[3].index}`);
  await page.keyboard.press('ArrowDown');
  await h.waitExplained(page, n);
  assert.equal(await page.evaluate(() => document.activeElement.id), `cls-${top[4].index}`);
  await assertMatchesCli(h.BOTH, { cls: top[4].index, layer: 'conv1' });
});

test('search box, opacity and model input size match the CLI', { timeout: T }, async () => {
  let n = await h.explainedCount(page);
  await page.fill('#class-search', 'tiger cat');
  await page.press('#class-search', 'Enter');
  n = await h.waitExplained(page, n);
  assert.match(await caption(), /^tiger cat /);
  await page.selectOption('#layer', 'layer4');
  n = await h.waitExplained(page, n);
  await assertMatchesCli(h.BOTH, { cls: 282 });
  await page.$eval('#opacity', (e) => { e.value = '70'; e.dispatchEvent(new Event('input')); });
  n = await h.waitExplained(page, n);
  await assertMatchesCli(h.BOTH, { cls: 282, alpha: 0.3 });
  await page.selectOption('#input-size', '160');
  n = await h.waitExplained(page, n);
  await assertMatchesCli(h.BOTH, { cls: 282, alpha: 0.3, size: 160 });
  // back to the defaults for the tests that follow
  await page.selectOption('#input-size', ''); // the model's own: 224×224
  n = await h.waitExplained(page, n);
  await page.$eval('#opacity', (e) => { e.value = '50'; e.dispatchEvent(new Event('input')); });
  await h.waitExplained(page, n);
});

test('a reload takes the weights from the Cache API, not the network', { timeout: T }, async () => {
  const weightsFetched = () => log.filter((r) => r.url.endsWith('/models/test/seeded.safetensors') && r.method === 'GET').length;
  const before = weightsFetched();
  assert.ok(before >= 1);
  await openWithModel();
  assert.equal(weightsFetched(), before, 'the weights were downloaded again');
  assert.ok((await page.evaluate(() => window.statusLog)).some((s) => /MB from the cache$/.test(s)));
  assert.match(await page.textContent('#model-status'), /ready/);
  await pickImage(h.BOTH);
  await assertMatchesCli(h.BOTH, {});
  // A new file on the server (its ETag changes) is downloaded again.
  const f = path.join(site.dir, 'models', 'test', 'seeded.safetensors');
  const t = new Date(Date.now() + 5000);
  fs.utimesSync(f, t, t);
  await openWithModel();
  assert.equal(weightsFetched(), before + 1, 'a changed file must be fetched again');
});

test('a model served gzip-encoded (its Content-Length counting the compressed bytes) loads and explains like the file', { timeout: T }, async () => {
  fs.mkdirSync(path.join(site.dir, 'models', 'gz'));
  fs.writeFileSync(path.join(site.dir, 'models', 'gz', 'seeded.safetensors.gz'), zlib.gzipSync(fs.readFileSync(site.st), { level: 1 }));
  const head = await fetch(base + 'models/gz/seeded.safetensors', { method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(head.headers.get('content-encoding'), 'gzip', 'scripts/serve sends the .gz');
  assert.ok(Number(head.headers.get('content-length')) < fs.statSync(site.st).size);
  await openWithModel('index.html?model=models/gz/seeded.safetensors&labels=models/test/labels.txt');
  assert.ok(log.some((r) => r.url.endsWith('/models/gz/seeded.safetensors') && r.method === 'GET'));
  await pickImage(h.BOTH);
  await assertMatchesCli(h.BOTH, {});
});

test('download buttons give the overlay and the three-panel PNG (with its legend)', { timeout: T }, async () => {
  await pickImage(h.BOTH);
  for (const [id, name, w, h2] of [['#dl-overlay', 'gradcam-overlay.png', 224, 224], ['#dl-panel', 'gradcam-panel.png', 3 * 224 + 32, 224 + 16 + 12 + 20 + 28]]) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
    assert.equal(dl.suggestedFilename(), name);
    const png = h.decodePng(fs.readFileSync(await dl.path()));
    assert.deepEqual([png.width, png.height], [w, h2]);
    if (id === '#dl-overlay') assert.ok(h.maxDiff({ width: 224, height: 224, data: (await h.canvasPixels(page, 'overlay')).data }, png) === 0);
  }
});

test('offline after the first visit: the page, engine and model come from the caches', { timeout: T }, async () => {
  await browser.context.setOffline(true);
  try {
    await openWithModel();
    await pickImage(h.BOTH);
    await assertMatchesCli(h.BOTH, {});
  } finally {
    await browser.context.setOffline(false);
  }
});

test('drop and paste an image', { timeout: T }, async () => {
  await openWithModel();
  const b64 = fs.readFileSync(h.BOTH).toString('base64');
  let n = await h.explainedCount(page);
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'both.png', { type: 'image/png' }));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, b64);
  n = await h.waitExplained(page, n);
  await assertMatchesCli(h.BOTH, {});
  await page.evaluate(() => { const c = document.getElementById('overlay'); c.getContext('2d').clearRect(0, 0, c.width, c.height); });
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
    // Firefox's ClipboardEvent constructor drops a clipboardData's files: set it on the event instead.
    const ev = new ClipboardEvent('paste', { bubbles: true, cancelable: true });
    Object.defineProperty(ev, 'clipboardData', { value: dt });
    document.dispatchEvent(ev);
  }, b64);
  await h.waitExplained(page, n);
  await assertMatchesCli(h.BOTH, {});
});

test('the ImageNet model is offered when the site has it, and explains like the CLI', { timeout: T }, async () => {
  await page.goto(base + 'index.html');
  await page.waitForFunction(() => !document.querySelector('#model-select option[value=imagenet]').disabled, null, { timeout: 30000 });
  await page.selectOption('#model-select', 'imagenet');
  await page.waitForFunction(() => /^ImageNet model: ready, resnet18, 1000 classes/.test(document.getElementById('model-status').textContent), null, { timeout: 90000 });
  await pickImage(h.BOTH);
  await assertMatchesCli(h.BOTH, {});
  assert.match(await caption(), new RegExp(`^${h.labelsOf(site)[h.cliTop(h.BOTH, site.st)[0].index]} `));
});

test('.pth and .safetensors picked on the page give the CLI result', { timeout: T }, async () => {
  // No model in the URL: the built-in shapes model is not in this site, so the page starts with an
  // error banner and must still take a model from the file picker.
  await page.goto(base + 'index.html');
  await page.waitForFunction(() => Number(document.body.dataset.errors || 0) > 0, null, { timeout: 60000 });
  assert.match(await page.textContent('#banner-text'), /Shapes model: cannot fetch .*404/);
  for (const file of [site.pth, site.st]) {
    await page.selectOption('#model-select', 'own');
    await page.setInputFiles('#model-file', file);
    await page.waitForFunction((name) => document.getElementById('model-status').textContent.startsWith(`${name}: ready`), path.basename(file), { timeout: 90000 });
    await pickImage(h.BOTH);
    await assertMatchesCli(h.BOTH, {});
    assert.deepEqual((await topOnPage()).map((t) => t.index), h.cliTop(h.BOTH, site.st).map((t) => t.index));
  }
});

test('truncated weights and a corrupt image show the banner; the page keeps working', { timeout: T }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-bad-'));
  try {
    const trunc = path.join(tmp, 'truncated.safetensors');
    fs.writeFileSync(trunc, fs.readFileSync(site.st).subarray(0, 10 << 20));
    const corrupt = path.join(tmp, 'corrupt.png');
    fs.writeFileSync(corrupt, Buffer.concat([fs.readFileSync(h.BOTH).subarray(0, 200), Buffer.alloc(500, 7)]));
    const truncPth = path.join(tmp, 'truncated.pth');
    fs.writeFileSync(truncPth, fs.readFileSync(site.pth).subarray(0, 5 << 20));

    await openWithModel();
    await page.selectOption('#model-select', 'own');
    for (const [file, re] of [[trunc, /^truncated\.safetensors: .+/], [truncPth, /^truncated\.pth: .*(truncated|corrupt)/i]]) {
      await page.setInputFiles('#model-file', file);
      await page.waitForFunction((re) => new RegExp(re, 'i').test(document.getElementById('banner-text').textContent), re.source, { timeout: 60000 });
      assert.equal(await page.isVisible('#banner'), true);
      const msg = await page.textContent('#banner-text');
      assert.ok(!msg.includes('\n'), 'one line');
    }
    const errs = await h.errorCount(page);
    await page.setInputFiles('#image-file', corrupt);
    await page.waitForFunction((e) => Number(document.body.dataset.errors || 0) > e, errs, { timeout: 30000 });
    assert.match(await page.textContent('#banner-text'), /cannot decode 'corrupt\.png'/);
    await page.screenshot({ path: h.screenshotPath('page-error.png') });
    // The previous model is still loaded; a good image explains as before.
    await pickImage(h.BOTH);
    assert.equal(await page.isVisible('#banner'), false, 'the banner goes once things work again');
    await assertMatchesCli(h.BOTH, {});
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('webcam mode explains frames from the (fake) camera', { timeout: T }, async () => {
  await openWithModel();
  const errs = await h.errorCount(page);
  await page.click('#webcam');
  await page.waitForFunction(() => Number(document.body.dataset.webcamFrames || 0) >= 20, null, { timeout: 150000 });
  await page.click('#webcam');
  assert.equal(await h.errorCount(page), errs, await page.textContent('#banner-text'));
  assert.match(await page.textContent('#webcam-status'), /\d+ frames/);
  const px = await h.canvasPixels(page, 'overlay');
  assert.ok(px.width > 0 && px.height > 0);
  await page.screenshot({ path: h.screenshotPath('page-webcam.png') });
});

test('without WebAssembly SIMD the page says so in the banner', { timeout: T }, async () => {
  const p = await browser.context.newPage();
  try {
    await p.addInitScript(() => { WebAssembly.validate = () => false; });
    await p.goto(base + MODEL_QS);
    await p.waitForFunction(() => Number(document.body.dataset.errors || 0) > 0, null, { timeout: 30000 });
    assert.match(await p.textContent('#banner-text'), /does not support WebAssembly SIMD/);
  } finally {
    await p.close();
  }
});

test('the engine worker is bound by the page CSP: it cannot reach another origin', {
  timeout: T, skip: h.skipIn('firefox', 'its WebDriver BiDi cannot evaluate in a worker (script.callFunction: no such frame)'),
}, async () => {
  await openWithModel();
  // The engine's own worker (blob: URL). A threaded engine's pthread workers sit blocked in
  // Atomics.wait between jobs and cannot evaluate anything; they load from the site with its CSP header.
  const workers = page.workers().filter((w) => w.url().startsWith('blob:'));
  assert.ok(workers.length >= 1, `the engine worker is running (${page.workers().map((w) => w.url()).join(', ')})`);
  const n = log.length;
  for (const w of workers) {
    const r = await w.evaluate(async () => {
      try {
        await fetch('http://127.0.0.2:9/leak?x=1');
        return 'fetched';
      } catch (e) {
        return String(e);
      }
    });
    assert.match(r, /Failed to fetch/);
  }
  assert.ok(!log.slice(n).some((r) => r.url.includes('127.0.0.2')), 'the request must not even be attempted');
});

test('privacy: every request was same-origin, a plain GET/HEAD, and carried no image data', { timeout: T }, () => {
  const origin = new URL(base).origin;
  assert.ok(log.length > 10, 'requests were recorded');
  for (const r of log) {
    const u = new URL(r.url);
    assert.ok(u.origin === origin || u.protocol === 'blob:' && r.url.startsWith(`blob:${origin}/`), `cross-origin request ${r.url}`);
    assert.ok(r.method === 'GET' || r.method === 'HEAD', `${r.method} ${r.url}`);
    assert.equal(r.postData, null, `request body on ${r.url}`);
    assert.ok(r.url.length < 200, `suspiciously long URL ${r.url.slice(0, 80)}…`);
    assert.ok(!/data:|base64/i.test(u.pathname + u.search), `image data in ${r.url}`);
  }
  const paths = new Set(log.filter((r) => !r.url.startsWith('blob:')).map((r) => new URL(r.url).pathname));
  const allowed = /^\/(|index\.html|embed\.html|[\w.-]+\.(js|css|wasm)|samples\/[\w.-]+|models\/index\.json|models\/\w+\/[\w.-]+)$/;
  for (const p of paths) assert.match(p, allowed, `unexpected request path ${p}`);
});
