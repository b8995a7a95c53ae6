// methods.test.mjs: the CAM method family on the page, in the API and in <grad-cam-viewer>, with the
// default offline shapes model (8 classes: quick). Other methods than Grad-CAM give other heatmaps,
// each equal to the CLI's for the same image, method and layer; a long method (Score-CAM) reports
// progress, stops on Cancel, and the engine works right after. Skipped without the shapes model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

const MODEL = h.SHAPES_MODEL, IMAGE = h.SHAPES_IMAGE, have = !h.shapesSkip, skip = h.shapesSkip;
const T = 180000;
let srv, browser, page;

before(async () => { if (have) ({ srv, browser, page } = await h.openSuite(h.WEB)); });
after(() => h.closeSuite({ srv, browser }));

// Change a control and wait for the explanation that follows (a failure ends the wait with its message).
async function explained(action) {
  const [n, e] = [await h.explainedCount(page), await h.errorCount(page)];
  await action();
  await page.waitForFunction(([n, e]) => Number(document.body.dataset.explained || 0) > n || Number(document.body.dataset.errors || 0) > e,
    [n, e], { timeout: 120000 });
  assert.equal(await h.errorCount(page), e, await page.textContent('#banner-text'));
}

async function assertPageMatchesCli(opts) {
  const ref = h.cliExplain(IMAGE, MODEL, opts);
  const d = h.maxDiff(await h.canvasPixels(page, 'overlay'), ref.overlay);
  assert.ok(d <= 2, `overlay differs from the CLI's by up to ${d} (${JSON.stringify(opts)})`);
  return ref;
}

test('page: HiResCAM at layer3 and Grad-CAM++ differ from Grad-CAM and equal the CLI', { timeout: T, skip }, async () => {
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 120000 });
  const groups = await page.$$eval('#method optgroup', (gs) => gs.map((g) => [...g.children].map((o) => o.value)));
  assert.equal(groups.flat().length, 16);
  assert.equal(await page.inputValue('#method'), 'gradcam');
  await explained(() => page.click('button[aria-label^="Use sample: Generated scene with shapes (1)"]'));
  await explained(() => page.selectOption('#layer', 'layer3'));
  await assertPageMatchesCli({ layer: 'layer3' });
  const gradcam = await h.canvasPixels(page, 'heatmap');

  await explained(() => page.selectOption('#method', 'hirescam'));
  assert.match(await page.textContent('#caption'), / hirescam layer3$/);
  await assertPageMatchesCli({ layer: 'layer3', method: 'hirescam' });
  assert.notDeepEqual((await h.canvasPixels(page, 'heatmap')).data, gradcam.data, 'HiResCAM looks like Grad-CAM');

  // Eigen-smooth is off, and says so, for a method that ignores it; Grad-CAM++ takes it.
  await explained(() => page.selectOption('#method', 'eigencam'));
  assert.equal(await page.isDisabled('#eigen-smooth'), true);
  assert.match(await page.textContent('#eigen-note'), /EigenCAM ignores it/);
  await explained(() => page.selectOption('#method', 'gradcam++'));
  assert.equal(await page.isDisabled('#eigen-smooth'), false);
  await explained(() => page.selectOption('#layer', 'layer4'));
  const pp = await assertPageMatchesCli({ method: 'gradcam++' });
  assert.notDeepEqual(pp.overlay.data, h.cliExplain(IMAGE, MODEL, {}).overlay.data, 'Grad-CAM++ looks like Grad-CAM');
  await explained(() => page.check('#eigen-smooth'));
  assert.match(await page.textContent('#caption'), / gradcam\+\+ \(eigen-smooth\) layer4$/);
  await assertPageMatchesCli({ method: 'gradcam++', eigenSmooth: true });
  await explained(() => page.uncheck('#eigen-smooth'));
  assert.equal(await h.errorCount(page), 0, await page.textContent('#banner-text'));
});

