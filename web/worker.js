// worker.js: the classic worker that owns one engine instance (gradcam-engine.js/.wasm) and one model.
//
// It is classic, not a module worker, because the emscripten glue (MODULARIZE, not ES6) is loaded with
// importScripts. gradcam.js (the public API) is the only thing that talks to it, with messages
//   {id, op, ...args}  →  {id, ok: true, result} | {id, ok: false, error: "one line"}
// handled strictly one after another. Pixels arrive as transferred ArrayBuffers, are copied once into
// the wasm heap (and kept there, so a re-explain with another class or layer needs no pixels), and the
// results are copied out of the heap once into fresh buffers that are transferred back.
'use strict';

let engine = null;   // the emscripten module, after init
let engineUsed = ''; // its URL
let ctx = 0;         // gc_js * (the context), 0 when no model
let numClasses = 0;
let inW = 224, inH = 224;
// The image of the last classify, in the heap: explain() works on it without receiving pixels again.
// `stale`: the input size changed since it was classified, so it must be classified again first.
const img = { ptr: 0, w: 0, h: 0, stale: false };

function fail(msg) {
  throw new Error(String(msg).split('\n')[0]);
}

// Start the first engine of `urls` that loads (e.g. the threaded build, then the plain one). Returns
// the URL that worked; every failure is remembered so the last one can be reported.
async function loadEngine(urls, threads) {
  if (engine) return engineUsed;
  let why = 'no engine given';
  for (const engineUrl of urls) {
    try {
      importScripts(engineUrl);
    } catch (e) {
      why = `cannot load the engine script ${engineUrl}`;
      continue;
    }
    if (typeof createGradcam !== 'function') { why = `${engineUrl} is not the gradcam engine`; continue; }
    let abortMsg = '';
    try {
      // eslint-disable-next-line no-undef
      engine = await createGradcam({
        noInitialRun: true,
        // This worker runs from a blob: URL (see gradcam.js), against which emscripten cannot resolve
        // its files: everything it loads (the .wasm, a threads build's helpers) sits beside the glue.
        locateFile: (f) => new URL(f, engineUrl).href,
        mainScriptUrlOrBlob: engineUrl, // where a threads build's workers load the glue from
        gcThreads: threads || undefined, // threads build only (cmake/threads-pre.js): pool size + 1
        print: () => {},
        printErr: (s) => { abortMsg = s; },
        onAbort: (what) => { abortMsg = String(what); },
      });
      engineUsed = engineUrl;
      return engineUsed;
    } catch (e) {
      const m = (e && e.message) || String(e);
      why = `the WebAssembly engine failed to start: ${/CompileError|SIMD|simd/i.test(m) ? 'this browser lacks WebAssembly SIMD' : abortMsg || m}`;
    }
  }
  fail(why);
}

// Heap views are re-read after every call into the engine: memory growth replaces the buffer.
const u8 = () => engine.HEAPU8;

function copyIn(bytes) {
  const p = engine._malloc(bytes.byteLength);
  if (!p) fail('out of memory in the engine');
  u8().set(bytes, p);
  return p;
}

function copyOut(p, nbytes) {
  return u8().slice(p, p + nbytes).buffer; // one copy, into a buffer we can transfer
}

function lastError(ofCtx) {
  return engine.UTF8ToString(engine._gc_js_error(ofCtx)) || 'unknown engine error';
}

function dropContext() {
  if (img.ptr) engine._free(img.ptr);
  img.ptr = 0;
  if (ctx) engine._gc_js_destroy(ctx);
  ctx = 0;
}

function timings() {
  const p = engine._gc_js_timings(ctx) >> 3;
  const f = engine.HEAPF64;
  return { forward: f[p], backward: f[p + 1], cam: f[p + 2], render: f[p + 3] };
}

function topList() {
  const n = Math.min(5, numClasses);
  const t = engine._gc_js_top(ctx) >> 2, pp = engine._gc_js_probs(ctx) >> 2;
  const top = [];
  for (let i = 0; i < n; i++) {
    const index = engine.HEAP32[t + i];
    top.push({ index, prob: engine.HEAPF32[pp + index] });
  }
  return top;
}

function classifyStored() {
  if (engine._gc_js_classify(ctx, img.ptr, img.w, img.h) !== 0) fail(lastError(ctx));
  img.stale = false;
}

