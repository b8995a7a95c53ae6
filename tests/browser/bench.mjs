#!/usr/bin/env node
// bench.mjs: the page's speed in headless Chromium (a script, not a test).
//
//   node tests/browser/bench.mjs [--runs 10] [--layer layer4] [--threads N]   (1: the plain engine)
//
// Prints:
//   cold load → first heatmap: a fresh browser profile (empty HTTP cache, Cache API and service
//     worker) opens index.html with the test model in the URL, and a person picks both.png; from
//     navigation start to the overlay on screen. Weights ~45 MB from 127.0.0.1, so download time is
//     small here; on a real network add its transfer time.
//   warm reload → first heatmap: the same after a reload (weights from the Cache API).
//   per-image explain (median of N): the public API in the page, explain(imageData) of a new image
//     (transfer, resize, forward, backward, CAM, overlay + heatmap at the image's size, copy back),
//     and a re-explain of the same image for another class (backward + render only); and the
//     engine's own forward / backward / render split.
// The model is the seeded ResNet-18 (1000 classes) the tests use, so that figures do not depend on
// whether the shapes model has been trained; the architecture, hence the cost, is the same.
import * as h from './helpers.mjs';

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const runs = Number(arg('runs', 10));
const layer = arg('layer', 'layer4');
const threads = Number(arg('threads', 0)) || undefined;
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const f1 = (x) => x.toFixed(1).padStart(8);

const site = h.makeSite();
const srv = await h.serve(site.dir);
const browser = await h.launch();
try {
  const page = await browser.context.newPage();
  const url = `${srv.url}index.html?model=models/test/seeded.safetensors&labels=models/test/labels.txt${threads ? `&threads=${threads}` : ''}`;

  const firstHeatmap = async (nav) => {
    const t0 = Date.now();
    await nav();
    await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 120000 });
    const tModel = Date.now() - t0;
    const n = await h.explainedCount(page);
    await page.setInputFiles('#image-file', h.BOTH);
    await h.waitExplained(page, n, 120000);
    return { total: Date.now() - t0, model: tModel };
  };
  const cold = await firstHeatmap(() => page.goto(url));
  const warm = await firstHeatmap(() => page.reload());

  const r = await page.evaluate(async ({ runs, layer, threads }) => {
    const { createGradCam, toImageData } = await import('./gradcam.js');
    const gc = await createGradCam({ model: 'models/test/seeded.safetensors', threads });
    const blob = await (await fetch('samples/both.png')).blob();
    const fresh = [], again = [], fwd = [], bwd = [], rend = [];
    await gc.explain(await toImageData(blob), { layer }); // warm-up
    for (let i = 0; i < runs; i++) {
      const img = await toImageData(blob); // not timed: decoding is the browser's
      let t = performance.now();
      const e = await gc.explain(img, { layer });
      fresh.push(performance.now() - t);
      fwd.push(e.timings.forward); bwd.push(e.timings.backward); rend.push(e.timings.cam + e.timings.render);
      t = performance.now();
      await gc.explain(null, { layer, classIndex: e.top[1].index });
      again.push(performance.now() - t);
    }
    gc.dispose();
    return { fresh, again, fwd, bwd, rend, ua: navigator.userAgent, cores: navigator.hardwareConcurrency, engine: gc.engine };
  }, { runs, layer, threads });

  console.log(`gradcam-wasm page benchmark (headless ${r.ua.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}, ${r.cores} cores, both.png 224x224, ${layer}, ${r.engine}${threads ? ` threads=${threads}` : ''})`);
  console.log(`cold load -> first heatmap      ${f1(cold.total)} ms  (model ready after ${cold.model} ms)`);
  console.log(`warm reload -> first heatmap    ${f1(warm.total)} ms  (model ready after ${warm.model} ms)`);
  console.log(`explain, new image (median/${runs}) ${f1(median(r.fresh))} ms  (min ${r.fresh.reduce((a, b) => Math.min(a, b)).toFixed(1)})`);
  console.log(`re-explain, other class        ${f1(median(r.again))} ms`);
  console.log(`  engine: forward ${median(r.fwd).toFixed(1)} ms, backward ${median(r.bwd).toFixed(1)} ms, CAM + render ${median(r.rend).toFixed(1)} ms`);
} finally {
  await browser.close();
  await srv.stop();
  site.cleanup();
}
