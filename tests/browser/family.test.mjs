// family.test.mjs: the page and the API on a model other than ResNet-18 (issue 16). A small seeded Bottleneck
// ResNet (torchvision's ResNet(Bottleneck, [1, 2, 1, 1], num_classes=6): resnet50's block, fewer of them, so
// it is quick to make and to run) whose safetensors metadata carries its own preprocessing (mean/std 0.5,
// Resize(256) + CenterCrop(224), six labels). createGradCam reads all of that from the file: the
// architecture, the layers (layer2.1 exists, layer4.2 does not), the labels; its explanation equals the CLI's
// on the same file, and the overlay covers the centre crop only. Overrides (mean, std, crop) given to
// createGradCam equal the CLI's --mean/--std/--crop. On the page, the model dropped in says "resnet
// (bottleneck 1-2-1-1)" and its layer picker lists its blocks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

let site, suite, page, model, plain;
const LABELS = ['circle', 'square', 'triangle', 'star', 'cross', 'ring'];

// The model: made once per run with /usr/bin/python3 (torch), written with models/safetensors.py (so the
// metadata does not depend on models/convert's options).
function makeModel(dir) {
  const py = `
import sys, torchvision
sys.path.insert(0, ${JSON.stringify(path.join(h.ROOT, 'models'))})
import safetensors
from conftest import seeded_resnet
from torchvision.models.resnet import ResNet, Bottleneck
# resnet50's block, fewer of them: seeded as every test model (conftest.py), under a name of its own
torchvision.models.bottleneck_1211 = lambda num_classes: ResNet(Bottleneck, [1, 2, 1, 1], num_classes=num_classes)
m = seeded_resnet("bottleneck_1211", num_classes=6, seed=5)
t = {k: ("F32", list(v.shape), v.float().contiguous().numpy().tobytes()) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
meta = {"format": "pt", "gradcam.mean": "0.5,0.5,0.5", "gradcam.std": "0.5,0.5,0.5", "gradcam.resize": "256",
        "gradcam.labels": ${JSON.stringify(LABELS.join('\n'))}}
safetensors.save(sys.argv[1], t, metadata=meta)
safetensors.save(sys.argv[2], t, metadata={"format": "pt"})
safetensors.save(sys.argv[3], t, metadata={"format": "pt", "gradcam.size": "192x160"})
`;
  const file = path.join(dir, 'bottleneck.safetensors'), bare = path.join(dir, 'bottleneck-plain.safetensors');
  const r = spawnSync(h.PYTHON, ['-c', py, file, bare, path.join(dir, 'bottleneck-sized.safetensors')], { encoding: 'utf8', cwd: path.join(h.ROOT, 'tests') });
  if (r.status !== 0) throw new Error(`making the Bottleneck model failed: ${r.stderr}`);
  return [file, bare];
}

before(async () => {
  site = h.makeSite();
  fs.mkdirSync(path.join(site.dir, 'models', 'family'), { recursive: true });
  [model, plain] = makeModel(path.join(site.dir, 'models', 'family'));
  fs.writeFileSync(path.join(site.dir, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>family</title>');
  suite = await h.openSuite(site.dir);
  page = suite.page;
  await page.goto(`${suite.srv.url}blank.html`);
});

after(async () => {
  await h.closeSuite(suite);
  site?.cleanup();
});

// The CLI's CAM ([224][224] float32 .npy) and top class for the same file and image.
function cliCam(file, extra = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-family-'));
  const cam = path.join(tmp, 'cam.npy');
  const out = JSON.parse(h.cli(['explain', path.join(site.dir, 'samples', 'both.png'), '--model', file, '--layer', 'layer2.1', '--cam', cam, '--json', '--threads', '1', ...extra]));
  const b = fs.readFileSync(cam), hl = b.readUInt16LE(8);
  const v = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hl, b.byteOffset + b.length));
  fs.rmSync(tmp, { recursive: true, force: true });
  return { cls: out.class, label: out.label, cam: Array.from(v) };
}

