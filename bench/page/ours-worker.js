// ours-worker.js: one instance of our engine in a classic worker, as the page's own worker runs it.
// threads 1: gradcam-engine.js (single-threaded build); N > 1: gradcam-engine-mt.js (threaded build, N
// threads: Module.gcThreads sizes the pthread pool, the context takes them all); engine 'relaxed': the
// relaxed-SIMD builds of the same (gradcam-engine-relaxed[-mt].js).
'use strict';
let M, ctx, px, ov, layerPtr = 0, tm;
const W = 224, H = 224;

async function init({ threads, engine = 'simd' }) {
  const mt = threads > 1;
  const js = `gradcam-engine${engine === 'relaxed' ? '-relaxed' : ''}${mt ? '-mt' : ''}.js`;
  importScripts(js);
  const base = self.location.href;
  M = await createGradcam({
    noInitialRun: true,
    gcThreads: threads,
    // a worker has no document.currentScript: the pthread workers need the glue's URL spelled out
    mainScriptUrlOrBlob: new URL(js, base).href,
    locateFile: (f) => new URL(f.endsWith('.wasm') ? js.replace(/\.js$/, '.wasm') : f, base).href,
    print: () => {}, printErr: () => {},
  });
  const weights = new Uint8Array(await (await fetch('models/seeded.safetensors')).arrayBuffer());
  const rgba = new Uint8Array(await (await fetch('models/input224.rgba')).arrayBuffer());
  let p = M._malloc(weights.length);
  M.HEAPU8.set(weights, p);
  ctx = M._gc_js_create(p, weights.length, -1, W, H); // frees p
  if (!ctx) throw new Error(M.UTF8ToString(M._gc_js_error(0)));
  px = M._malloc(rgba.length);
  M.HEAPU8.set(rgba, px);
  ov = M._malloc(W * H * 4);
  tm = M._gc_js_timings(ctx) >> 3;
  return { engine: js, threads, crossOriginIsolated: self.crossOriginIsolated, heap: M.HEAPU8.length,
    classes: M._gc_js_num_classes ? M._gc_js_num_classes(ctx) : null };
}

function check(rc) { if (rc < 0) throw new Error(M.UTF8ToString(M._gc_js_error(ctx))); }

function forward() {
  const t0 = performance.now();
  check(M._gc_js_classify(ctx, px, W, H));
  const ms = performance.now() - t0;
  const probs = new Float32Array(M.HEAPF32.buffer, M._gc_js_probs(ctx), 1000);
  let top = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[top]) top = i;
  return { ms, engine_ms: M.HEAPF64[tm], top, p_top: probs[top] };
}

function explain({ layer = 'layer4', classify = false }) {
  const t0 = performance.now();
  if (classify) check(M._gc_js_classify(ctx, px, W, H));
  if (layerPtr) M._free(layerPtr);
  layerPtr = M._malloc(layer.length + 1);
  M.stringToUTF8(layer, layerPtr, layer.length + 1);
  check(M._gc_js_explain(ctx, -1, layerPtr, 0.5, ov, 0, 0));
  return { ms: performance.now() - t0, backward_ms: M.HEAPF64[tm + 1] };
}

self.onmessage = async (e) => {
  const { id, cmd } = e.data;
  try {
    let result;
    if (cmd === 'init') result = await init(e.data);
    else if (cmd === 'forward') result = forward();
    else if (cmd === 'explain') result = explain(e.data);
    else if (cmd === 'memory') result = { wasm_heap: M.HEAPU8.length };
    else throw new Error(`unknown command ${cmd}`);
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
