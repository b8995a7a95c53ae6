// display.test.mjs: the display options (colormaps, modes, sign, scale, interpolation, several layers)
// and the compare grid on the page, in the API and in <grad-cam-viewer>, each against the CLI
// (build/gradcam explain --colormap/--mode/--sign/... and --compare ... --grid), with the default
// offline shapes model (8 classes: quick); compare tiles are drawn at the model input size, as the CLI's
// grid tiles. Skipped without the model.
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

// Do something and wait until the page's counter (explained, or compared) moves on; a failure ends
// the wait with its message.
async function until(counter, action) {
  const get = (c) => page.evaluate((c) => Number(document.body.dataset[c] || 0), c);
  const [n, e] = [await get(counter), await h.errorCount(page)];
  await action();
  await page.waitForFunction(([c, n, e]) => Number(document.body.dataset[c] || 0) > n || Number(document.body.dataset.errors || 0) > e,
    [counter, n, e], { timeout: 120000 });
  assert.equal(await h.errorCount(page), e, await page.textContent('#banner-text'));
}
const explained = (action) => until('explained', action);

// Overlay and heatmap canvases against the CLI's -o and --heatmap: at most 1 apart per channel.
async function assertPageMatchesCli(opts) {
  const ref = h.cliExplain(IMAGE, MODEL, opts);
  for (const [id, png] of [['overlay', ref.overlay], ['heatmap', ref.heatmap]]) {
    const d = h.maxDiff(await h.canvasPixels(page, id), png);
    assert.ok(d <= 1, `${id} differs from the CLI's by up to ${d} (${JSON.stringify(opts)})`);
  }
  return ref;
}

test('page: a colormap and a mode, sign/scale/interp and two layers, each as the CLI draws them', { timeout: T, skip }, async () => {
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 120000 });
  // The pickers offer the engine's names only.
  const cmaps = await page.$$eval('#colormap option', (os) => os.map((o) => o.value));
  assert.equal(cmaps[0], '');
  assert.ok(['jet', 'viridis', 'turbo', 'rdwhgn', 'twilight_shifted'].every((c) => cmaps.includes(c)));
  assert.deepEqual(await page.$$eval('#mode option', (os) => os.map((o) => o.value)), ['blended_heat_map', 'heat_map', 'masked_image', 'alpha_scaling']);
  await explained(() => page.click('button[aria-label^="Use sample: Generated scene with shapes (1)"]'));
  assert.equal(await page.textContent('#legend-text'), 'jet · normalised, positive: 0 .. 1');

  await explained(() => page.selectOption('#colormap', 'viridis'));
  await explained(() => page.selectOption('#mode', 'masked_image'));
  assert.equal(await page.isDisabled('#grey'), true, 'greyscale means nothing for masked_image');
  assert.equal(await page.isDisabled('#opacity'), true);
  await assertPageMatchesCli({ colormap: 'viridis', mode: 'masked_image' });

  await explained(() => page.selectOption('#mode', 'blended_heat_map'));
  await explained(() => page.check('#grey'));
  await assertPageMatchesCli({ colormap: 'viridis', grey: true });
  await explained(() => page.uncheck('#grey'));

  // sign all: the default colormap becomes rdwhgn, and the legend is the CLI's.
  await explained(() => page.selectOption('#colormap', ''));
  await explained(() => page.selectOption('#sign', 'all'));
  assert.equal(await page.$eval('#colormap option[value=""]', (o) => o.textContent), 'default (rdwhgn)');
  await explained(() => page.selectOption('#scale', 'raw'));
  const ref = await assertPageMatchesCli({ sign: 'all', scale: 'raw' });
  assert.equal(await page.$eval('#legend', (e) => e.dataset.legend), ref.json.legend);
  assert.match(ref.json.legend, /^raw, all: -\d/);
  // The colour bar is the engine's rdwhgn: red at the negative end, white in the middle, green at the positive.
  const bar = await h.canvasPixels(page, 'legend-bar');
  assert.deepEqual([bar.width, bar.height], [256, 1]);
  const at = (i) => Array.from(bar.data.subarray(4 * i, 4 * i + 3));
  const [lo, mid, hi] = [at(0), at(128), at(255)];
  assert.ok(lo[0] > lo[1] + 50 && hi[1] > hi[0] + 50 && mid.every((v) => v > 230), `bar ${lo} ${mid} ${hi}`);

  await explained(() => page.selectOption('#sign', 'positive'));
  await explained(() => page.selectOption('#scale', 'normalised'));
  await explained(() => page.selectOption('#interp', 'nearest'));
  await explained(() => page.selectOption('#layer', 'layer3'));
  assert.equal(await page.$eval('#layer2 option[value=layer3]', (o) => o.disabled), true, 'the same layer twice is not offered');
  await explained(() => page.selectOption('#layer2', 'layer4'));
  assert.match(await page.textContent('#caption'), / gradcam layer3,layer4$/);
  await assertPageMatchesCli({ interp: 'nearest', layer: 'layer3,layer4' });
  await explained(() => page.selectOption('#interp', 'linear'));
  await explained(() => page.selectOption('#layer2', ''));
  await explained(() => page.selectOption('#layer', 'layer4'));
});