const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test('createGradCam reads the architecture, layers, labels and preprocessing from the file', { timeout: 180000 }, async () => {
  const ref = cliCam(model);
  const r = await page.evaluate(async () => {
    const g = await import('./gradcam.js');
    const gc = await g.createGradCam({ model: 'models/family/bottleneck.safetensors', threads: 1 });
    const d = await g.toImageData(await (await fetch('samples/both.png')).blob());
    const e = await gc.explain(d, { layer: 'layer2.1' });
    let missing = null;
    try { await gc.explain(null, { layer: 'layer4.2' }); } catch (err) { missing = err.message; }
    const out = { arch: gc.arch, layers: gc.layers, labels: gc.labels, inputSize: gc.inputSize, cls: e.classIndex, label: e.label,
      cam: Array.from(e.cam), w: e.width, h: e.height, imgW: d.width, imgH: d.height, missing };
    gc.dispose();
    return out;
  });
  assert.equal(r.arch, 'resnet (bottleneck 1-2-1-1)');
  assert.deepEqual(r.layers, ['conv1', 'relu', 'maxpool', 'layer1', 'layer1.0', 'layer2', 'layer2.0', 'layer2.1', 'layer3', 'layer3.0',
    'layer4', 'layer4.0']);
  assert.deepEqual(r.labels, LABELS, 'the file\'s own labels');
  assert.deepEqual(r.inputSize, [224, 224]);
  assert.match(r.missing, /has no layer 'layer4\.2'/);
  assert.equal(r.cls, ref.cls);
  const d = maxDiff(r.cam, ref.cam);
  console.log(`bottleneck 1-2-1-1, layer2.1: max |CAM(page) - CAM(CLI)| = ${d.toExponential(2)}; overlay ${r.w}x${r.h} of a ${r.imgW}x${r.imgH} image`);
  assert.ok(d <= 1e-5, `CAM differs from the CLI's by ${d}`);
  // Resize(256) + CenterCrop(224): the overlay covers the crop's rectangle, mapped back to the image (api.c
  // gc_view_rect: torchvision's sizes, Python's half-to-even round for the corner, then to the nearest pixel)
  const even = (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
  const [W, H] = [r.imgW, r.imgH], portrait = W <= H, s = portrait ? W : H, l = portrait ? H : W;
  const [rw, rh] = portrait ? [256, Math.trunc(256 * l / s)] : [Math.trunc(256 * l / s), 256];
  const left = even((rw - 224) / 2), top = even((rh - 224) / 2);
  const span = (a, n, full, resized) => Math.round((a + n) * full / resized) - Math.round(a * full / resized);
  assert.deepEqual([r.w, r.h], [span(left, 224, W, rw), span(top, 224, H, rh)], `overlay of the crop of a ${W}x${H} image`);
});

test('createGradCam({mean, std, crop}) overrides equal the CLI\'s --mean/--std/--crop on a file without metadata', { timeout: 180000 }, async () => {
  const ref = cliCam(plain, ['--mean', '0.5,0.5,0.5', '--std', '0.5,0.5,0.5', '--crop', '256']);
  const bare = cliCam(plain);
  const r = await page.evaluate(async () => {
    const g = await import('./gradcam.js');
    const d = await g.toImageData(await (await fetch('samples/both.png')).blob());
    const run = async (opts) => {
      const gc = await g.createGradCam({ model: 'models/family/bottleneck-plain.safetensors', threads: 1, ...opts });
      const e = await gc.explain(d, { layer: 'layer2.1' });
      gc.dispose();
      return { cls: e.classIndex, cam: Array.from(e.cam), labels: gc.labels.slice(0, 2) };
    };
    return { over: await run({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], crop: 256 }), bare: await run({}) };
  });
  assert.equal(r.over.cls, ref.cls);
  assert.ok(maxDiff(r.over.cam, ref.cam) <= 1e-5, 'overrides: CAM as the CLI\'s');
  assert.ok(maxDiff(r.bare.cam, bare.cam) <= 1e-5, 'no metadata, no overrides: ImageNet mean/std and a plain resize, as the CLI');
  assert.ok(maxDiff(r.over.cam, r.bare.cam) > 1e-3, 'the overrides change the picture');
  assert.deepEqual(r.bare.labels, ['class 0', 'class 1']);
});

