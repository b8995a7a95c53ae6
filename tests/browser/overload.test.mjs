// overload.test.mjs: the engine under pressure (issue 15), with the default offline shapes model.
//   - a burst (webcam frames at 30 fps with slider drags between them), through the API and on the page:
//     only the newest request is computed and drawn, the stale ones are dropped (counted: requested vs
//     computed), and what is drawn last is what was asked for last; the latencies are printed (p50/p95),
//     not asserted
//   - dispose() while an explain runs: the promise rejects with an AbortError, nothing leaks to the page,
//     a new instance works
//   - the worker dies (ended, and an error reported, as when it crashes): the call in flight rejects with
//     one line, the API starts a new worker (shared instances: one for all), the next call works; on the
//     page the banner says so and the page goes on
// Skipped without the shapes model. GC_BROWSER=firefox runs it in Firefox.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';
import { makeSoakSite } from './soak.mjs';

const skip = h.shapesSkip, T = 120000;
let site, suite, page;
const pageErrors = [];

before(async () => {
  if (skip) return;
  site = makeSoakSite(); // build/web (shapes model), the shared photos under imgs/, blank.html
  suite = await h.openSuite(site.dir);
  page = suite.page;
  page.on('pageerror', (e) => pageErrors.push(e.message));
});
after(async () => {
  await h.closeSuite(suite);
  if (site) fs.rmSync(site.dir, { recursive: true, force: true });
});

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };

test('API: 30 fps frames and slider drags: stale requests are dropped, the last result is the last request', { timeout: T, skip }, async () => {
  await page.goto(`${suite.srv.url}blank.html`);
  const r = await page.evaluate(async ({ frames, files }) => {
    const g = await import('./gradcam.js');
    const gc = await g.createGradCam();
    const load = async (f) => g.toImageData(await (await fetch(f)).blob());
    const imgs = [await load(files[0]), await load(files[1]), await load(files[2])];
    await gc.explain(imgs[0]); // warm
    const s0 = await gc.stats();
    const reqs = [];
    const ask = (image, opts) => {
      const q = { i: reqs.length, t: performance.now() };
      reqs.push(q);
      q.p = gc.explain(image == null ? null : imgs[image], opts).then(
        (res) => Object.assign(q, { done: performance.now(), ok: true, res }),
        (e) => Object.assign(q, { done: performance.now(), ok: false, err: `${e.name}: ${e.message}` }));
      q.opts = opts;
    };
    const t0 = performance.now();
    const at = (ms) => new Promise((res) => setTimeout(res, Math.max(0, t0 + ms - performance.now())));
    let alpha = 0.5, classIndex = -1, lastImage = 0;
    for (let f = 0; f < frames; f++) {
      await at(f * 1000 / 30); // a webcam frame
      lastImage = f % imgs.length;
      ask(lastImage, { alpha, classIndex });
      await at(f * 1000 / 30 + 11); // the opacity slider dragged
      alpha = 0.2 + 0.06 * ((f * 7) % 10);
      ask(null, { alpha, classIndex });
      await at(f * 1000 / 30 + 22); // now and then another class picked
      if (f % 8 === 7) classIndex = (classIndex + 3) % 8;
      ask(null, { alpha, classIndex });
    }
    await Promise.all(reqs.map((q) => q.p));
    const s1 = await gc.stats();
    const last = reqs.at(-1);
    const ref = await gc.explain(imgs[lastImage], last.opts); // the same request on its own, from the image
    const same = last.ok && last.res.classIndex === ref.classIndex && last.res.overlay.data.every((v, i) => v === ref.overlay.data[i]);
    gc.dispose();
    return {
      n: reqs.length, same, lastOk: last.ok, pending: s1.pending, queued: s1.queued,
      counts: Object.fromEntries(['explains', 'computed', 'dropped', 'stopped'].map((k) => [k, s1[k] - s0[k]])),
      reqs: reqs.map((q) => ({ i: q.i, ok: q.ok, err: q.err, ms: q.done - q.t, done: q.done })),
    };
  }, { frames: 45, files: site.images });
  const ok = r.reqs.filter((q) => q.ok);
  console.log(`# API burst: ${r.n} requests in 1.5 s, ${r.counts.computed} computed, ${r.counts.dropped} dropped unstarted, ` +
    `${r.counts.stopped} stopped; ${ok.length} results, latency p50 ${pct(ok.map((q) => q.ms), 0.5).toFixed(0)} ms, ` +
    `p95 ${pct(ok.map((q) => q.ms), 0.95).toFixed(0)} ms (${h.BROWSER})`);
  for (const q of r.reqs.filter((x) => !x.ok)) assert.equal(q.err, 'AbortError: cancelled: a newer explain replaced it', `request ${q.i}`);
  assert.equal(r.counts.explains, r.n, 'every request reached the worker');
  assert.equal(r.counts.computed + r.counts.dropped + r.counts.stopped, r.n, JSON.stringify(r.counts));
  assert.ok(r.counts.dropped > 0 && r.counts.computed < r.n, `stale requests were computed: ${JSON.stringify(r.counts)}`);
  assert.ok(ok.length <= r.counts.computed);
  // No stale result after a newer one: when a request resolves, every earlier one has settled.
  for (const q of ok) {
    const late = r.reqs.filter((x) => x.i < q.i && x.done > q.done);
    assert.equal(late.length, 0, `request ${q.i} resolved before earlier ones: ${late.map((x) => x.i)}`);
  }
  assert.ok(r.lastOk, 'the last request was computed');
  assert.ok(r.same, 'the last result is the explanation the last request asked for');
  assert.deepEqual([r.pending, r.queued], [0, 0], 'nothing left pending');
});

