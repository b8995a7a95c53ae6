// worker.js: the classic worker that owns one engine instance (gradcam-engine.js/.wasm) and one model,
// shared by one or more clients (gradcam.js instances: every viewer of a page that names the same model
// uses this one worker, so the weights are fetched once and held once).
//
// It is classic, not a module worker, because the emscripten glue (MODULARIZE, not ES6) is loaded with
// importScripts. gradcam.js (the public API) is the only thing that talks to it, with messages
//   {id, op, client, ...args}  →  {id, ok: true, result} | {id, ok: false, error: "one line", aborted?: true}
//   and, while an explain runs, {id, progress} (0..1) between its steps
// handled one job after another. `client` names the instance a job is for: each client has its own
// image, input size and finished explanation; the model and the engine's buffers are shared. Pixels
// arrive as transferred ArrayBuffers, are copied once into the wasm heap (and kept there, per client,
// so a re-explain with another class or layer needs no pixels), and the results are copied out of the
// heap once into fresh buffers that are transferred back. The engine context holds the network state of
// one image at a time (`owner`): a client whose image is not the one in the context gets it classified
// again from its stored pixels first (the same numbers; one forward pass).
//
// An explanation is an engine job run in steps of ~50 ms (_gc_js_step): Score-CAM is one network pass
// per channel, ~40 s at layer4. Between steps the worker posts progress and yields to its event loop,
// so that two messages are seen while a job runs, on arrival (not queued behind it):
//   {op: 'cancel', id}   stops explain `id` (_gc_js_cancel at once; the engine restores its state) and
//                        answers it {ok: false, aborted: true, error: 'cancelled'}; a queued one never runs
//   {op: 'explain', ...} the newest request of a client wins: it cancels that client's running explain
//                        (and any queued one) first, which are answered {aborted: true, error: 'cancelled: ...'};
//                        other clients' jobs are not touched (they wait their turn)
//   {op: 'stats'}        answered at once: the wasm heap's size (and the bytes malloc holds, when the
//                        engine exports gc_js_heap_used), clients, queue, and explain counters
// A client's explains that are still queued when a newer one of it arrives never start: they are answered
// at once (aborted), so under a burst (webcam frames, a slider dragged) only the newest is computed. An
// explain that brings pixels stores them even when cancelled (a dropped one hands them to the explain
// that replaced it when that one brings none), so that a later explain(null) always works on the last
// image sent. A trap in the engine (WebAssembly.RuntimeError, an emscripten abort) leaves its memory in no
// known state: that job and every later one is answered {fatal: true}, and gradcam.js starts a new worker.
// A finished explanation is kept: asking again for the same one (only the style differs: opacity,
// colormap, display mode, greyscale) just draws it again, without running the method a second time.
'use strict';

let engine = null;   // the emscripten module, after init
let engineUsed = ''; // its URL
let ctx = 0;         // gc_js * (the context), 0 when no model
let numClasses = 0;
// The clients: id → {ptr, w, h (the image of its last classify, in the heap: explain() works on it without
// receiving pixels again), inW, inH (its model input size)}.
const clients = new Map();
let owner = null;          // the client whose image the context's network state belongs to
let ctxW = 224, ctxH = 224; // the context's input size
// The client whose finished explanation is the engine's current one (it draws from that), or null. Each
// client keeps its last one as c.done = {key, metrics, saved}: saved is a copy in the heap
// (_gc_js_save), put back (_gc_js_restore, after classifying its image again if another client's was
// there) when only its style changes, so that a redraw never runs the method again.
let live = null;
const STEP_MS = 50; // per step: short enough for a prompt Cancel, long enough to keep the overhead small
// _gc_js_explain_begin's flags: bits 1..16, and the sign (0 positive, 1 negative, 2 all) from bit 5 on.
const FLAGS = { eigenSmooth: 1, augSmooth: 2, metrics: 4, raw: 8, nearest: 16 };
const SIGNS = ['positive', 'negative', 'all'];
const MODES = ['blended_heat_map', 'heat_map', 'masked_image', 'alpha_scaling'];

const wallNow = () => performance.timeOrigin + performance.now();
let fatal = '';      // why the engine cannot be trusted any more (an abort or a trap), '' while it can
// explains: asked for; computed: ran the method or redrew a kept one; dropped: never started (replaced,
// cancelled or disposed while queued); stopped: cancelled while running
const counts = { explains: 0, computed: 0, dropped: 0, stopped: 0 };

