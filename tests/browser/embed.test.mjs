// embed.test.mjs: embed.html's <grad-cam-viewer>s share one engine (the weights are downloaded once);
// the two at the top fire load then gradcam-done with the CLI's top-1 while the lazy one far below
// fetches nothing until scrolled to, then renders the CLI's overlay; a viewer's CAM and overlay follow
// its attributes; and the public API (gradcam.js) used directly, with each engine the site has (plain,
// and threaded when built), gives the CLI's overlay.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

let site, srv, browser, page, requests;

before(async () => {
  site = h.makeSite();
  srv = await h.serve(site.dir);
  browser = await h.launch();
  requests = h.recordRequests(browser.context);
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
});

after(async () => {
  setTimeout(() => process.exit(process.exitCode ?? 1), 20000).unref();
  await srv?.stop();
  site?.cleanup();
  await browser?.close();
});

const weightGets = () => requests.filter((r) => r.method === 'GET' && /seeded\.safetensors$/.test(r.url)).length;
const canvasOf = (id) => page.evaluate((id) => {
  const c = document.getElementById(id).shadowRoot.querySelector('canvas');
  return { width: c.width, height: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
}, id);

test('embed.html: the viewers share one download, fire load then gradcam-done with the CLI top-1; the lazy one waits', { timeout: 180000 }, async () => {
  requests.length = 0;
  await page.goto(`${srv.url}embed.html?model=models/test/seeded.safetensors&labels=models/test/labels.txt`);
  await page.waitForFunction(() => (window.gradcamEvents || []).length >= 2, null, { timeout: 120000 });
  const events = await page.evaluate(() => window.gradcamEvents);
  assert.deepEqual(events.map((e) => e.type), ['gradcam-done', 'gradcam-done'], JSON.stringify(events));
  assert.deepEqual(events.map((e) => e.id).sort(), ['v1', 'v2']);
  const srcs = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('grad-cam-viewer')].map((v) => [v.id, v.getAttribute('src')])));
  for (const e of events) {
    const ref = h.cliTop(path.join(site.dir, srcs[e.id]), site.st)[0];
    assert.equal(e.top.index, ref.index, `${e.id} top-1`);
    assert.ok(Math.abs(e.top.prob - ref.prob) < 1e-5);
    assert.equal(e.top.label, h.labelsOf(site)[ref.index]);
    assert.equal(e.camLength, e.width * e.height);
    assert.deepEqual([e.width, e.height], [224, 224]);
  }
  const seen = await page.evaluate(() => window.viewerEvents.filter((e) => e.type !== 'progress').map((e) => `${e.id} ${e.type}`));
  for (const id of ['v1', 'v2']) assert.deepEqual(seen.filter((x) => x.startsWith(`${id} `)), [`${id} load`, `${id} gradcam-done`]);
  // v3, far below: nothing asked for yet; one shared engine: the weights came once.
  assert.deepEqual(requests.filter((r) => r.url.endsWith(srcs.v3)).map((r) => r.url), [], 'the lazy viewer fetched its image');
  assert.equal(await page.evaluate(() => document.getElementById('v3').result), null);
  assert.equal(weightGets(), 1, 'two viewers of one model downloaded the weights more than once');
  await page.screenshot({ path: h.screenshotPath('embed.png'), fullPage: true });
  await page.evaluate(() => document.getElementById('v3').scrollIntoView());
  await page.waitForFunction(() => window.gradcamEvents.some((e) => e.id === 'v3'), null, { timeout: 120000 });
  const e3 = await page.evaluate(() => window.gradcamEvents.find((e) => e.id === 'v3'));
  assert.equal(e3.type, 'gradcam-done', JSON.stringify(e3));
  assert.equal(requests.filter((r) => r.url.endsWith(srcs.v3)).length, 1);
  assert.equal(weightGets(), 1, 'the lazy viewer downloaded the weights again');
  const ref = h.cliExplain(path.join(site.dir, srcs.v3), site.st, { method: 'gradcam++' });
  assert.equal(e3.explained.index, ref.json.class);
  const d = h.maxDiff(await canvasOf('v3'), ref.overlay);
  assert.ok(d <= 2, `the lazy viewer's overlay differs from the CLI's by ${d}`);
});