test('createGradCam: mean/std as "r,g,b" strings equal the arrays; malformed ones reject with one line', { timeout: 180000 }, async () => {
  const ref = cliCam(plain, ['--mean', '0.5,0.5,0.5', '--std', '0.5,0.5,0.5']);
  const r = await page.evaluate(async () => {
    const g = await import('./gradcam.js');
    const d = await g.toImageData(await (await fetch('samples/both.png')).blob());
    const gc = await g.createGradCam({ model: 'models/family/bottleneck-plain.safetensors', threads: 1, mean: ' 0.5, 0.5,0.5', std: '0.5,0.5,0.5' });
    const e = await gc.explain(d, { layer: 'layer2.1' });
    gc.dispose();
    const bad = [];
    for (const o of [{ mean: '1,2' }, { std: '1,0,1' }, { mean: [1, 2, NaN] }, { mean: '1,,2' }, { std: '1,2,3,4' }]) {
      try { await g.createGradCam({ model: 'models/family/bottleneck-plain.safetensors', threads: 1, ...o }); bad.push('accepted'); }
      catch (err) { bad.push(err.message); }
    }
    return { cam: Array.from(e.cam), bad };
  });
  assert.ok(maxDiff(r.cam, ref.cam) <= 1e-5, 'strings: the CAM of --mean/--std');
  for (const m of r.bad) assert.match(m, /^(mean|std): give three (positive )?numbers separated by commas, got '[^\n]*'$/);
});

test('the page: a Bottleneck model dropped in says what it is and lists its layers', { timeout: 180000 }, async () => {
  await page.goto(suite.srv.url); // (this test site has no shapes model: the page's default load fails, which is fine here)
  await page.waitForSelector('#model-file', { state: 'attached' });
  await page.setInputFiles('#model-file', model);
  await page.waitForFunction(() => /bottleneck 1-2-1-1/.test(document.getElementById('model-status').textContent), null, { timeout: 90000 });
  const opts = await page.evaluate(() => Array.from(document.querySelectorAll('#layer option')).map((o) => o.value));
  assert.ok(opts.includes('layer2.1') && !opts.includes('layer4.1'), opts.join(' '));
  assert.match(await page.textContent('#model-status'), /ready, resnet \(bottleneck 1-2-1-1\), 6 classes/);
});

test('the page: the input-size menu defaults to the file\'s own size (gradcam.size) and can leave it and come back', { timeout: 180000 }, async () => {
  await page.goto(suite.srv.url);
  await page.waitForSelector('#model-file', { state: 'attached' });
  await page.setInputFiles('#model-file', path.join(site.dir, 'models', 'family', 'bottleneck-sized.safetensors'));
  await page.waitForFunction(() => /: ready, resnet/.test(document.getElementById('model-status').textContent), null, { timeout: 90000 });
  const menu = () => page.evaluate(() => { const s = document.getElementById('input-size'); return [s.value, s.options[0].textContent]; });
  assert.deepEqual(await menu(), ['', 'the model\'s own (192×160)']);
  const errors = () => page.evaluate(() => document.body.dataset.errors || '0'); // (the site's missing default model counts one)
  const errors0 = await errors();
  // an image, then each menu entry: the page's CAM (at the model input size) has the engine's size
  await page.setInputFiles('#image-file', path.join(site.dir, 'samples', 'both.png'));
  await page.waitForFunction(() => document.body.dataset.camSize === '192x160', null, { timeout: 90000 });
  for (const [pick, want] of [['128', '128x128'], ['', '192x160']]) {
    await page.selectOption('#input-size', pick);
    await page.waitForFunction((w) => document.body.dataset.camSize === w, want, { timeout: 90000 });
  }
  assert.equal(await errors(), errors0);
});

test('<grad-cam-viewer mean std crop>: the overrides reach the engine (the CAM equals the CLI\'s with the same flags)', { timeout: 180000 }, async () => {
  const ref = cliCam(plain, ['--mean', '0.5,0.5,0.5', '--std', '0.5,0.5,0.5', '--crop', '256']);
  await page.goto(`${suite.srv.url}blank.html`);
  const r = await page.evaluate(async () => {
    await import('./grad-cam-viewer.js');
    const v = document.createElement('grad-cam-viewer');
    const done = new Promise((res, rej) => {
      v.addEventListener('gradcam-done', (e) => res(e.detail));
      v.addEventListener('error', (e) => rej(new Error(e.detail.message)));
    });
    Object.entries({ src: 'samples/both.png', model: 'models/family/bottleneck-plain.safetensors', layer: 'layer2.1', loading: 'eager',
      mean: '0.5,0.5,0.5', std: '0.5,0.5,0.5', crop: '256' }).forEach(([k, val]) => v.setAttribute(k, val));
    document.body.append(v);
    const d = await done;
    return { cls: d.explained.index, cam: Array.from(d.cam), layer: d.layer };
  });
  assert.equal(r.cls, ref.cls);
  assert.ok(maxDiff(r.cam, ref.cam) <= 1e-5, `viewer CAM vs CLI: ${maxDiff(r.cam, ref.cam)}`);
});