const ops = {
  async init({ engineUrls, threads, weights, multilabel, width, height }) {
    const used = await loadEngine(engineUrls, threads);
    dropContext();
    const bytes = new Uint8Array(weights);
    const p = copyIn(bytes);
    // multilabel: 1 sigmoid, 0 softmax, -1 let the engine read it from the file's metadata
    // the engine takes the copy and frees it as soon as it is parsed (a lower peak than freeing it here)
    ctx = engine._gc_js_create(p, bytes.byteLength, multilabel, width || 224, height || 224);
    if (!ctx) fail(lastError(0));
    numClasses = engine._gc_js_num_classes(ctx);
    inW = width || 224; inH = height || 224;
    return { numClasses, width: inW, height: inH, engine: used };
  },

  setInputSize({ width, height }) {
    if (!ctx) fail('no model loaded');
    if (engine._gc_js_set_input_size(ctx, width, height) !== 0) fail(lastError(ctx));
    inW = width; inH = height;
    img.stale = true;
    return { width, height };
  },

  // pixels: RGBA [h][w][4] as an ArrayBuffer. Keeps the image for later explains.
  classify({ pixels, width, height, wantProbs }) {
    if (!ctx) fail('no model loaded');
    if (!(pixels instanceof ArrayBuffer) || pixels.byteLength !== width * height * 4) fail('bad pixel buffer');
    if (img.ptr) engine._free(img.ptr);
    img.ptr = 0;
    img.ptr = copyIn(new Uint8Array(pixels));
    img.w = width; img.h = height;
    classifyStored();
    const out = { top: topList(), timings: timings() };
    const transfer = [];
    if (wantProbs) {
      out.probs = copyOut(engine._gc_js_probs(ctx), numClasses * 4);
      transfer.push(out.probs);
    }
    return [out, transfer];
  },

  // Explain the stored image (after classifying the given pixels, if any). alpha is the image weight
  // of the overlay (pytorch-grad-cam's image_weight, the CLI's --alpha).
  explain({ pixels, width, height, classIndex, layer, alpha, overlay = true, heatmap = true, cam = true, wantProbs }) {
    if (!ctx) fail('no model loaded');
    let classified = null, transfer = [];
    if (pixels) [classified, transfer] = ops.classify({ pixels, width, height, wantProbs });
    else if (!img.ptr) fail('no image to explain');
    else if (img.stale) classifyStored();
    const { w, h } = img;
    const cls = classIndex == null ? -1 : classIndex;
    if (!Number.isInteger(cls) || cls < -1 || cls >= numClasses) fail(`class ${classIndex} out of range (0..${numClasses - 1})`);
    const a = alpha == null ? 0.5 : Number(alpha);
    const name = String(layer || 'layer4');
    const nameLen = engine.lengthBytesUTF8(name) + 1;
    const bufs = { layer: engine._malloc(nameLen), overlay: 0, heat: 0, cam: 0 };
    try {
      engine.stringToUTF8(name, bufs.layer, nameLen);
      if (overlay) bufs.overlay = engine._malloc(w * h * 4);
      if (heatmap) bufs.heat = engine._malloc(w * h * 4);
      if (cam) bufs.cam = engine._malloc(inW * inH * 4);
      if (!bufs.layer || (overlay && !bufs.overlay) || (heatmap && !bufs.heat) || (cam && !bufs.cam)) fail('out of memory in the engine');
      const got = engine._gc_js_explain(ctx, cls, bufs.layer, a, bufs.overlay, bufs.heat, bufs.cam);
      if (got < 0) fail(lastError(ctx));
      const pp = engine._gc_js_probs(ctx) >> 2;
      const out = {
        classIndex: got, prob: engine.HEAPF32[pp + got], layer: name, width: w, height: h,
        camWidth: inW, camHeight: inH, timings: timings(),
        top: classified ? classified.top : topList(),
      };
      if (classified) out.timings.forward = classified.timings.forward;
      if (classified?.probs) out.probs = classified.probs; // already in `transfer`
      else if (wantProbs) transfer.push(out.probs = copyOut(engine._gc_js_probs(ctx), numClasses * 4));
      if (overlay) transfer.push(out.overlay = copyOut(bufs.overlay, w * h * 4));
      if (heatmap) transfer.push(out.heatmap = copyOut(bufs.heat, w * h * 4));
      if (cam) transfer.push(out.cam = copyOut(bufs.cam, inW * inH * 4));
      return [out, transfer];
    } finally {
      for (const p of Object.values(bufs)) if (p) engine._free(p);
    }
  },

  dispose() {
    if (engine) dropContext();
    return null;
  },
};

// One message at a time, in order: the engine is single-threaded and the image state is shared.
let queue = Promise.resolve();
self.onmessage = (e) => {
  const { id, op, ...args } = e.data || {};
  queue = queue.then(async () => {
    try {
      if (!ops[op]) fail(`unknown operation ${op}`);
      let r = await ops[op](args);
      let transfer = [];
      if (Array.isArray(r)) [r, transfer] = r;
      self.postMessage({ id, ok: true, result: r }, transfer);
    } catch (err) {
      const msg = (err && err.message) || String(err);
      self.postMessage({ id, ok: false, error: msg.split('\n')[0] });
    }
  });
};