test('a viewer re-runs when its attributes change, and its CAM matches the CLI', { timeout: 180000 }, async () => {
  const n = await page.evaluate(() => window.gradcamEvents.length);
  await page.evaluate(() => {
    const v = document.getElementById('v1');
    v.setAttribute('src', 'samples/both.png');
    v.setAttribute('layer', 'layer3.1');
    v.setAttribute('target-class', '282');
    window.lastCam = null;
    v.addEventListener('gradcam-done', (e) => { window.lastCam = Array.from(e.detail.cam.subarray(0, 224 * 3)); }, { once: true });
  });
  await page.waitForFunction((n) => window.gradcamEvents.length > n, n, { timeout: 120000 });
  const e = await page.evaluate(() => window.gradcamEvents.at(-1));
  assert.equal(e.type, 'gradcam-done');
  assert.equal(e.explained.index, 282);
  const ref = h.cliExplain(path.join(site.dir, 'samples', 'both.png'), site.st, { cls: 282, layer: 'layer3.1' });
  assert.equal(ref.json.class, 282);
  const px = await canvasOf('v1');
  const d = h.maxDiff({ width: px.width, height: px.height, data: px.data }, ref.overlay);
  assert.ok(d <= 2, `viewer overlay differs from the CLI by ${d}`);
  const cam = await page.evaluate(() => window.lastCam);
  assert.equal(cam.length, 224 * 3);
  assert.ok(cam.every((v) => v >= 0 && v <= 1));
});

test('gradcam.js API: classify/explain/dispose with each engine equal the CLI', { timeout: 180000 }, async () => {
  const ref = h.cliExplain(path.join(site.dir, 'samples', 'both.png'), site.st, { cls: 282, layer: 'layer3' });
  const refTop = h.cliTop(path.join(site.dir, 'samples', 'both.png'), site.st);
  const engines = [1];
  if (fs.existsSync(path.join(site.dir, 'gradcam-engine-mt.js'))) engines.push(2);
  for (const threads of engines) {
    const r = await page.evaluate(async (threads) => {
      const { createGradCam, toImageData } = await import('./gradcam.js');
      const gc = await createGradCam({ model: 'models/test/seeded.safetensors', labels: 'models/test/labels.txt', threads });
      const blob = await (await fetch('samples/both.png')).blob();
      const c = await gc.classify(await toImageData(blob));
      const img = await toImageData(blob);
      const e = await gc.explain(img, { classIndex: 282, layer: 'layer3', alpha: 0.5 });
      const kept = img.data.length === 224 * 224 * 4; // copied by default: the caller's ImageData stays whole
      const img2 = await toImageData(blob);
      await gc.explain(img2, { classIndex: 282, layer: 'layer3', transfer: true });
      const detached = img2.data.length === 0; // {transfer: true}: handed over, not copied
      let badLayer = '';
      await gc.explain(null, { layer: 'layer9' }).catch((err) => { badLayer = err.message; });
      const again = await gc.explain(null, { classIndex: 282, layer: 'layer3' }); // still usable after an error
      gc.dispose();
      let afterDispose = '';
      await gc.classify(await toImageData(blob)).catch((err) => { afterDispose = err.message; });
      return { engine: gc.engine, top: c.top, numClasses: gc.numClasses, label: e.label, kept, detached, badLayer, afterDispose,
        same: again.overlay.data.every((v, i) => v === e.overlay.data[i]), overlay: Array.from(e.overlay.data), w: e.width, h: e.height };
    }, threads);
    const rx = fs.existsSync(path.join(site.dir, 'gradcam-engine-relaxed.wasm')) ? '-relaxed' : ''; // both browsers run it
    assert.equal(r.engine, threads === 1 ? `gradcam-engine${rx}.js` : `gradcam-engine${rx}-mt.js`);
    assert.deepEqual(r.top.map((t) => t.index), refTop.map((t) => t.index));
    assert.equal(r.numClasses, 1000);
    assert.equal(r.label, 'tiger cat');
    assert.ok(r.kept, 'the ImageData was copied, not transferred, by default');
    assert.ok(r.detached, 'with transfer: true the ImageData buffer was handed to the worker');
    assert.match(r.badLayer, /^unknown layer 'layer9'/);
    assert.ok(r.same);
    assert.match(r.afterDispose, /disposed/);
    const d = h.maxDiff({ width: r.w, height: r.h, data: r.overlay }, ref.overlay);
    assert.ok(d <= 2, `${r.engine}: overlay differs from the CLI by ${d}`);
  }
});
