// shared.test.mjs: createGradCam({shared: true}) — the engine <grad-cam-viewer> uses. Instances of the
// same model share one worker and one model copy (the weights are fetched once), yet each keeps its
// own image, input size and explanation: interleaved calls give exactly what separate engines give,
// one instance's explain does not cancel another's, dispose() lets go of one reference only, and the
// worker ends (and a new instance starts a fresh one) after the last.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

let site, suite, page, requests;

before(async () => {
  site = h.makeSite();
  // A page without the site's CSP or scripts: the test drives gradcam.js itself.
  fs.writeFileSync(path.join(site.dir, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>shared engine</title>');
  suite = await h.openSuite(site.dir);
  page = suite.page;
  requests = h.recordRequests(suite.browser.context);
  await page.goto(`${suite.srv.url}blank.html`);
});

after(async () => {
  await h.closeSuite(suite);
  site?.cleanup();
});

const weightFetches = () => requests.filter((r) => r.method === 'GET' && /seeded\.safetensors$/.test(r.url)).length;

test('shared instances: one download, one worker, and each instance its own image and explanation', { timeout: 180000 }, async () => {
  await page.evaluate(async () => {
    // Count the workers gradcam.js starts (the engine's own pthread workers are started inside it).
    const W = window.Worker;
    window.workersStarted = 0;
    window.Worker = class extends W { constructor(...a) { super(...a); window.workersStarted++; } };
    const g = await import('./gradcam.js');
    const opts = { model: 'models/test/seeded.safetensors', labels: 'models/test/labels.txt', threads: 1 };
    // Three at once: they must join one download and one engine.
    window.keep = await Promise.all([1, 2, 3].map(() => g.createGradCam({ ...opts, shared: true })));
  });
  assert.equal(weightFetches(), 1, JSON.stringify(requests.filter((q) => /safetensors/.test(q.url))));
  assert.equal(await page.evaluate(() => window.workersStarted), 1, 'one worker for the three instances');
  const r = await page.evaluate(async () => {
    const g = await import('./gradcam.js');
    const img = async (f) => g.toImageData(await (await fetch(f)).blob());
    const [a, b] = [await img('samples/shapes-1.png'), await img('samples/both.png')];
    const [s1, s2, s3] = window.keep;
    const solo = await g.createGradCam({ model: 'models/test/seeded.safetensors', threads: 1 }); // its own worker: the reference
    const pick = (x) => ({ cls: x.classIndex, prob: x.prob, cam: Array.from(x.cam), overlay: Array.from(x.overlay.data) });
    // Interleaved: s1 and s2 hold different images; each explain(null) must use its own.
    await s1.classify(a);
    await s2.classify(b);
    const e1 = pick(await s1.explain(null, { layer: 'layer3' }));
    const e2 = pick(await s2.explain(null, { layer: 'layer4', classIndex: 3 }));
    // Sent together: both finish (in the old per-worker rule the newer one would cancel the older).
    const [c1, c2] = (await Promise.all([s1.explain(null, { method: 'gradcam++' }), s2.explain(null, { method: 'gradcam++' })])).map(pick);
    const ref = {
      e1: pick(await solo.explain(a, { layer: 'layer3' })), c1: pick(await solo.explain(null, { method: 'gradcam++' })),
      e2: pick(await solo.explain(b, { layer: 'layer4', classIndex: 3 })), c2: pick(await solo.explain(null, { method: 'gradcam++' })),
    };
    // A third instance with another input size, between the other two.
    await s3.setInputSize(160, 160);
    const small = await s3.explain(a, {});
    // s1's explanation again, only in another style, after s2 and s3 used the engine: redrawn from
    // what s1 kept, not computed again.
    const restyled = await s1.explain(null, { method: 'gradcam++', colormap: 'viridis' }); // s1's last: c1
    const again1 = { ...pick(await s1.explain(null, { layer: 'layer3' })), reused: restyled.reused, restyledCam: Array.from(restyled.cam) };
    solo.dispose();
    const workers = [s1, s2, s3].map((s) => s.shared);
    window.keep = { s1, s2, s3 };
    return { e1, e2, c1, c2, ref, again1, workers, small: [small.camWidth, small.camHeight], engine: s1.engine };
  });
  assert.deepEqual(r.workers, [true, true, true]);
  for (const k of ['e1', 'e2', 'c1', 'c2']) {
    assert.equal(r[k].cls, r.ref[k].cls, k);
    assert.equal(r[k].prob, r.ref[k].prob, k);
    assert.deepEqual(r[k].cam, r.ref[k].cam, `${k}: the shared engine's CAM equals a separate engine's`);
    assert.deepEqual(r[k].overlay, r.ref[k].overlay, k);
  }
  assert.notDeepEqual(r.e1.cam, r.e2.cam);
  assert.deepEqual(r.again1.cam, r.e1.cam, 's1 again after s2 and s3 used the engine');
  assert.deepEqual(r.again1.overlay, r.e1.overlay);
  assert.equal(r.again1.reused, true, "a style change of s1's explanation after other instances ran: a redraw only");
  assert.deepEqual(r.again1.restyledCam, r.c1.cam);
  assert.deepEqual(r.small, [160, 160]);
  assert.equal(await page.evaluate(() => window.workersStarted), 2, 'the shared worker and the solo one');
});

test('dispose lets go of one reference; the worker ends with the last, and a new instance starts afresh', { timeout: 120000 }, async () => {
  const r = await page.evaluate(async () => {
    const g = await import('./gradcam.js');
    const { s1, s2, s3 } = window.keep;
    s1.dispose();
    let afterDispose;
    try { await s1.classify(new ImageData(8, 8)); } catch (e) { afterDispose = e.message; }
    const still = (await s2.explain(null, {})).classIndex; // s2 keeps working
    s2.dispose(); s3.dispose();
    await new Promise((res) => setTimeout(res, 1500));
    const dead = s3.dead;
    const fresh = await g.createGradCam({ model: 'models/test/seeded.safetensors', threads: 1, shared: true });
    const again = await fresh.classify(await g.toImageData(await (await fetch('samples/both.png')).blob()));
    fresh.dispose();
    return { afterDispose, still, dead, top: again.top[0].index };
  });
  assert.match(r.afterDispose, /disposed/);
  assert.equal(typeof r.still, 'number');
  assert.match(String(r.dead), /disposed/);
  assert.equal(typeof r.top, 'number');
});