test('page: compare layers gives the CLI\'s grid tiles, and a click on a tile makes it the main view', { timeout: T, skip }, async () => {
  await explained(() => page.selectOption('#colormap', 'turbo'));
  // Compare by methods starts with the quick methods only.
  const ticked = await page.$$eval('#compare-methods input:checked', (is) => is.map((i) => i.value));
  assert.ok(ticked.length >= 2 && !ticked.some((m) => ['scorecam', 'ablationcam', 'fullgrad'].includes(m)), ticked.join());
  await page.selectOption('#compare-by', 'layers');
  await page.$$eval('#compare-layers input', (is) => is.forEach((i) => { i.checked = ['layer3', 'layer4'].includes(i.value); }));
  await until('compared', () => page.$eval('#compare-layers', (f) => f.dispatchEvent(new Event('change', { bubbles: true }))));
  const labels = await page.$$eval('#compare-grid .tile-label', (ls) => ls.map((l) => l.textContent));
  const ref = h.cliExplain(IMAGE, MODEL, { colormap: 'turbo', compare: 'layers:layer3,layer4' });
  assert.equal(labels.length, 2);
  const shown = await page.$$eval('#compare-grid canvas', (cs) => cs.map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, data: Array.from(d) };
  }));
  shown.forEach((px, i) => {
    const d = h.maxDiff(px, h.gridTile(ref.grid, 2, i, 224, 224));
    assert.ok(d <= 1, `tile ${i} (${labels[i]}) differs from the CLI's grid tile by ${d}`);
  });
  assert.match(labels[0], /^\S+ \d+\.\d% gradcam layer3\.1$/);

  // Style changes redraw the (quick) grid by themselves.
  await until('compared', () => page.selectOption('#mode', 'heat_map'));
  // The layer3 tile becomes the main view.
  await explained(() => page.click('#compare-grid .tile >> nth=0'));
  assert.equal(await page.inputValue('#layer'), 'layer3');
  assert.match(await page.textContent('#caption'), / gradcam layer3$/);
  await assertPageMatchesCli({ colormap: 'turbo', mode: 'heat_map', layer: 'layer3' });
  await explained(() => page.selectOption('#mode', 'blended_heat_map'));
  await page.selectOption('#compare-by', '');
  assert.equal(await page.$$eval('#compare-grid .tile', (t) => t.length), 0);
});

test('page: an alpha_scaling download keeps its alpha, equal to the CLI\'s RGBA PNG', { timeout: T, skip }, async () => {
  await explained(() => page.selectOption('#mode', 'alpha_scaling'));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#dl-overlay')]);
  const png = h.decodePng(fs.readFileSync(await dl.path()));
  const ref = h.cliExplain(IMAGE, MODEL, { colormap: 'turbo', mode: 'alpha_scaling', layer: 'layer3' });
  assert.equal(png.channels, 4);
  assert.equal(ref.overlay.channels, 4);
  let d = 0, translucent = 0;
  for (let i = 0; i < png.data.length; i++) d = Math.max(d, Math.abs(png.data[i] - ref.overlay.data[i]));
  for (let i = 3; i < png.data.length; i += 4) translucent += png.data[i] < 255;
  assert.ok(d <= 1, `RGBA differs from the CLI's by ${d}`);
  assert.ok(translucent > 1000, `only ${translucent} translucent pixels`);
  await explained(() => page.selectOption('#mode', 'blended_heat_map'));
});