function fail(msg) {
  throw new Error(String(msg).split('\n')[0]);
}
// A job that stopped because it was asked to (the reply carries aborted: true).
function abort(msg) {
  throw Object.assign(new Error(msg), { aborted: true });
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
        // after start-up, an abort (a failed assertion, an allocation that must not fail) ends this engine
        onAbort: (what) => { abortMsg = String(what); if (engine) fatal = abortMsg.split('\n')[0] || 'the engine aborted'; },
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

// s as a C string in the heap; the caller frees it when the engine is done with it.
function cString(s) {
  const n = engine.lengthBytesUTF8(s) + 1, p = engine._malloc(n);
  if (!p) fail('out of memory in the engine');
  engine.stringToUTF8(s, p, n);
  return p;
}

function lastError(ofCtx) {
  return engine.UTF8ToString(engine._gc_js_error(ofCtx)) || 'unknown engine error';
}

function forget(c) { // the client's kept explanation
  if (c.done?.saved) engine._gc_js_saved_free(c.done.saved);
  c.done = null;
  if (live === c) live = null;
}

function dropContext() {
  live = null;
  owner = null;
  for (const c of clients.values()) {
    forget(c);
    if (c.ptr) engine._free(c.ptr);
  }
  clients.clear();
  if (ctx) engine._gc_js_destroy(ctx);
  ctx = 0;
}

function clientOf(id) {
  if (!ctx) fail('no model loaded');
  let c = clients.get(id);
  if (!c) clients.set(id, c = { ptr: 0, w: 0, h: 0, inW: ctxW, inH: ctxH, done: null });
  return c;
}

// The context at client c's input size (a change of size drops whatever network state it held).
function sizeFor(c) {
  if (ctxW === c.inW && ctxH === c.inH) return;
  if (engine._gc_js_set_input_size(ctx, c.inW, c.inH) !== 0) fail(lastError(ctx));
  ctxW = c.inW; ctxH = c.inH;
  owner = null;
  live = null;
}

// The context holding client c's image, classified (again, from its stored pixels, when another
// client's image or another input size was there).
function own(c) {
  if (!c.ptr) fail('no image classified yet');
  sizeFor(c);
  if (owner !== c) classifyStored(c);
}

function lut(name) {
  const p = cString(name);
  try {
    const q = engine._gc_js_colormap(p);
    if (!q) fail(`unknown colormap '${name}'`);
    return copyOut(q, 768);
  } finally {
    engine._free(p);
  }
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

function classifyStored(c) {
  live = null; // the engine's current explanation goes with its classification
  owner = null;
  if (engine._gc_js_classify(ctx, c.ptr, c.w, c.h) !== 0) fail(lastError(ctx));
  owner = c;
  // the part of the image the model saw (all of it, or its centre crop): what explanations are drawn over
  const v = engine._gc_js_view(ctx) >> 2;
  c.vw = engine.HEAP32[v]; c.vh = engine.HEAP32[v + 1];
}

// The running engine job, step by step until done. A cancel arriving meanwhile (onmessage runs only
// while this awaits) has already called _gc_js_cancel; the loop then ends with the job's message.
async function runSteps(job) {
  job.stepping = true;
  try {
    for (;;) {
      if (job.cancelled) {
        if (!job.engineCancelled) engine._gc_js_cancel(ctx);
        abort(job.cancelled);
      }
      const rc = engine._gc_js_step(ctx, STEP_MS);
      if (rc === 1) return;
      if (rc < 0) fail(lastError(ctx));
      self.postMessage({ id: job.id, progress: engine._gc_js_progress(ctx) });
      // A macrotask, not a microtask: only a real turn of the event loop delivers a waiting message.
      await new Promise((r) => setTimeout(r, 0));
    }
  } finally {
    job.stepping = false;
  }
}

// The metrics of the finished explanation (_gc_js_metrics' doubles), or null when none were computed.
function readMetrics() {
  const p = engine._gc_js_metrics(ctx);
  if (!p) return null;
  const f = engine.HEAPF64, b = p >> 3, n = f[b + 4];
  const part = (k) => Array.from(f.subarray(b + 8 + k * n, b + 8 + (k + 1) * n));
  return {
    score: f[b], camMultImageConfidenceChange: f[b + 1], dropInConfidence: f[b + 2], increaseInConfidence: f[b + 3],
    roadPercentiles: part(0), roadMorf: part(1), roadLerf: part(2),
    roadMorfMean: f[b + 5], roadLerfMean: f[b + 6], roadCombined: f[b + 7],
  };
}

// Client `client`'s new image, kept in the heap (not classified yet: own() does that when needed).
function store(client, pixels, width, height) {
  const c = clientOf(client);
  if (!(pixels instanceof ArrayBuffer) || pixels.byteLength !== width * height * 4) fail('bad pixel buffer');
  if (owner === c) owner = null;
  forget(c); // new pixels (or a new size): its last explanation is no longer of this image
  if (c.ptr) engine._free(c.ptr);
  c.ptr = 0;
  c.ptr = copyIn(new Uint8Array(pixels));
  c.w = width; c.h = height;
  c.vw = c.vh = undefined; // known once classified
  return c;
}

const ops = {
  // The engine alone, first thing: it compiles while the weights download on the page's side.
  // Times are wall-clock ms (timeOrigin + now), for the page's start-up profile (gradcam.js startup).
  async engine({ engineUrls, threads }) {
    return { engine: await loadEngine(engineUrls, threads), workerStarted: performance.timeOrigin, loaded: wallNow() };
  },

  // The engine and the model, once per worker (the first client's size is the context's first size).
  async init({ engineUrls, threads, weights, multilabel, width, height, mean, std, crop }) {
    const used = await loadEngine(engineUrls, threads);
    dropContext();
    const bytes = new Uint8Array(weights);
    const p = copyIn(bytes);
    const copied = wallNow();
    // mean/std [3] or null, crop (0: the file's), width/height 0: the preprocessing the file's metadata asks for
    const floats = (v) => (v ? copyIn(new Uint8Array(Float32Array.from(v).buffer)) : 0);
    const pm = floats(mean), ps = floats(std);
    // multilabel: 1 sigmoid, 0 softmax, -1 let the engine read it from the file's metadata
    // the engine takes the copy and frees it as soon as it is parsed (a lower peak than freeing it here)
    ctx = engine._gc_js_create(p, bytes.byteLength, multilabel, width | 0, height | 0, pm, ps, crop | 0);
    if (pm) engine._free(pm);
    if (ps) engine._free(ps);
    if (!ctx) fail(lastError(0));
    numClasses = engine._gc_js_num_classes(ctx);
    const sz = engine._gc_js_input_size(ctx) >> 2;
    ctxW = engine.HEAP32[sz]; ctxH = engine.HEAP32[sz + 1];
    // what the file turned out to be: 'resnet50', its target layers ('input,conv1,...,layer4,layer4.0,...'),
    // its own class names (metadata "gradcam.labels") if it has them
    const arch = engine.UTF8ToString(engine._gc_js_arch(ctx));
    const layers = engine.UTF8ToString(engine._gc_js_model_layers(ctx)).split(',');
    const lp = engine._gc_js_labels(ctx), labels = lp ? engine.UTF8ToString(lp).replace(/\n$/, '').split('\n') : null;
    return { numClasses, arch, layers, labels, inputSize: [ctxW, ctxH], engine: used, copied, created: wallNow() };
  },

  // A client joins (or changes its input size): the size is checked by the engine at once.
  setInputSize({ client, width, height }) {
    const c = clientOf(client);
    const was = [c.inW, c.inH];
    [c.inW, c.inH] = [width || 224, height || 224];
    try {
      sizeFor(c);
      if (c.inW !== was[0] || c.inH !== was[1]) forget(c); // its explanation was at the old size
    } catch (e) {
      [c.inW, c.inH] = was;
      throw e;
    }
    return { width: c.inW, height: c.inH };
  },

  // pixels: RGBA [h][w][4] as an ArrayBuffer. Keeps the image for the client's later explains.
  classify({ client, pixels, width, height, wantProbs }) {
    const c = store(client, pixels, width, height);
    sizeFor(c);
    classifyStored(c);
    const out = { top: topList(), timings: timings() };
    const transfer = [];
    if (wantProbs) {
      out.probs = copyOut(engine._gc_js_probs(ctx), numClasses * 4);
      transfer.push(out.probs);
    }
    return [out, transfer];
  },

  // Explain the stored image (after classifying the given pixels, if any). alpha is the image weight
  // of the overlay (pytorch-grad-cam's image_weight, the CLI's --alpha). `job` is the queue's record:
  // job.cancelled becomes a message when a cancel (or a newer explain) arrives.
  // The style (colormap: a name, '' = the default for the sign; mode: a MODES name; grey) only changes
  // how the finished explanation is drawn; sign, scale and interp change the map itself.
  async explain({ client, pixels, width, height, classIndex, layer, alpha, overlay = true, heatmap = true, cam = true, wantProbs,
    method = 'gradcam', eigenSmooth = false, augSmooth = false, metrics = false, roadPercentiles = null, roadNoise = 0.01,
    colormap = '', mode = 'blended_heat_map', grey = false, sign = 'positive', scale = 'normalised', interp = 'linear',
    atInputSize = false }, job) {
    const c = clientOf(client);
    if (job.cancelled) { // cancelled before it began: keep its pixels (a copy, no forward pass), nothing more
      counts.dropped++;
      if (pixels) store(client, pixels, width, height);
      abort(job.cancelled);
    }
    job.begun = true;
    let classified = null, transfer = [];
    if (pixels) [classified, transfer] = ops.classify({ client, pixels, width, height, wantProbs });
    else if (!c.ptr) fail('no image to explain');
    else own(c);
    if (job.cancelled) abort(job.cancelled);
    // atInputSize: the overlay at the model input size, on the image resized as for the network (the
    // CLI's compare-grid tiles); otherwise at the image's own size
    const [inW, inH] = [c.inW, c.inH];
    const { w, h } = atInputSize ? { w: inW, h: inH } : { w: c.vw ?? c.w, h: c.vh ?? c.h };
    const cls = classIndex == null ? -1 : classIndex;
    if (!Number.isInteger(cls) || cls < -1 || cls >= numClasses) fail(`class ${classIndex} out of range (0..${numClasses - 1})`);
    const a = alpha == null ? 0.5 : Number(alpha);
    const name = Array.isArray(layer) ? layer.join(',') : String(layer || 'layer4'); // several: their CAMs averaged
    const mname = String(method || 'gradcam');
    const signIndex = SIGNS.indexOf(sign), modeIndex = MODES.indexOf(mode);
    if (signIndex < 0) fail(`sign '${sign}': give ${SIGNS.join(', ')}`);
    if (modeIndex < 0) fail(`mode '${mode}': give ${MODES.join(', ')}`);
    if (scale !== 'normalised' && scale !== 'raw') fail(`scale '${scale}': give normalised or raw`);
    if (interp !== 'linear' && interp !== 'nearest') fail(`interp '${interp}': give linear or nearest`);
    const flags = (eigenSmooth ? FLAGS.eigenSmooth : 0) | (augSmooth ? FLAGS.augSmooth : 0) | (metrics ? FLAGS.metrics : 0)
      | (scale === 'raw' ? FLAGS.raw : 0) | (interp === 'nearest' ? FLAGS.nearest : 0) | (signIndex << 5);
    let pct = null;
    if (roadPercentiles != null) {
      pct = Array.from(roadPercentiles, Number);
      if (!pct.length || pct.length > 99 || !pct.every((v) => Number.isInteger(v) && v >= 1 && v <= 99)) {
        fail('roadPercentiles: give 1..99 whole numbers, each in 1..99');
      }
    }
    const noise = roadNoise == null ? 0.01 : Number(roadNoise);
    if (!(noise >= 0 && noise <= 10)) fail(`roadNoise ${roadNoise} outside [0, 10]`);
    // The explanation itself; the metrics ride along when they were computed (a superset).
    const key = JSON.stringify([cls, name, mname, flags & ~FLAGS.metrics, pct, noise]);
    const bufs = { layer: 0, method: 0, pct: 0, overlay: 0, heat: 0, cam: 0, cmap: 0 };
    const t0 = performance.now();
    let reused = true;
    try {
      // The style first: an unknown colormap fails before any work is done.
      bufs.cmap = cString(String(colormap || ''));
      if (engine._gc_js_set_style(ctx, bufs.cmap, modeIndex, grey ? 1 : 0) !== 0) fail(lastError(ctx));
      const kept = c.done && c.done.key === key && (c.done.metrics || !metrics);
      if (kept && live !== c) {
        own(c);
        if (engine._gc_js_restore(ctx, c.done.saved) === 0) live = c;
      }
      if (!(kept && live === c)) {
        forget(c);
        reused = false;
        bufs.layer = cString(name);
        bufs.method = cString(mname);
        if (pct) {
          bufs.pct = engine._malloc(4 * pct.length);
          if (!bufs.pct) fail('out of memory in the engine');
          engine.HEAP32.set(pct, bufs.pct >> 2);
        }
        live = null; // beginning a job ends the engine's current explanation, whoever's it was
        if (engine._gc_js_explain_begin(ctx, cls, bufs.layer, bufs.method, flags, bufs.pct, pct ? pct.length : 0, noise) !== 0) {
          fail(lastError(ctx));
        }
        await runSteps(job);
        live = c;
        c.done = { key, metrics: !!metrics, saved: engine._gc_js_save(ctx) }; // saved 0 (no memory): recomputed next time
        if (!c.done.saved) c.done = null;
      }
      counts.computed++;
      if (atInputSize && (heatmap || cam || !overlay)) fail('atInputSize draws the overlay only');
      if (overlay) bufs.overlay = engine._malloc(w * h * 4);
      if (heatmap) bufs.heat = engine._malloc(w * h * 4);
      if (cam) bufs.cam = engine._malloc(inW * inH * 4);
      if ((overlay && !bufs.overlay) || (heatmap && !bufs.heat) || (cam && !bufs.cam)) fail('out of memory in the engine');
      const got = atInputSize ? engine._gc_js_render_input(ctx, a, bufs.overlay)
        : engine._gc_js_render(ctx, a, bufs.overlay, bufs.heat, bufs.cam);
      if (got < 0) fail(lastError(ctx));
      const pp = engine._gc_js_probs(ctx) >> 2;
      const ip = engine._gc_js_info(ctx) >> 2, I = engine.HEAP32;
      const out = {
        classIndex: got, prob: engine.HEAPF32[pp + got], layer: name, width: w, height: h,
        camWidth: inW, camHeight: inH, timings: { ...timings(), total: performance.now() - t0 },
        top: classified ? classified.top : topList(),
        method: mname, eigenSmooth: !!I[ip + 1], eigenSmoothIgnored: !!I[ip + 2], augSmooth: !!I[ip + 3],
        compared: Array.from(I.subarray(ip + 5, ip + 5 + I[ip + 4])),
        sign: SIGNS[I[ip + 10]], scale: I[ip + 11] ? 'raw' : 'normalised', interp: I[ip + 12] ? 'nearest' : 'linear',
        // the colormap the pictures were drawn with: the one asked for, else the engine's default for the sign
        colormap: colormap || (I[ip + 10] === 2 ? 'rdwhgn' : 'jet'), mode: MODES[modeIndex], grey: !!grey,
        legend: engine.UTF8ToString(engine._gc_js_legend(ctx)), reused,
        layerNames: engine.UTF8ToString(engine._gc_js_layer_names(ctx)), // canonical, e.g. 'layer3.1,layer4.1'
      };
      out.lut = lut(out.colormap);
      transfer.push(out.lut);
      if (metrics) out.metrics = readMetrics();
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

  // The top 5 and the probabilities of the last image (for a compare grid of its top classes).
  probs({ client }) {
    own(clientOf(client));
    const probs = copyOut(engine._gc_js_probs(ctx), numClasses * 4);
    return [{ top: topList(), probs }, [probs]];
  },

  // The 256 RGB entries of a colormap, as the engine draws with them (for a page's colour bar).
  colormap({ name }) {
    if (!engine) fail('no engine loaded');
    const b = lut(String(name));
    return [b, [b]];
  },

  // A client leaves: its image is freed (the model stays for the others; gradcam.js ends the worker
  // when the last one has left).
  dispose({ client }) {
    const c = clients.get(client);
    if (!c) return null;
    if (owner === c) owner = null;
    forget(c);
    if (c.ptr) engine._free(c.ptr);
    clients.delete(client);
    if (!clients.size && engine) dropContext();
    return null;
  },
};

// One job at a time, in order: the engine is single-threaded and the image state is shared. Cancels
// (and the cancelling side of a new explain or a dispose) act on arrival instead, see the top.
const jobs = [];     // waiting, oldest first
let current = null;  // the job running (an explain may be between two steps)
let pumping = false;

function cancelJob(job, why) {
  if (!job || job.op !== 'explain' || job.cancelled) return;
  job.cancelled = why;
  if (job.stepping) { // paused between steps: stop the engine's job now, not at the next step
    engine._gc_js_cancel(ctx);
    job.engineCancelled = true;
  }
}

function stats() {
  // wasmMemory: a threaded engine's HEAPU8 may still be the view from before another thread grew the heap
  const heapBytes = !engine ? 0 : engine.wasmMemory ? engine.wasmMemory.buffer.byteLength : engine.HEAPU8.length;
  const heapUsed = engine?._gc_js_heap_used ? engine._gc_js_heap_used() >>> 0 : null; // mallinfo's in-use bytes
  return { heapBytes, heapUsed, clients: clients.size, queued: jobs.length, running: current?.op || null, fatal: fatal || null, ...counts };
}

// A client's queued explains, answered at once (aborted) instead of run: a newer explain (or a dispose)
// of that client arrived. Returns the pixels of the last dropped one that no later classify of the
// client overrides: the newest explain takes them when it brings none (explain(null) = "the last image").
function dropQueued(client, why) {
  let carry = null;
  for (let i = 0; i < jobs.length;) {
    const j = jobs[i];
    if (j.args.client !== client || (j.op !== 'explain' && j.op !== 'classify')) { i++; continue; }
    if (j.op === 'classify') { carry = null; i++; continue; }
    jobs.splice(i, 1);
    counts.dropped++;
    if (j.args.pixels) carry = j.args;
    self.postMessage({ id: j.id, ok: false, error: why, aborted: true });
  }
  return carry;
}

self.onmessage = (e) => {
  const { id, op, ...args } = e.data || {};
  if (op === 'cancel') {
    for (const j of [current, ...jobs]) if (j && j.id === id) cancelJob(j, 'cancelled');
    return;
  }
  if (op === 'stats') {
    self.postMessage({ id, ok: true, result: stats() });
    return;
  }
  if (op === 'explain' || op === 'dispose') {
    const why = op === 'explain' ? 'cancelled: a newer explain replaced it' : 'cancelled: disposed';
    if (current && current.args.client === args.client) cancelJob(current, why);
    const carry = dropQueued(args.client, why);
    if (op === 'explain') {
      counts.explains++;
      if (carry && !args.pixels) Object.assign(args, { pixels: carry.pixels, width: carry.width, height: carry.height });
    }
  }
  jobs.push({ id, op, args, cancelled: null, stepping: false, engineCancelled: false });
  if (!pumping) pump();
};

// A turn of the event loop (a macrotask: the messages that arrived meanwhile are handled first). A quick
// explain never yields by itself (one engine step, no await on a task): without this, a burst of them
// would all be computed, one after the other, each finding no newer one yet.
const tick = new MessageChannel();
let ticked = null;
tick.port1.onmessage = () => ticked?.();
const nextTurn = () => new Promise((r) => { ticked = r; tick.port2.postMessage(0); });

async function pump() {
  pumping = true;
  try {
    for (;;) {
      await nextTurn();
      if (!jobs.length) break;
      const job = current = jobs.shift();
      try {
        if (fatal) fail(`the engine stopped: ${fatal}`);
        if (!ops[job.op]) fail(`unknown operation ${job.op}`);
        let r = await ops[job.op](job.args, job);
        let transfer = [];
        if (Array.isArray(r)) [r, transfer] = r;
        self.postMessage({ id: job.id, ok: true, result: r }, transfer);
      } catch (err) {
        // A trap (out-of-bounds access, unreachable, an abort) leaves the engine's memory in no known state.
        if (!fatal && engine && err instanceof WebAssembly.RuntimeError) fatal = (err.message || 'a WebAssembly trap').split('\n')[0];
        if (err?.aborted && job.begun) counts.stopped++;
        const msg = fatal ? `the engine stopped: ${fatal}` : (err && err.message) || String(err);
        self.postMessage({ id: job.id, ok: false, error: msg.split('\n')[0], ...(err?.aborted ? { aborted: true } : {}), ...(fatal ? { fatal: true } : {}) });
      }
      current = null;
    }
  } finally {
    current = null;
    pumping = false;
  }
}
