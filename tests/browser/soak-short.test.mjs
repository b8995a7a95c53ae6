// soak-short.test.mjs: a short run of the soak (soak.mjs's runSoak: explains one after another, cycling
// through photos, classes, layers, methods, model input sizes 32..160, with now and then a Score-CAM, an
// aug-smooth, metrics, an abort and a redraw), so that a leak shows in CI: no explain fails, nothing is
// left pending, and the memory after the warm-up (the first 75 explains: the schedule repeats every 70,
// each input size × each method once) stays
// within generous bounds at the end: the engine's WebAssembly memory (and the bytes malloc holds, when the
// engine says) within 1.25×, the page's JS heap (Chromium's performance.memory) within 2× + 16 MiB.
// The long run and its figures: node tests/browser/soak.mjs. Skipped without the shapes model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';
import { makeSoakSite, runSoak } from './soak.mjs';

const skip = h.shapesSkip;
let site, suite;
const pageErrors = [];

before(async () => {
  if (skip) return;
  site = makeSoakSite();
  suite = await h.openSuite(site.dir);
  suite.page.on('pageerror', (e) => pageErrors.push(e.message));
});
after(async () => {
  await h.closeSuite(suite);
  if (site) fs.rmSync(site.dir, { recursive: true, force: true });
});

test('150 explains: no failure, nothing pending, memory bounded after the warm-up', { timeout: 180000, skip }, async () => {
  const { page } = suite;
  await page.goto(`${suite.srv.url}blank.html`);
  const { samples, errors } = await runSoak(page, { explains: 150, every: 25, sizes: [32, 64, 96, 128, 160], images: site.images });
  const warm = samples.find((s) => s.explains >= 75), last = samples.at(-1);
  const mib = (b) => (b / 1048576).toFixed(1);
  console.log(`# soak-short (${h.BROWSER}): ${last.explains} explains in ${last.seconds.toFixed(0)} s; WebAssembly memory ` +
    `${samples.map((s) => mib(s.heapBytes)).join(' ')} MiB; page JS heap ${samples.map((s) => (s.js == null ? 'n/a' : mib(s.js))).join(' ')} MiB`);
  assert.deepEqual(errors, []);
  assert.deepEqual(pageErrors, []);
  assert.equal(last.explains, 150);
  assert.deepEqual([last.pending, last.queued, last.clients], [0, 0, 1], 'nothing left pending in the page or the worker');
  assert.ok(last.aborted > 0 && last.reused > 0, 'the aborts and redraws were exercised');
  assert.ok(last.heapBytes <= 1.25 * warm.heapBytes, `WebAssembly memory ${mib(warm.heapBytes)} → ${mib(last.heapBytes)} MiB`);
  if (last.heapUsed != null) assert.ok(last.heapUsed <= 1.25 * warm.heapUsed, `malloc'd ${mib(warm.heapUsed)} → ${mib(last.heapUsed)} MiB`);
  if (last.js != null) { // Chromium only (performance.memory)
    const warmJs = Math.max(...samples.filter((s) => s.explains <= warm.explains).map((s) => s.js));
    assert.ok(last.js <= 2 * warmJs + 16 * 1048576, `page JS heap ${mib(warmJs)} → ${mib(last.js)} MiB`);
  }
});