test('API: style changes redraw without recomputing; COLORMAPS, colormapLUT, compare() as the CLI', { timeout: T, skip }, async () => {
  const r = await page.evaluate(async () => {
    const { createGradCam, COLORMAPS, MODES, toImageData } = await import('./gradcam.js');
    const gc = await createGradCam({ model: 'models/shapes/resnet18-shapes.safetensors', labels: 'models/shapes/labels.txt' });
    try {
      const img = await toImageData(await (await fetch('samples/shapes-1.png')).blob());
      const a = await gc.explain(img, { sign: 'all', layer: ['layer3', 'layer4'] });
      const b = await gc.explain(null, { sign: 'all', layer: 'layer3,layer4', colormap: 'magma', mode: 'heat_map', alpha: 0.3 });
      const c = await gc.explain(null, { sign: 'all', layer: 'layer3,layer4', scale: 'raw' });
      const luts = await Promise.all(COLORMAPS.map((n) => gc.colormapLUT(n)));
      const bad = await gc.explain(null, { colormap: 'nope' }).then(() => null, (e) => e.message);
      const tiles = await gc.compare(null, { by: 'classes', k: 3, colormap: 'viridis' });
      return {
        a: { colormap: a.colormap, legend: a.legend, reused: a.reused, sign: a.sign, layer: a.layer, lut: Array.from(a.lut.subarray(0, 6)) },
        b: { colormap: b.colormap, mode: b.mode, reused: b.reused, legend: b.legend },
        c: { reused: c.reused, scale: c.scale, legend: c.legend },
        modes: MODES, lutSizes: luts.map((l) => l.length), magma: Array.from(luts[COLORMAPS.indexOf('magma')].subarray(765)),
        bMagmaTop: Array.from(b.lut.subarray(765)), bad,
        tiles: tiles.map((t) => ({ caption: t.caption, classIndex: t.classIndex, w: t.width, px: Array.from(t.overlay.data) })),
      };
    } finally {
      gc.dispose();
    }
  });
  assert.equal(r.a.colormap, 'rdwhgn');
  assert.equal(r.a.reused, false);
  assert.equal(r.a.layer, 'layer3,layer4');
  assert.equal(r.a.legend, h.cliExplain(IMAGE, MODEL, { sign: 'all', layer: 'layer3,layer4' }).json.legend);
  assert.deepEqual(r.b, { colormap: 'magma', mode: 'heat_map', reused: true, legend: r.a.legend });
  assert.equal(r.c.reused, false, 'another scale is another map');
  assert.equal(r.c.legend, h.cliExplain(IMAGE, MODEL, { sign: 'all', scale: 'raw', layer: 'layer3,layer4' }).json.legend);
  assert.deepEqual(r.modes, ['blended_heat_map', 'heat_map', 'masked_image', 'alpha_scaling']);
  assert.ok(r.lutSizes.every((n) => n === 768));
  assert.deepEqual(r.bMagmaTop, r.magma);
  assert.match(r.bad, /colormap 'nope' is not one of jet, /);
  const ref = h.cliExplain(IMAGE, MODEL, { colormap: 'viridis', compare: 'classes:3' });
  assert.deepEqual(r.tiles.map((t) => t.classIndex).slice(0, 1), [ref.json.class]);
  r.tiles.forEach((t, i) => {
    const d = h.maxDiff({ width: t.w, height: t.w, data: t.px }, h.gridTile(ref.grid, 3, i, 224, 224));
    assert.ok(d <= 1, `compare tile ${i} (${t.caption}) differs from the CLI's by ${d}`);
  });
});

