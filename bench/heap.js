#!/usr/bin/env node
// bench/heap.js: the WebAssembly memory a model needs, per member of the ResNet family, F16 and F32 files.
//
//   node bench/heap.js [--archs resnet18,resnet34,...] [--sizes 224,448] [--threads 1,2] [--dtypes f16,f32] [--out F.json]
//   node bench/heap.js --models DIR [...]        one bench/models.py folder (what bench/run passes)
//
// Each (model, file dtype, threads, input size) runs in a fresh Node process, because WebAssembly memory only
// grows: its size after the last step is the peak of the whole sequence, and a process reused for a second
// model would start from the first one's peak. The steps are the page's and the CLI's: the engine
// instantiated; the weights file copied into the heap and the context created (the file's bytes freed once
// parsed); one forward of a 224x224 image resized to the model input; Grad-CAM at layer4 (backward to
// layer4, CAM, overlay); Grad-CAM at layer1 (the backward through every stage but the stem, the most
// gradient buffers a layer4..layer1 CAM needs). After each: memory.buffer.byteLength and malloc's live bytes
// (gc_js_heap_used). A step that fails (the build's -sMAXIMUM_MEMORY cap, 2 GB) is reported with its error.
// The engine: $GC_ENGINE (simd by default, lib.js). Models: bench/models.py folders in bench/out, made when
// missing (seeded as the tests seed them, --no-onnx). Figures only: nothing is asserted.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const { ROOT, BUILD, loadEngine, loadRGBA } = require('./lib.js');

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const MB = 1048576;
const FAMILY = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'wide_resnet50_2'];