test('page: webcam frames and slider drags: fewer pictures drawn than asked for, the last one is the last asked', { timeout: T, skip }, async () => {
  await page.goto(`${suite.srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 90000 });
  const errs = await h.errorCount(page);
  await page.click('#webcam');
  await page.waitForFunction(() => Number(document.body.dataset.webcamFrames || 0) >= 3, null, { timeout: 60000 });
  // One second of dragging the opacity slider (60 input events a second), the layer changed now and then.
  const r = await page.evaluate(async () => {
    const drawn0 = Number(document.body.dataset.explained || 0), frames0 = Number(document.body.dataset.webcamFrames || 0);
    const op = document.getElementById('opacity'), layer = document.getElementById('layer');
    // when pictures are drawn (data-explained counts them), to time each event to the next picture
    window.draws = [];
    new MutationObserver(() => window.draws.push(performance.now())).observe(document.body, { attributeFilter: ['data-explained'] });
    window.eventTimes = [];
    let events = 0;
    for (let i = 0; i < 60; i++) {
      await new Promise((res) => setTimeout(res, 16));
      op.value = String(20 + i);
      op.dispatchEvent(new Event('input', { bubbles: true }));
      window.eventTimes.push(performance.now());
      events++;
      if (i % 12 === 11) { // five times: layer3 at the end
        layer.value = layer.value === 'layer3' ? 'layer4' : 'layer3';
        layer.dispatchEvent(new Event('change', { bubbles: true }));
        events++;
      }
    }
    document.getElementById('webcam').click(); // stop: the frame in flight finishes
    return { events, drawn0, frames0 };
  });
  await page.waitForFunction(() => document.body.dataset.busy === '' && document.getElementById('webcam').textContent === 'Start webcam', null, { timeout: 60000 });
  const end = await page.evaluate(async () => {
    const frames = Number(document.body.dataset.webcamFrames || 0), drawn = Number(document.body.dataset.explained || 0);
    const orig = document.getElementById('original'), ov = document.getElementById('overlay');
    const img = orig.getContext('2d').getImageData(0, 0, orig.width, orig.height);
    const shown = ov.getContext('2d').getImageData(0, 0, ov.width, ov.height).data;
    const size = Number(document.getElementById('input-size').value); // 0: the model's own
    const opts = { layer: document.getElementById('layer').value, alpha: 1 - Number(document.getElementById('opacity').value) / 100 };
    const g = await import('./gradcam.js');
    const gc = await g.createGradCam({ inputSize: size ? [size, size] : undefined });
    const ref = await gc.explain(img, opts);
    gc.dispose();
    const same = ref.overlay.data.length === shown.length && ref.overlay.data.every((v, i) => v === shown[i]);
    const waits = window.eventTimes.map((t) => window.draws.find((d) => d >= t) - t);
    return { frames, drawn, same, opts, waits, caption: document.getElementById('caption').textContent };
  });
  const asked = r.events + (end.frames - r.frames0), drawn = end.drawn - r.drawn0;
  console.log(`# page burst: ${r.events} control events and ${end.frames - r.frames0} webcam frames in ~1 s; ${drawn} pictures drawn; ` +
    `slider event → next picture p50 ${pct(end.waits, 0.5).toFixed(0)} ms, p95 ${pct(end.waits, 0.95).toFixed(0)} ms (${h.BROWSER})`);
  assert.ok(drawn < asked, `every request was drawn (${drawn} of ${asked}): nothing was dropped`);
  assert.equal(end.opts.layer, 'layer3');
  assert.match(end.caption, / layer3$/);
  assert.ok(end.same, `the overlay on show is not the last request's (${JSON.stringify(end.opts)})`);
  assert.equal(await h.errorCount(page), errs, await page.textContent('#banner-text'));
});

