// bench/lib.js: what the Node-side benchmark scripts share: loading the engine (single-threaded or
// threaded, the same .wasm the page and the CLI run), a PNG reader, statistics.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const BUILD = process.env.GC_BUILD || path.join(ROOT, 'build');

// The engine module. threads > 1 loads the threaded build (gradcam-node-mt.js + web/gradcam-engine-mt.wasm)
// with a worker pool for that many threads; the context then uses them all (gc_js_create: threads = 0 =
// every thread the pool allows). engine: 'simd' (the default) or 'relaxed' (gradcam-node-relaxed[-mt].js +
// web/gradcam-engine-relaxed[-mt].wasm, fused multiply-add), default $GC_ENGINE.
function engineFiles(threads = 1, engine = process.env.GC_ENGINE || 'simd') {
  if (engine !== 'simd' && engine !== 'relaxed') throw new Error(`bench: engine '${engine}' is not simd or relaxed`);
  const sfx = (engine === 'relaxed' ? '-relaxed' : '') + (threads > 1 ? '-mt' : '');
  return { glue: path.join(BUILD, `gradcam-node${sfx}.js`), wasm: path.join(BUILD, 'web', `gradcam-engine${sfx}.wasm`) };
}
function hasEngine(engine, threads = 1) {
  const f = engineFiles(threads, engine);
  return fs.existsSync(f.glue) && fs.existsSync(f.wasm);
}
const hasThreaded = (engine) => hasEngine(engine, 2);
function loadEngine(threads = 1, extra = {}, engine = process.env.GC_ENGINE || 'simd') {
  const f = engineFiles(threads, engine);
  if (!hasEngine(engine, threads)) throw new Error(`no ${path.basename(f.glue)} + web/${path.basename(f.wasm)} in ${BUILD}: scripts/build makes them`);
  // Node 20 validates relaxed SIMD only with this V8 flag; set before anything compiles, it holds for the
  // engine's worker threads too.
  if (engine === 'relaxed') require('v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
  return require(f.glue)({
    noInitialRun: true,
    gcThreads: threads,
    locateFile: (n) => (n.endsWith('.wasm') ? f.wasm : path.join(BUILD, n)),
    ...extra,
  });
}

// A context on weights (a Buffer), the model input 224x224; throws with the engine's message.
function createContext(M, weights) {
  const p = M._malloc(weights.length);
  M.HEAPU8.set(weights, p);
  const j = M._gc_js_create(p, weights.length, -1, 224, 224); // frees p
  if (!j) throw new Error(M.UTF8ToString(M._gc_js_error(0)));
  return j;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return { median: n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, min: s[0], max: s[n - 1], n };
}

// Minimal PNG reader (8-bit RGB/RGBA, non-interlaced) with Node's zlib → canvas-like RGBA.
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

// One engine on one image: forward (gc_js_classify: RGBA → resize → normalise → forward), a full
// Grad-CAM (classify + explain at layer with the overlay drawn), and the gradient to the pixels.
// Every call returns wall times measured here plus the engine's own split (C timers).
class Bench {
  constructor(M, j, img, layer = 'layer4') {
    Object.assign(this, { M, j, img, layer });
    const heap = (bytes) => { const p = M._malloc(bytes.length); M.HEAPU8.set(bytes, p); return p; };
    const cstr = (s) => { const p = M._malloc(s.length + 1); M.stringToUTF8(s, p, s.length + 1); return p; };
    this.px = heap(img.rgba);
    this.ov = M._malloc(img.width * img.height * 4);
    this.L = cstr(layer);
    this.I = cstr('input');
    this.tm = M._gc_js_timings(j) >> 3;
  }
  check(rc) { if (rc < 0) throw new Error(this.M.UTF8ToString(this.M._gc_js_error(this.j))); }
  // wall: ms; cpu: ms of CPU time of the whole process meanwhile (every thread, spinning included), which
  // other load on the machine stretches far less than wall time (at one thread: the forward's own work)
  forward() {
    const { M, j, img } = this;
    const c0 = process.cpuUsage(), t0 = performance.now();
    this.check(M._gc_js_classify(j, this.px, img.width, img.height));
    const wall = performance.now() - t0, c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1000, engine: M.HEAPF64[this.tm] };
  }
  explain(target) { // after a forward
    const { M, j } = this;
    const c0 = process.cpuUsage(), t0 = performance.now();
    this.check(M._gc_js_explain(j, -1, target === 'input' ? this.I : this.L, 0.5, target === 'input' ? 0 : this.ov, 0, 0));
    const wall = performance.now() - t0, c = process.cpuUsage(c0);
    const T = M.HEAPF64.subarray(this.tm, this.tm + 4);
    return { wall, cpu: (c.user + c.system) / 1000, backward: T[1], cam: T[2], render: T[3] };
  }
  // A full explanation with any method (classify + the stepwise job in one step + the overlay), as the
  // CLI and the page run it. flags: 1 eigen_smooth, 2 aug_smooth, 4 metrics.
  method(name, layer = this.layer, flags = 0) {
    const { M, j, img } = this;
    const cstr = (s) => { const p = M._malloc(s.length + 1); M.stringToUTF8(s, p, s.length + 1); return p; };
    const m = cstr(name), L = cstr(layer);
    const t0 = performance.now();
    this.check(M._gc_js_classify(j, this.px, img.width, img.height));
    this.check(M._gc_js_explain_begin(j, -1, L, m, flags, 0, 0, 0));
    this.check(M._gc_js_step(j, Infinity));
    this.check(M._gc_js_render(j, 0.5, this.ov, 0, 0));
    const wall = performance.now() - t0;
    M._free(m); M._free(L);
    return { wall };
  }
  // one round of all three rows
  round() {
    const f1 = this.forward(), e = this.explain(this.layer);
    const f2 = this.forward(), p = this.explain('input');
    return {
      forward: f1.wall, forward_cpu: f1.cpu, forward_engine: f1.engine,
      gradcam: f1.wall + e.wall, gradcam_backward: e.backward, gradcam_cam_render: e.cam + e.render,
      pixels: f2.wall + p.wall, pixels_backward: p.backward,
      // CPU time of the process (ms, every thread): at one thread the work itself, which other load on the
      // machine stretches far less than wall time (bench/torch_vs_engine.py measures PyTorch's the same way)
      gradcam_cpu: f1.cpu + e.cpu, pixels_cpu: f2.cpu + p.cpu,
    };
  }
  memory() {
    const r = process.memoryUsage();
    return { wasm_heap: this.M.HEAPU8.length, rss: r.rss, max_rss: process.resourceUsage().maxRSS * 1024 };
  }
}

module.exports = { ROOT, BUILD, engineFiles, hasEngine, hasThreaded, loadEngine, createContext, stats, loadRGBA, Bench };