// ---- the child: one model in one fresh engine; one JSON line on stdout --------------------------------------
async function child(file, threads, size) {
  const out = { steps: [] };
  const M = await loadEngine(threads, { print: () => {}, printErr: () => {} });
  const mem = () => M.HEAPU8.buffer.byteLength; // HEAPU8 is re-made on growth: its buffer is the memory's now
  const used = () => (M._gc_js_heap_used ? M._gc_js_heap_used() : null);
  const step = (name) => out.steps.push({ step: name, memory: mem(), malloc: used() });
  const str = (s) => { const p = M._malloc(s.length + 1); M.stringToUTF8(s, p, s.length + 1); return p; };
  step('engine');
  let j = 0;
  try {
    const bytes = fs.readFileSync(file);
    const p = M._malloc(bytes.length);
    if (!p) throw new Error(`malloc(${bytes.length}) for the file failed`);
    M.HEAPU8.set(bytes, p);
    j = M._gc_js_create(p, bytes.length, -1, size, size); // frees p
    if (!j) throw new Error(M.UTF8ToString(M._gc_js_error(0)));
    out.arch = M._gc_js_arch ? M.UTF8ToString(M._gc_js_arch(j)) : null;
    step('create');
    const img = loadRGBA(path.join(path.dirname(file), 'input224.png'));
    const px = M._malloc(img.rgba.length);
    M.HEAPU8.set(img.rgba, px);
    const ov = M._malloc(img.width * img.height * 4);
    const check = (rc) => { if (rc < 0) throw new Error(M.UTF8ToString(M._gc_js_error(j))); };
    check(M._gc_js_classify(j, px, img.width, img.height));
    step('forward');
    for (const layer of ['layer4', 'layer1']) {
      const L = str(layer);
      check(M._gc_js_classify(j, px, img.width, img.height)); // a fresh forward before each, as a new image
      check(M._gc_js_explain(j, -1, L, 0.5, ov, 0, 0));
      M._free(L);
      step(`gradcam ${layer}`);
    }
  } catch (e) {
    out.error = String(e && e.message || e).split('\n')[0];
    out.memory_at_error = mem();
  }
  out.peak = mem();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

// ---- the parent ---------------------------------------------------------------------------------------------
// bench/run's folder key: sha256 of tests/conftest.py + models/convert + bench/models.py, first 12 hex digits
function modelsDir(arch) {
  const h = crypto.createHash('sha256');
  for (const f of ['tests/conftest.py', 'models/convert', 'bench/models.py']) h.update(fs.readFileSync(path.join(ROOT, f)));
  const key = h.digest('hex').slice(0, 12);
  return path.join(__dirname, 'out', arch === 'resnet18' ? `models-${key}` : `models-${arch}-${key}`);
}
function makeModels(arch, dir) {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, 'models.py'), dir, '--arch', arch, '--f16', '--no-onnx'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench/models.py ${arch} failed`);
}

function main() {
  const threadsList = opt('--threads', '1').split(',').map(Number);
  const sizes = opt('--sizes', '224').split(',').map(Number);
  const dtypes = opt('--dtypes', 'f16,f32').split(',');
  const outFile = opt('--out', path.join(__dirname, 'out', 'heap.json'));
  let sets; // [arch or null, dir]
  if (opt('--models')) sets = [[null, opt('--models')]];
  else sets = opt('--archs', FAMILY.join(',')).split(',').map((a) => [a, modelsDir(a)]);
  const log = (s) => process.stderr.write(`heap: ${s}\n`);
  const rows = [];
  for (const [arch, dir] of sets) {
    if (arch) makeModels(arch, dir);
    for (const dtype of dtypes) {
      const file = path.join(dir, dtype === 'f16' ? 'seeded-f16.safetensors' : 'seeded.safetensors');
      if (!fs.existsSync(file)) { log(`${file}: missing (bench/models.py --f16 makes it)`); continue; }
      for (const size of sizes) {
        for (const T of threadsList) {
          const t0 = Date.now();
          const r = spawnSync(process.execPath, [__filename, '--child', file, String(T), String(size)],
            { encoding: 'utf8', maxBuffer: 1 << 24, env: process.env });
          const line = (r.stdout || '').trim().split('\n').pop();
          let res;
          try { res = JSON.parse(line); } catch { res = { error: `child exited ${r.status} ${r.signal || ''}: ${(r.stderr || '').trim().split('\n').pop()}`, steps: [] }; }
          const row = { arch: res.arch || arch, file: path.basename(file), dtype, file_bytes: fs.statSync(file).size, threads: T, size, ...res, seconds: (Date.now() - t0) / 1000 };
          rows.push(row);
          const s = Object.fromEntries(row.steps.map((x) => [x.step, x.memory]));
          log(`${row.arch} ${dtype} ${size}x${size} ${T}t: ${['create', 'forward', 'gradcam layer4', 'gradcam layer1'].map((k) => (s[k] ? (s[k] / MB).toFixed(0) : '—')).join(' / ')} MB${row.error ? `  error: ${row.error}` : ''} (${row.seconds.toFixed(0)} s)`);
        }
      }
    }
  }
  const meta = { date: new Date().toISOString(), build: BUILD, engine: process.env.GC_ENGINE || 'simd', node: process.version, load: fs.readFileSync('/proc/loadavg', 'utf8').trim() };
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify({ meta, rows }, null, 1));
  console.log(table(rows, meta).join('\n'));
}

// The table (bench/report.mjs prints the same one from heap.json)
function table(rows, meta) {
  const f = (b) => (b == null ? '—' : (b / MB).toFixed(0));
  const lines = [`WebAssembly memory (MB = 2^20 bytes; memory only grows, so the last column is the peak), ${meta.engine} engine, ${meta.date}`,
    '| model | file | input | threads | engine up | after create | after forward | after Grad-CAM layer4 | after Grad-CAM layer1 = peak | malloc live at the end |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const s = Object.fromEntries(r.steps.map((x) => [x.step, x]));
    const m = (k) => f(s[k] && s[k].memory);
    const last = r.steps[r.steps.length - 1];
    lines.push(`| ${r.arch} | ${r.dtype.toUpperCase()} ${f(r.file_bytes)} MB | ${r.size}×${r.size} | ${r.threads} | ${m('engine')} | ${m('create')} | ${m('forward')} | ${m('gradcam layer4')} | ${r.error ? `${f(r.peak)} (failed: ${r.error})` : f(r.peak)} | ${f(last && last.malloc)} |`);
  }
  // Where two sizes of one model ran to the end: peak = a + b * pixels through the two largest (activations
  // and their gradients scale with the pixels, the weights do not), solved for the largest square input
  // under 2 GiB (this build's -sMAXIMUM_MEMORY) and 4 GiB (wasm32's ceiling). An extrapolation, labelled so.
  const groups = {};
  for (const r of rows) if (!r.error) (groups[`${r.arch}|${r.dtype}|${r.threads}`] ||= []).push(r);
  const fits = Object.values(groups).filter((g) => new Set(g.map((r) => r.size)).size > 1);
  if (fits.length) {
    lines.push('', 'Extrapolated from the two largest sizes measured (peak = a + b × pixels): the largest square input that fits',
      '| model | file | threads | a (MB) | b (bytes per input pixel) | ≤ 2 GiB | ≤ 4 GiB |', '|---|---|---|---|---|---|---|');
    for (const g of fits) {
      const [p, q] = [...g].sort((x, y) => y.size - x.size);
      const b = (p.peak - q.peak) / (p.size ** 2 - q.size ** 2), a = p.peak - b * p.size ** 2;
      const side = (cap) => (b > 0 ? Math.floor(Math.sqrt((cap - a) / b)) : Infinity);
      lines.push(`| ${p.arch} | ${p.dtype.toUpperCase()} | ${p.threads} | ${f(a)} | ${b.toFixed(0)} | ${side(2 ** 31)}² | ${side(2 ** 32)}² |`);
    }
  }
  return lines;
}

if (require.main === module) {
  if (args[0] === '--child') child(args[1], Number(args[2]), Number(args[3]));
  else main();
}
module.exports = { table };