test('API: compare tiles of an image that is not the model input size are the CLI\'s grid tiles', { timeout: T, skip }, async () => {
  // tiles are drawn at the model input size on the image resized as for the network (PIL's bilinear)
  await page.goto(srv.url);
  const tiles = await page.evaluate(async () => {
    const { createGradCam, toImageData } = await import('./gradcam.js');
    const gc = await createGradCam({ model: 'models/shapes/resnet18-shapes.safetensors' });
    try {
      const img = await toImageData(await (await fetch('samples/dogs.png')).blob());
      const t = await gc.compare(img, { by: 'layers', items: ['layer2', 'layer4'], colormap: 'inferno' });
      return t.map((x) => ({ caption: x.caption, w: x.width, h: x.height, px: Array.from(x.overlay.data) }));
    } finally {
      gc.dispose();
    }
  });
  const ref = h.cliExplain(path.join(h.WEB, 'samples', 'dogs.png'), MODEL, { colormap: 'inferno', compare: 'layers:layer2,layer4' });
  assert.deepEqual(tiles.map((t) => [t.w, t.h]), [[224, 224], [224, 224]]);
  assert.match(tiles[1].caption, / gradcam layer4\.1$/);
  tiles.forEach((t, i) => {
    const d = h.maxDiff({ width: 224, height: 224, data: t.px }, h.gridTile(ref.grid, 2, i, 224, 224));
    assert.ok(d <= 1, `tile ${i} differs from the CLI's by ${d}`);
  });
});

test('<grad-cam-viewer colormap mode> redraws without recomputing, like the CLI', { timeout: T, skip }, async () => {
  await page.goto(`${srv.url}embed.html`);
  await page.waitForFunction(() => (window.gradcamEvents || []).length >= 2, null, { timeout: 120000 });
  const viewer = async (attrs) => {
    const n = await page.evaluate(() => window.gradcamEvents.length);
    await page.evaluate((attrs) => {
      const v = document.getElementById('v1');
      window.lastDetail = null;
      v.addEventListener('gradcam-done', (e) => { window.lastDetail = { ...e.detail, cam: null }; }, { once: true });
      for (const [k, val] of Object.entries(attrs)) v.setAttribute(k, val);
    }, attrs);
    await page.waitForFunction((n) => window.gradcamEvents.length > n, n, { timeout: 120000 });
    assert.equal(await page.evaluate(() => window.gradcamEvents.at(-1).type), 'gradcam-done');
    const px = await page.evaluate(() => {
      const c = document.getElementById('v1').shadowRoot.querySelector('canvas');
      return { width: c.width, height: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
    });
    return { px, detail: await page.evaluate(() => window.lastDetail) };
  };
  const src = await page.$eval('#v1', (v) => v.getAttribute('src'));
  assert.equal(path.basename(src), 'shapes-1.png', 'embed.html\'s first viewer shows the sample this test compares');
  const a = await viewer({ colormap: 'inferno' });
  assert.equal(a.detail.reused, true, 'a colormap change recomputed the CAM');
  assert.equal(a.detail.colormap, 'inferno');
  let d = h.maxDiff(a.px, h.cliExplain(IMAGE, MODEL, { colormap: 'inferno' }).overlay);
  assert.ok(d <= 1, `viewer overlay differs from the CLI's inferno by ${d}`);
  const b = await viewer({ mode: 'heat_map', sign: 'negative' });
  assert.equal(b.detail.reused, false);
  const ref = h.cliExplain(IMAGE, MODEL, { colormap: 'inferno', mode: 'heat_map', sign: 'negative' });
  d = h.maxDiff(b.px, ref.overlay);
  assert.ok(d <= 1, `viewer heat_map, sign negative differs from the CLI's by ${d}`);
  assert.equal(b.detail.legend, ref.json.legend);
});

test('API: createGradCam() without a model loads the shapes model; classify(img) then explain(img) reuse one ImageData', { timeout: T, skip }, async () => {
  await page.goto(srv.url);
  const r = await page.evaluate(async () => {
    const { createGradCam, toImageData } = await import('./gradcam.js');
    const gc = await createGradCam();
    try {
      const img = await toImageData(await (await fetch('samples/shapes-1.png')).blob());
      const c = await gc.classify(img);
      const e = await gc.explain(img); // the same ImageData: copied, not transferred, by default
      const kept = img.data.length;
      await gc.classify(img, { transfer: true });
      return { n: gc.numClasses, label: gc.labels[0], top: c.top[0].index, cls: e.classIndex, kept, after: img.data.length };
    } finally {
      gc.dispose();
    }
  });
  assert.equal(r.n, 8);
  assert.notEqual(r.label, 'class 0', 'the shapes model\'s labels come with it');
  assert.equal(r.cls, r.top);
  assert.equal(r.kept, 224 * 224 * 4, 'the caller\'s ImageData is still whole after classify + explain');
  assert.equal(r.after, 0, 'transfer: true hands the buffer over');
});