test('API: dispose() while an explain runs rejects it with an AbortError; a new instance works', { timeout: T, skip }, async () => {
  await page.goto(`${suite.srv.url}blank.html`);
  const r = await page.evaluate(async (files) => {
    let unhandled = 0, terminated = 0;
    addEventListener('unhandledrejection', () => { unhandled++; });
    const T = Worker.prototype.terminate;
    Worker.prototype.terminate = function terminate() { terminated++; return T.call(this); };
    const g = await import('./gradcam.js');
    const img = await g.toImageData(await (await fetch(files[0])).blob());
    const caught = (p) => p.then(() => 'resolved', (e) => `${e.name}: ${e.message}`);
    // a long one (Score-CAM), disposed once it reports progress
    const gc = await g.createGradCam();
    const first = await gc.explain(img);
    let running;
    const started = new Promise((res) => { running = res; });
    const long = caught(gc.explain(null, { method: 'scorecam', onProgress: () => running() }));
    await started;
    gc.dispose();
    const longErr = await long;
    const afterErr = await caught(gc.explain(img));
    // a quick one, disposed right after it was sent (and one still decoding its image)
    const gc2 = await g.createGradCam();
    const file = await (await fetch(files[1])).blob();
    const quick = caught(gc2.explain(img)), decoding = caught(gc2.explain(file));
    gc2.dispose();
    const quickErr = await quick, decodingErr = await decoding;
    await new Promise((res) => setTimeout(res, 1200)); // the workers end within a second of dispose()
    const gc3 = await g.createGradCam();
    const again = await gc3.explain(img);
    const same = again.overlay.data.every((v, i) => v === first.overlay.data[i]);
    const stats = await gc3.stats();
    gc3.dispose();
    return { longErr, afterErr, quickErr, decodingErr, dead: gc.dead, same, unhandled, terminated, clients: stats.clients };
  }, site.images);
  assert.equal(r.longErr, 'AbortError: cancelled: this GradCam instance was disposed');
  assert.equal(r.quickErr, 'AbortError: cancelled: this GradCam instance was disposed');
  assert.equal(r.decodingErr, 'AbortError: cancelled: this GradCam instance was disposed');
  assert.equal(r.afterErr, 'Error: this GradCam instance was disposed');
  assert.match(r.dead, /disposed/);
  assert.equal(r.terminated, 2, 'both disposed instances ended their workers');
  assert.equal(r.unhandled, 0, 'an unhandled rejection reached the page');
  assert.ok(r.same, 'a new instance gives the same explanation as before');
  assert.equal(r.clients, 1);
  assert.deepEqual(pageErrors, []);
});