test('page: Metrics shows the CLI\'s numbers for the explanation on show, until it changes', { timeout: T, skip }, async () => {
  await explained(() => page.selectOption('#layer', 'layer3'));
  await explained(() => page.selectOption('#method', 'hirescam'));
  assert.equal(await page.isVisible('#metrics-box'), false);
  await explained(() => page.click('#metrics-btn'));
  assert.equal(await page.isVisible('#metrics-box'), true);
  const shown = await page.$$eval('#metrics dd', (dd) => dd.map((d) => Number(d.textContent)));
  const m = h.cliExplain(IMAGE, MODEL, { layer: 'layer3', method: 'hirescam', metrics: true }).json.metrics;
  const want = [m.cam_mult_image_confidence_change, m.drop_in_confidence, m.increase_in_confidence, m.road_morf_mean, m.road_lerf_mean, m.road_combined];
  shown.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 2e-4, `metric ${i}: page ${v}, CLI ${want[i]}`));
  // Another opacity is the same explanation (redrawn, not recomputed); another layer is not.
  await explained(() => page.$eval('#opacity', (e) => { e.value = '60'; e.dispatchEvent(new Event('input')); }));
  assert.equal(await page.isVisible('#metrics-box'), true);
  await explained(() => page.$eval('#opacity', (e) => { e.value = '50'; e.dispatchEvent(new Event('input')); }));
  await explained(() => page.selectOption('#layer', 'layer4'));
  assert.equal(await page.isVisible('#metrics-box'), false, 'metrics of another explanation are taken down');
});

test('page: Score-CAM shows progress, Cancel stops it, and Grad-CAM works right after', { timeout: T, skip }, async () => {
  await explained(() => page.selectOption('#method', 'gradcam'));
  await explained(() => page.selectOption('#layer', 'layer4'));
  const [n, errors] = [await h.explainedCount(page), await h.errorCount(page)];
  await page.selectOption('#method', 'scorecam');
  await page.waitForSelector('#job:not([hidden])', { timeout: 10000 });
  await page.waitForFunction(() => Number(document.getElementById('job-progress').value) > 0, null, { timeout: 60000 });
  const p1 = Number(await page.$eval('#job-progress', (p) => p.value));
  await page.waitForFunction((p) => Number(document.getElementById('job-progress').value) > p, p1, { timeout: 60000 });
  const p2 = Number(await page.$eval('#job-progress', (p) => p.value));
  assert.ok(p2 > p1 && p2 < 0.5, `progress ${p1} → ${p2}`);
  // The page is live meanwhile: the main thread answers at once.
  const t0 = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
  assert.ok(Date.now() - t0 < 1000, 'the page froze');

  await page.click('#cancel');
  await page.waitForFunction(() => Number(document.body.dataset.cancelled || 0) > 0 && document.body.dataset.busy === '', null, { timeout: 10000 });
  assert.match(await page.textContent('#job-status'), /Score-CAM: cancelled/);
  assert.equal(await h.explainedCount(page), n, 'the cancelled job drew nothing');
  assert.equal(await page.isDisabled('#cancel'), true);
  // Grad-CAM right away: had Score-CAM gone on in the worker (~a minute), this would wait behind it.
  const t1 = Date.now();
  await explained(() => page.selectOption('#method', 'gradcam'));
  assert.ok(Date.now() - t1 < 20000, `Grad-CAM after the cancel took ${Date.now() - t1} ms`);
  assert.equal(await page.isVisible('#job'), false);
  await assertPageMatchesCli({});
  assert.equal(await h.errorCount(page), errors, await page.textContent('#banner-text'));
});

