// embed.test.mjs: embed.html's two <grad-cam-viewer>s each fire gradcam-done with the CLI's top-1,
// a viewer's CAM and overlay follow its attributes; and the public API (gradcam.js) used directly,
// with each engine the site has (plain, and threaded when built), gives the CLI's overlay.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

let site, srv, browser, page;

before(async () => {
  site = h.makeSite();
  srv = await h.serve(site.dir);
  browser = await h.launch();
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
});

after(async () => {
  setTimeout(() => process.exit(process.exitCode ?? 1), 20000).unref();
  await srv?.stop();
  site?.cleanup();
  await browser?.close();
});

test('embed.html: both viewers fire gradcam-done with the CLI top-1', { timeout: 180000 }, async () => {
  await page.goto(`${srv.url}embed.html?model=models/test/seeded.safetensors&labels=models/test/labels.txt`);
  await page.waitForFunction(() => (window.gradcamEvents || []).length >= 2, null, { timeout: 120000 });
  const events = await page.evaluate(() => window.gradcamEvents);
  assert.deepEqual(events.map((e) => e.type), ['gradcam-done', 'gradcam-done'], JSON.stringify(events));
  const srcs = await page.$$eval('grad-cam-viewer', (vs) => Object.fromEntries(vs.map((v) => [v.id, v.getAttribute('src')])));
  for (const e of events) {
    const ref = h.cliTop(path.join(site.dir, srcs[e.id]), site.st)[0];
    assert.equal(e.top.index, ref.index, `${e.id} top-1`);
    assert.ok(Math.abs(e.top.prob - ref.prob) < 1e-5);
    assert.equal(e.top.label, h.labelsOf(site)[ref.index]);
    assert.equal(e.camLength, e.width * e.height);
    assert.deepEqual([e.width, e.height], [224, 224]);
  }
  await page.screenshot({ path: h.screenshotPath('embed.png'), fullPage: true });
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
  const px = await page.evaluate(() => {
    const c = document.getElementById('v1').shadowRoot.querySelector('canvas');
    return { width: c.width, height: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
  });
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
    assert.equal(r.engine, threads === 1 ? 'gradcam-engine.js' : 'gradcam-engine-mt.js');
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
