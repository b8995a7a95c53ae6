// coi.test.mjs: threads on a host that sends no COOP/COEP (GitHub Pages). scripts/serve runs with
// GC_SERVE_ISOLATION=0; without opting in the page is not cross-origin isolated and runs the plain
// engine; a page that calls crossOriginIsolate('coi-sw.js') is reloaded once through that service
// worker and then runs the threaded engine, with the CLI's top-1.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

let site, suite;

before(async () => {
  site = h.makeSite();
  for (const f of ['coi-page.html', 'coi-page.js']) fs.copyFileSync(path.join(h.ROOT, 'tests', 'browser', 'fixtures', 'coi', f), path.join(site.dir, f));
  process.env.GC_SERVE_ISOLATION = '0';
  try {
    suite = await h.openSuite(site.dir);
  } finally {
    delete process.env.GC_SERVE_ISOLATION;
  }
});

after(async () => {
  await h.closeSuite(suite);
  site?.cleanup();
});

const result = async (page, url) => {
  await page.goto(url);
  await page.waitForFunction(() => window.result, null, { timeout: 120000 });
  return page.evaluate(() => window.result);
};

test('no isolation headers: not isolated, the plain engine; coi-sw.js opted in: isolated, the threaded engine', { timeout: 240000 }, async () => {
  const { page, srv } = suite;
  const off = await result(page, `${srv.url}coi-page.html?off`);
  assert.equal(off.error, undefined, off.error);
  // Chromium 156 and Firefox 153 run relaxed SIMD: its engines are picked when built
  const has = (f) => fs.existsSync(path.join(site.dir, f));
  const rx = has('gradcam-engine-relaxed.wasm') ? '-relaxed' : '';
  assert.deepEqual([off.before, off.isolated, off.engine], [false, false, `gradcam-engine${rx}.js`], JSON.stringify(off));
  const hasMt = has(`gradcam-engine${rx}-mt.wasm`);
  const on = await result(page, `${srv.url}coi-page.html`);
  assert.equal(on.error, undefined, on.error);
  assert.equal(on.before, true, 'the reloaded page is isolated from its first script on');
  assert.deepEqual([on.ok, on.isolated, on.controlled], [true, true, true], JSON.stringify(on));
  assert.equal(on.engine, hasMt ? `gradcam-engine${rx}-mt.js` : `gradcam-engine${rx}.js`);
  const ref = h.cliTop(path.join(site.dir, 'samples', 'both.png'), site.st)[0];
  assert.equal(on.top.index, ref.index);
  assert.ok(Math.abs(on.top.prob - ref.prob) < 1e-5);
  assert.equal(off.top.index, ref.index);
});

test('the page with <meta name="gradcam-isolation" content="service-worker"> runs threaded on a host without the headers', { timeout: 240000 }, async () => {
  const { srv } = suite;
  const browser = await h.launch(); // a fresh profile: no service worker from the test above
  const html = fs.readFileSync(path.join(site.dir, 'index.html'), 'utf8');
  assert.match(html, /<meta name="gradcam-isolation" content="off">/);
  fs.writeFileSync(path.join(site.dir, 'index-coi.html'), html.replace('content="off"', 'content="service-worker"'));
  const page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  try {
    await page.goto(`${srv.url}index-coi.html?model=models/test/seeded.safetensors&labels=models/test/labels.txt`);
    await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 120000 });
    const r = await page.evaluate(() => ({
      isolated: crossOriginIsolated, status: document.getElementById('model-status').textContent,
      sw: navigator.serviceWorker.controller?.scriptURL,
    }));
    assert.match(r.sw, /sw\.js\?coi=1$/, 'the page is controlled by its own sw.js in isolation mode');
    assert.equal(r.isolated, true);
    if (fs.existsSync(path.join(site.dir, 'gradcam-engine-mt.wasm'))) assert.match(r.status, /threaded engine/);
  } finally {
    await browser.close();
  }
});