test('API: the worker dies: the call in flight rejects in one line, a new worker takes over, shared ones too', { timeout: T, skip }, async () => {
  await page.goto(`${suite.srv.url}blank.html`);
  const r = await page.evaluate(async (files) => {
    const g = await import('./gradcam.js');
    const load = async (f) => g.toImageData(await (await fetch(f)).blob());
    const [img, img2] = [await load(files[0]), await load(files[1])];
    const caught = (p) => p.then(() => null, (e) => ({ name: e.name, message: e.message, crashed: !!e.crashed }));
    // What a crash looks like from the page: the worker is gone and an error event reaches its Worker.
    const kill = (w) => { w.terminate(); w.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' })); };
    const crashes = [];
    const gc = await g.createGradCam({ onCrash: (m) => crashes.push(m) });
    const first = await gc.explain(img, { layer: 'layer3' });
    let running;
    const started = new Promise((res) => { running = res; });
    const inFlight = caught(gc.explain(null, { method: 'scorecam', onProgress: () => running() }));
    await started;
    const w = gc._worker;
    kill(w);
    const err = await inFlight;
    const deadWhileRestarting = gc.dead;
    const noImage = await caught(gc.explain(null));
    const again = await gc.explain(img, { layer: 'layer3' });
    const same = again.overlay.data.every((v, i) => v === first.overlay.data[i]);
    const replaced = gc._worker !== w, restarts = gc.restarts;
    const after = await gc.explain(null, { layer: 'layer4' }); // its image is there again
    gc.dispose();
    // Shared instances: both go on, on one new worker.
    const sharedCrashes = [];
    const opts = { shared: true, onCrash: (m) => sharedCrashes.push(m) };
    const [s1, s2] = await Promise.all([g.createGradCam(opts), g.createGradCam(opts)]);
    await s1.explain(img);
    await s2.explain(img2);
    const sw = s1._worker, oneWorker = s2._worker === sw;
    kill(sw);
    const [a, b] = await Promise.all([s1.explain(img), s2.explain(img2)]);
    const sharedAfter = s1._worker === s2._worker && s1._worker !== sw;
    const st = await s1.stats();
    s1.dispose(); s2.dispose();
    return {
      err, crashes, deadWhileRestarting, noImage, same, replaced, restarts, afterLayer: after.layer,
      sharedCrashes, oneWorker, sharedAfter, ab: [a.classIndex, b.classIndex], clients: st.clients,
    };
  }, site.images);
  assert.deepEqual(r.err, { name: 'Error', message: 'the engine worker failed: simulated crash', crashed: true });
  assert.deepEqual(r.crashes, ['the engine worker failed: simulated crash']);
  assert.equal(r.deadWhileRestarting, null, 'usable while the new worker starts');
  assert.equal(r.noImage.message, 'the engine was restarted after a crash: give the image again');
  assert.ok(r.replaced && r.restarts === 1, 'a new worker');
  assert.ok(r.same, 'the new worker gives the same explanation');
  assert.equal(r.afterLayer, 'layer4');
  assert.equal(r.sharedCrashes.length, 2, 'each shared instance is told');
  assert.ok(r.oneWorker && r.sharedAfter, 'shared instances share the new worker too');
  assert.equal(r.clients, 2);
  assert.deepEqual(pageErrors, []);
});

test('page: the worker dies: the banner says so, the picture is drawn again, the page goes on', { timeout: T, skip }, async () => {
  await page.goto(`${suite.srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 90000 });
  // Keep hold of the page's next worker: the model loaded again (the same one) starts it.
  await page.evaluate(() => {
    const W = window.Worker;
    window.workers = [];
    window.Worker = class extends W { constructor(...a) { super(...a); window.workers.push(this); } };
    const sel = document.getElementById('model-select');
    document.body.dataset.modelReady = '';
    sel.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await page.waitForFunction(() => document.body.dataset.modelReady === '1' && window.workers.length === 1, null, { timeout: 90000 });
  let n = await h.explainedCount(page);
  await page.click('button[aria-label^="Use sample: Generated scene with shapes (1)"]');
  n = await h.waitExplained(page, n);
  const errs = await h.errorCount(page);
  await page.evaluate(() => {
    const w = window.workers[0];
    w.terminate();
    w.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' }));
  });
  await page.waitForFunction(() => document.body.dataset.engineRestarts === '1', null, { timeout: 10000 });
  assert.equal(await page.isVisible('#banner'), true);
  assert.match(await page.textContent('#banner-text'), /^the engine worker failed: simulated crash — the engine was restarted$/);
  n = await h.waitExplained(page, n); // drawn again, on the new worker
  assert.equal(await page.isVisible('#banner'), true, 'the crash message stays after the picture is back');
  assert.match(await page.textContent('#model-status'), /restarted/);
  // The page goes on: another layer is explained, the banner goes when dismissed.
  await page.evaluate(() => {
    const l = document.getElementById('layer');
    l.value = 'layer3';
    l.dispatchEvent(new Event('change', { bubbles: true }));
  });
  n = await h.waitExplained(page, n);
  assert.match(await page.textContent('#caption'), / layer3$/);
  await page.click('#banner-close');
  assert.equal(await page.isVisible('#banner'), false);
  assert.equal(await h.errorCount(page), errs + 1, 'one message for one crash');
  assert.deepEqual(pageErrors, []);
});