test('API: METHODS, AbortSignal, the newest explain wins, and the instance works after', { timeout: T, skip }, async () => {
  const r = await page.evaluate(async () => {
    const { createGradCam, METHODS, toImageData } = await import('./gradcam.js');
    const gc = await createGradCam({ model: 'models/shapes/resnet18-shapes.safetensors', labels: 'models/shapes/labels.txt' });
    try {
      const img = () => fetch('samples/shapes-1.png').then((res) => res.blob()).then(toImageData);
      await gc.classify(await img());
      const ac = new AbortController();
      const seen = [];
      const long = gc.explain(null, { method: 'scorecam', signal: ac.signal, onProgress: (f) => { seen.push(f); if (seen.length === 3) ac.abort(); } });
      const e1 = await long.then(() => null, (e) => e);
      // A newer explain cancels the running one (its promise rejects) and runs itself.
      const older = gc.explain(null, { method: 'scorecam' }).then(() => null, (e) => e);
      await new Promise((res) => setTimeout(res, 300));
      const newer = await gc.explain(null, { method: 'gradcam' });
      const e2 = await older;
      const ok = await gc.explain(null, { method: 'finercam', layer: 'layer3' });
      return {
        names: METHODS.map((m) => m.name), noEigen: METHODS.filter((m) => !m.eigenSmooth).map((m) => m.name),
        e1: { name: e1?.name, message: e1?.message }, progress: seen, e2: { name: e2?.name, message: e2?.message },
        newer: newer.method, finer: { method: ok.method, compared: ok.compared, classIndex: ok.classIndex },
      };
    } finally {
      gc.dispose();
    }
  });
  assert.deepEqual(r.names, ['gradcam', 'hirescam', 'gradcam++', 'xgradcam', 'layercam', 'gradcamelementwise', 'shapleycam', 'finercam',
    'eigencam', 'eigengradcam', 'segeigencam', 'kpcacam', 'fem', 'scorecam', 'ablationcam', 'fullgrad']);
  assert.deepEqual(r.noEigen, ['eigencam', 'eigengradcam', 'segeigencam', 'kpcacam', 'fem']);
  assert.deepEqual(r.e1, { name: 'AbortError', message: 'cancelled' });
  assert.ok(r.progress.length >= 3 && r.progress.every((f, i) => f > 0 && f < 1 && (!i || f >= r.progress[i - 1])), `progress ${r.progress}`);
  assert.equal(r.e2.name, 'AbortError');
  assert.match(r.e2.message, /^cancelled/);
  assert.equal(r.newer, 'gradcam');
  const ref = h.cliExplain(IMAGE, MODEL, { method: 'finercam', layer: 'layer3' }).json;
  assert.deepEqual(r.finer, { method: 'finercam', compared: ref.finer_compared, classIndex: ref.class });
});

test('<grad-cam-viewer method> re-explains with that method, like the CLI', { timeout: T, skip }, async () => {
  await page.goto(`${srv.url}embed.html`);
  await page.waitForFunction(() => (window.gradcamEvents || []).length >= 2, null, { timeout: 120000 });
  const n = await page.evaluate(() => window.gradcamEvents.length);
  await page.evaluate(() => document.getElementById('v1').setAttribute('method', 'layercam'));
  await page.waitForFunction((n) => window.gradcamEvents.length > n, n, { timeout: 120000 });
  const e = await page.evaluate(() => window.gradcamEvents.at(-1));
  assert.equal(e.type, 'gradcam-done', JSON.stringify(e));
  const px = await page.evaluate(() => {
    const v = document.getElementById('v1');
    const c = v.shadowRoot.querySelector('canvas');
    return { width: c.width, height: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data), caption: v.shadowRoot.querySelector('.caption').textContent };
  });
  assert.match(px.caption, / layercam layer4$/);
  const ref = h.cliExplain(IMAGE, MODEL, { method: 'layercam' });
  const d = h.maxDiff(px, ref.overlay);
  assert.ok(d <= 2, `viewer overlay differs from the CLI's LayerCAM by ${d}`);
  assert.ok(h.maxDiff(px, h.cliExplain(IMAGE, MODEL, {}).overlay) > 2, 'LayerCAM looks like Grad-CAM');
});
