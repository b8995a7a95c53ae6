#!/usr/bin/env node
// bench/engine.js: time the engine (the page's .wasm, run under Node) on one image.
//
//   node bench/engine.js [--model F.safetensors] [--image PNG] [--runs N] [--layer L] [--threads N] [--engine simd|relaxed]
//
// Rows: forward only; forward + backward to the layer + CAM + overlay (a full explain); backward all
// the way to the input pixels. Median and min–max of N runs after one warm-up, and ratios to forward.
// --threads N > 1 runs the threaded build; --engine relaxed the relaxed-SIMD one (default $GC_ENGINE or simd). Prints figures only: nothing here is a test.
'use strict';
const fs = require('fs');
const path = require('path');
const { BUILD, ROOT, loadEngine, createContext, stats, loadRGBA, Bench } = require('./lib.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const modelPath = opt('--model', path.join(BUILD, 'web/models/shapes/resnet18-shapes.safetensors'));
const imagePath = opt('--image', path.join(ROOT, '..', 'shared/images/both.png'));
const runs = +opt('--runs', 10);
const layer = opt('--layer', 'layer4');
const threads = +opt('--threads', 1);
const engine = opt('--engine', process.env.GC_ENGINE || 'simd');

loadEngine(threads, {}, engine).then((M) => {
  const img = loadRGBA(imagePath);
  const b = new Bench(M, createContext(M, fs.readFileSync(modelPath)), img, layer);
  const rows = { forward: [], gradcam: [], pixels: [] };
  for (let r = 0; r <= runs; r++) {
    const o = b.round();
    if (r) for (const k in rows) rows[k].push(o[k]); // r = 0: warm-up
  }
  const fwd = stats(rows.forward).median;
  console.log(`engine: ${path.basename(modelPath)}, ${img.width}x${img.height} → 224x224, ${runs} runs, ${threads} thread${threads > 1 ? 's' : ''}, ${engine} engine, Node ${process.version}`);
  for (const [name, label] of [['forward', 'forward'], ['gradcam', `forward + backward to ${layer} + CAM + overlay`], ['pixels', 'forward + backward to the pixels']]) {
    const s = stats(rows[name]);
    console.log(`${label.padEnd(48)} ${s.median.toFixed(1).padStart(8)} ms  (${s.min.toFixed(1)}–${s.max.toFixed(1)})  ×${(s.median / fwd).toFixed(2)}`);
  }
  console.log(`wasm heap: ${(M.HEAPU8.length / 1048576).toFixed(0)} MB`);
  process.exit(0);
});
