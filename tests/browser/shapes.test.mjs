// shapes.test.mjs: the page as shipped, with its default model (the trained shapes model). Skipped
// when build/web/models/shapes/resnet18-shapes.safetensors has not been built yet.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

const MODEL = path.join(h.WEB, 'models', 'shapes', 'resnet18-shapes.safetensors');
const have = fs.existsSync(MODEL);
let srv, browser, page;

before(async () => {
  if (!have) return;
  h.need();
  srv = await h.serve(h.WEB);
  browser = await h.launch();
  page = await browser.context.newPage();
});

after(async () => {
  setTimeout(() => process.exit(process.exitCode ?? 1), 20000).unref();
  await srv?.stop();
  await browser?.close();
});

test('default page: the built-in shapes model explains a sample scene like the CLI', {
  timeout: 180000, skip: have ? false : `no shapes model at ${path.relative(h.ROOT, MODEL)} (train it, then rebuild the site)`,
}, async () => {
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 120000 });
  assert.match(await page.textContent('#model-status'), /Shapes model: ready, resnet18, 8 classes/);
  const n = await h.explainedCount(page);
  await page.click('button[aria-label^="Use sample: Generated scene with shapes (1)"]');
  await h.waitExplained(page, n);
  const image = path.join(h.WEB, 'samples', 'shapes-1.png');
  const ref = h.cliExplain(image, MODEL, {});
  const px = await h.canvasPixels(page, 'overlay');
  assert.ok(h.maxDiff(px, ref.overlay) <= 2);
  const top = await page.$$eval('#top5-list input', (els) => els.map((e) => Number(e.value)));
  assert.deepEqual(top, h.cliTop(image, MODEL).map((t) => t.index));
  assert.equal(await page.isVisible('#banner'), false);
  await page.screenshot({ path: h.screenshotPath('page-shapes.png'), fullPage: true });
});
