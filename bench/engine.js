#!/usr/bin/env node
// bench/engine.js: time the engine (the page's .wasm, run under Node) on one image.
//
//   node bench/engine.js [--model F.safetensors] [--image PNG/JPG] [--runs N] [--layer L]
//
// Rows: forward only; forward + backward to the layer + CAM + overlay (a full explain); backward all
// the way to the input pixels. Median and min–max of N runs after one warm-up, and ratios to forward.
// Prints figures only: nothing here is a test.
'use strict';
const fs = require('fs');
const path = require('path');
const build = path.join(__dirname, '..', 'build');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const modelPath = opt('--model', path.join(build, 'web/models/shapes/resnet18-shapes.safetensors'));
const imagePath = opt('--image', path.join(__dirname, '..', '..', 'shared/images/both.png'));
const runs = +opt('--runs', 10);
const layer = opt('--layer', 'layer4');

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
}

require(path.join(build, 'gradcam-node.js'))({
  noInitialRun: true,
  locateFile: () => path.join(build, 'web/gradcam-engine.wasm'),
}).then((M) => {
  const heap = (bytes) => { const p = M._malloc(bytes.length); M.HEAPU8.set(bytes, p); return p; };
  const w = fs.readFileSync(modelPath);
  const wp = heap(w);
  const j = M._gc_js_create(wp, w.length, -1, 224, 224);
  M._free(wp);
  if (!j) throw new Error(M.UTF8ToString(M._gc_js_error(0)));
  // Canvas-like RGBA pixels, as the page hands them over (PNG decoded below with Node's zlib).
  const { rgba, width, height } = loadRGBA(imagePath);
  const px = heap(rgba);
  const ov = M._malloc(width * height * 4), cam = M._malloc(224 * 224 * 4);
  const cstr = (s) => { const p = M._malloc(s.length + 1); M.stringToUTF8(s, p, s.length + 1); return p; };
  const L = cstr(layer), I = cstr('input');
  const t = () => performance.now();
  const rows = { forward: [], explain: [], pixels: [] };
  for (let r = 0; r <= runs; r++) {
    let t0 = t();
    if (M._gc_js_classify(j, px, width, height)) throw new Error(M.UTF8ToString(M._gc_js_error(j)));
    const f = t() - t0;
    t0 = t();
    if (M._gc_js_explain(j, px, width, height, -1, L, 0.5, ov, 0, cam) < 0) throw new Error(M.UTF8ToString(M._gc_js_error(j)));
    const e = t() - t0;
    t0 = t();
    M._gc_js_explain(j, px, width, height, -1, I, 0.5, 0, 0, 0);
    const p = t() - t0;
    if (r) { rows.forward.push(f); rows.explain.push(f + e); rows.pixels.push(f + p); } // r = 0: warm-up
  }
  const fwd = stats(rows.forward).median;
  console.log(`engine: ${path.basename(modelPath)}, ${width}x${height} → 224x224, ${runs} runs, 1 thread, Node ${process.version}`);
  for (const [name, label] of [['forward', 'forward'], ['explain', `forward + backward to ${layer} + CAM + overlay`], ['pixels', 'forward + backward to the pixels']]) {
    const s = stats(rows[name]);
    console.log(`${label.padEnd(48)} ${s.median.toFixed(1).padStart(8)} ms  (${s.min.toFixed(1)}–${s.max.toFixed(1)})  ×${(s.median / fwd).toFixed(2)}`);
  }
  console.log(`wasm heap: ${(M.HEAPU8.length / 1048576).toFixed(0)} MB`);
});

// Minimal PNG reader (8-bit RGB/RGBA, non-interlaced) with Node's zlib: enough for the shared photos.
function loadRGBA(file) {
  const zlib = require('zlib');
  const b = fs.readFileSync(file);
  let off = 8, width = 0, height = 0, ctype = 0;
  const idat = [];
  while (off < b.length) {
    const len = b.readUInt32BE(off), type = b.toString('ascii', off + 4, off + 8);
    const data = b.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') { width = data.readUInt32BE(0); height = data.readUInt32BE(4); ctype = data[9]; if (data[8] !== 8 || data[12]) throw new Error('bench: 8-bit non-interlaced PNG only'); }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const ch = ctype === 6 ? 4 : ctype === 2 ? 3 : 0;
  if (!ch) throw new Error('bench: RGB or RGBA PNG only');
  const raw = zlib.inflateSync(Buffer.concat(idat)), stride = width * ch;
  const out = new Uint8Array(width * height * 4), prev = new Uint8Array(stride), cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= ch ? cur[x - ch] : 0, up = prev[x], c = x >= ch ? prev[x - ch] : 0;
      let v = line[x];
      if (f === 1) v += a; else if (f === 2) v += up; else if (f === 3) v += (a + up) >> 1;
      else if (f === 4) { const p = a + up - c, pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c; }
      cur[x] = v & 255;
    }
    for (let x = 0; x < width; x++) for (let k = 0; k < 4; k++) out[(y * width + x) * 4 + k] = k < ch ? cur[x * ch + k] : 255;
    prev.set(cur);
  }
  return { rgba: out, width, height };
}
