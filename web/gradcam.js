// gradcam.js: the public JavaScript API of gradcam-wasm. One ES module, no dependencies.
//
//   import { createGradCam } from './gradcam.js';
//   const gc = await createGradCam({ model: 'models/shapes/resnet18-shapes.safetensors',
//                                    labels: 'models/shapes/labels.txt' });
//   const { top } = await gc.classify(imageData);            // [{index, label, prob}] best first (5)
//   const r = await gc.explain(imageData, { classIndex: 3, layer: 'layer3', alpha: 0.5 });
//   ctx.putImageData(r.overlay, 0, 0);                         // also r.heatmap, r.cam (Float32Array)
//   const ac = new AbortController();                          // a long method, with progress and Cancel:
//   await gc.explain(null, { method: 'scorecam', onProgress: (f) => bar.value = f, signal: ac.signal });
//   const s = await gc.explain(null, { colormap: 'viridis', mode: 'masked_image' }); // same CAM, redrawn
//   s.legend, s.lut                                            // "normalised, positive: 0 .. 1", 256 RGB
//   const tiles = await gc.compare(null, { by: 'layers', items: ['layer3', 'layer4'] }); // a compare grid
//   gc.dispose();
//
// Every instance talks to a worker (worker.js) holding the WebAssembly engine and the model, so the page
// never blocks: its own, or, with {shared: true}, one worker per model for the whole page. Pixels are copied to the worker, so the ImageData you pass stays usable (classify(img)
// then explain(img) works); {transfer: true} hands its buffer over instead (no copy; the ImageData is
// detached afterwards). explain(null, ...) re-explains the last image without sending it again (other
// class, layer or opacity). createGradCam() with no model loads the offline shapes model shipped beside
// this module. Everything runs on this device; the only requests are for the engine and the weights
// and labels you name (same-origin; cached with the Cache API, so a reload costs one HEAD request
// to check the copy is current instead of a new download).
// Every failure is a rejected promise with an Error whose message is one line.
import { bytesOf, fail, labelsOf, oneLine, parseTriple, relaxedSimdSupported, simdSupported, toImageData, toSafetensors } from './load.js';

export { fetchBytes, MODEL_CACHE, parseLabels, relaxedSimdSupported, simdSupported, toImageData, toSafetensors } from './load.js';

export const LAYERS = ['conv1', 'relu', 'maxpool', 'layer1', 'layer1.0', 'layer1.1', 'layer2', 'layer2.0', 'layer2.1',
  'layer3', 'layer3.0', 'layer3.1', 'layer4', 'layer4.0', 'layer4.1'];

// The methods of pytorch-grad-cam the engine has, under the library's names (explain's `method`).
//   eigenSmooth: honours the eigenSmooth option (the others ignore it, as the library does, and the
//                result says eigenSmoothIgnored);
//   long:        true: many network passes wherever it looks (Score-CAM: one per channel, ~40 s at
//                layer4 on a laptop; FullGrad: every layer); 'below-layer4': long at the layers before
//                layer4 (Ablation-CAM re-runs the network from the layer on, once per channel); false:
//                about one forward + backward. augSmooth (6 passes) and metrics (19) make any method
//                longer: isLong() says it all. Long jobs report onProgress and take an AbortSignal.
//   group:       a family, for pickers.
const M = (name, label, group, eigenSmooth = true, long = false) => Object.freeze({ name, label, group, eigenSmooth, long });
export const METHOD_GROUPS = Object.freeze({
  gradient: 'Gradient-weighted', eigen: 'Principal components and statistics', perturbation: 'Perturbation', network: 'Whole network',
});
export const METHODS = Object.freeze([
  M('gradcam', 'Grad-CAM', 'gradient'),
  M('hirescam', 'HiResCAM', 'gradient'),
  M('gradcam++', 'Grad-CAM++', 'gradient'),
  M('xgradcam', 'XGrad-CAM', 'gradient'),
  M('layercam', 'LayerCAM', 'gradient'),
  M('gradcamelementwise', 'Grad-CAM element-wise', 'gradient'),
  M('shapleycam', 'Shapley-CAM', 'gradient'),
  M('finercam', 'Finer-CAM', 'gradient'),
  M('eigencam', 'EigenCAM', 'eigen', false),
  M('eigengradcam', 'Eigen-Grad-CAM', 'eigen', false),
  M('segeigencam', 'Seg-Eigen-CAM', 'eigen', false),
  M('kpcacam', 'KPCA-CAM', 'eigen', false),
  M('fem', 'FEM', 'eigen', false),
  M('scorecam', 'Score-CAM', 'perturbation', true, true),
  M('ablationcam', 'Ablation-CAM', 'perturbation', true, 'below-layer4'),
  M('fullgrad', 'FullGrad', 'network', true, true),
]);
export const methodInfo = (name) => METHODS.find((m) => m.name === name) || null;

// Will explain(…, opts) take many network passes (so that progress and Cancel are worth showing)?
export function isLong({ method = 'gradcam', layer = 'layer4', augSmooth = false, metrics = false } = {}) {
  const m = methodInfo(method);
  if (augSmooth || metrics || m?.long === true) return true;
  return m?.long === 'below-layer4' && layerList(layer).some((l) => !l.startsWith('layer4'));
}

// Display options (explain's colormap, mode, sign, scale, interp), the CLI's names. COLORMAPS are the
// engine's tables: OpenCV's colormaps and rdwhgn, Captum's red-white-green for signed maps (the
// default for sign 'all'; jet otherwise). MODES are Captum's visualize_image_attr names:
// blended_heat_map = pytorch-grad-cam's show_cam_on_image (the default), heat_map = the colormap
// alone, masked_image = image × map, alpha_scaling = the image with the map as its alpha channel.
export const COLORMAPS = Object.freeze(['jet', 'turbo', 'viridis', 'inferno', 'magma', 'plasma', 'cividis', 'hot', 'bone', 'parula',
  'autumn', 'winter', 'rainbow', 'ocean', 'summer', 'spring', 'cool', 'hsv', 'pink', 'twilight', 'twilight_shifted', 'deepgreen', 'rdwhgn']);
export const MODES = Object.freeze(['blended_heat_map', 'heat_map', 'masked_image', 'alpha_scaling']);
export const SIGNS = Object.freeze(['positive', 'negative', 'all']);
export const SCALES = Object.freeze(['normalised', 'raw']);
export const INTERPS = Object.freeze(['linear', 'nearest']);
export const defaultColormap = (sign) => (sign === 'all' ? 'rdwhgn' : 'jet');

// 'layer3,layer4' or ['layer3', 'layer4'] → ['layer3', 'layer4'] (pytorch-grad-cam's target_layers).
export function layerList(layer) {
  const list = (Array.isArray(layer) ? layer : String(layer || 'layer4').split(',')).map((l) => String(l).trim()).filter(Boolean);
  return list.length ? list : ['layer4'];
}

const oneOf = (what, v, allowed) => {
  if (!allowed.includes(v)) fail(`${what} '${v}' is not one of ${allowed.join(', ')}`);
  return v;
};

// What a compare tile says under it, as the CLI's --grid does: "label 97.1% method layer".
export const tileCaption = (label, prob, method, layer) => `${label} ${(100 * prob).toFixed(1)}% ${method} ${layer}`;

// What a cancelled explain rejects with: an Error named AbortError, as fetch's, with a one-line message.
const abortError = (msg = 'cancelled') => Object.assign(new Error(msg), { name: 'AbortError' });

// Threads on a host that cannot send COOP/COEP (GitHub Pages and the like): registers the service worker
// at swUrl (coi-sw.js, copied to the site's root: a service worker controls only the pages at or below
// its folder; relative URLs are against the page), which adds the cross-origin isolation headers to
// every same-origin response, then reloads the page once so that it is served through it. Resolves
// true when the page is isolated already, false when it cannot be (no service workers, plain http,
// the browser refused, or the reload already happened once in this tab and did not help); otherwise
// it reloads the page and never resolves. Opt-in: call it before createGradCam, e.g.
//   await crossOriginIsolate('/coi-sw.js');
export async function crossOriginIsolate(swUrl = 'coi-sw.js') {
  if (globalThis.crossOriginIsolated) return true;
  if (!('serviceWorker' in navigator) || !globalThis.isSecureContext) return false;
  const flag = 'gradcam-coi-reloaded';
  try {
    await navigator.serviceWorker.register(new URL(String(swUrl), document.baseURI).href);
  } catch {
    return false;
  }
  if (sessionStorage.getItem(flag)) return false; // reloaded once already: isolation did not take
  sessionStorage.setItem(flag, '1');
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
      setTimeout(resolve, 5000); // a worker that never takes control: reload anyway, once
    });
  }
  location.reload();
  return new Promise(() => {});
}


// ---- the engine: one worker holding one model, for one or more instances -------------------------------

// Start a worker with the engine and the model. weights: a promise of the weights' bytes (.safetensors
// or .pth): the worker starts, and the engine compiles and instantiates, while they download (start-up
// is the longer of the two, not their sum). Returns {info: {numClasses, engine}, call(op, args,
// transfer, {onProgress, signal, life}), dead (getter), die(msg, crashed), watch(fn), worker}. onDeath(msg)
// and the watch()ers' fn(msg, crashed) run once when the worker is gone: crashed (an error the worker did
// not catch, an unreadable message, a trap in the engine: the pending calls reject with an Error whose
// `crashed` is true) or ended with die (dispose).
async function startEngine({ engineUrls, threads, weights, multilabel, width, height, mean, std, crop, onDeath }) {
  const workerUrl = new URL('worker.js', import.meta.url);
  // The worker starts from a blob: URL that only imports worker.js. A worker loaded straight from its
  // URL gets the CSP of *its own response* (none, on a plain static host), not the page's: it could
  // connect anywhere. A blob: worker inherits the page's policy (connect-src 'self' etc.), so the
  // page's meta tag alone keeps the engine from talking to anyone else, on any host.
  const boot = URL.createObjectURL(new Blob([`importScripts(${JSON.stringify(workerUrl.href)});`], { type: 'text/javascript' }));
  const worker = new Worker(boot, { name: 'gradcam' });
  setTimeout(() => URL.revokeObjectURL(boot), 10000); // kept a while: some browsers fetch it lazily
  const pending = new Map(), watchers = new Set();
  let nextId = 1, dead = null;
  const die = (msg, crashed = false) => {
    if (dead) return;
    dead = msg;
    for (const { reject } of [...pending.values()]) reject(Object.assign(new Error(msg), crashed ? { crashed: true } : {}));
    pending.clear();
    worker.terminate();
    onDeath?.(msg);
    for (const f of watchers) f(msg, crashed);
  };
  worker.onmessage = (e) => {
    const { id, ok, result, error, aborted, progress, fatal } = e.data;
    if (fatal) return die(error, true); // the engine trapped: nothing more can run in this worker
    const p = pending.get(id);
    if (!p) return; // e.g. the answer to a job this side gave up on (aborted)
    if (progress !== undefined) {
      try { p.onProgress?.(progress); } catch { /* the caller's callback: not our failure */ }
      return;
    }
    pending.delete(id);
    if (ok) p.resolve(result); else p.reject(aborted ? abortError(error) : new Error(error));
  };
  const started = { done: false };
  worker.onerror = (e) => {
    e.preventDefault();
    die(`the engine worker failed: ${e.message || (started.done ? 'it stopped' : 'could not start (is worker.js served?)')}`, true);
  };
  worker.onmessageerror = () => die('the engine worker sent an unreadable message', true);
  // A job for the worker. signal: on abort the promise rejects at once with an AbortError and the
  // worker is told to stop the job (it does so between two steps, ~50 ms at most, then is free).
  // life: the instance's own signal (dispose), whose reason is the AbortError to reject with.
  const call = (op, args = {}, transfer = [], { onProgress, signal, life } = {}) => {
    if (dead) return Promise.reject(new Error(dead));
    if (life?.aborted) return Promise.reject(life.reason);
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const onAbort = (why) => () => {
        if (!pending.has(id)) return;
        pending.delete(id);
        worker.postMessage({ op: 'cancel', id });
        reject(why());
      };
      const a1 = onAbort(() => abortError()), a2 = onAbort(() => life.reason);
      const settle = (f) => (v) => {
        signal?.removeEventListener('abort', a1);
        life?.removeEventListener('abort', a2);
        f(v);
      };
      pending.set(id, { resolve: settle(resolve), reject: settle(reject), onProgress });
      signal?.addEventListener('abort', a1, { once: true });
      life?.addEventListener('abort', a2, { once: true });
      worker.postMessage({ id, op, ...args }, transfer);
    });
  };
  const wall = () => performance.timeOrigin + performance.now();
  const t = { created: wall() };
  const engineReady = call('engine', { engineUrls, threads });
  engineReady.catch(() => {}); // its failure is init's too (init loads the engine if it is not there)
  let info;
  try {
    const st = toSafetensors(await weights);
    t.weights = wall();
    info = await call('init', { engineUrls, threads, weights: st, multilabel, width, height, mean, std, crop }, [st]);
    t.ready = wall();
  } catch (e) {
    die('disposed');
    fail(e);
  }
  started.done = true;
  // Where start-up went, in ms from the page's navigation (performance.now()'s zero): the worker asked
  // for, running, its engine compiled and instantiated, the weights downloaded (or read from the
  // cache), copied into the engine, the model made (parse, BN fold, Winograd, XNNPACK packing), ready.
  const e = await engineReady.catch(() => null), rel = (x) => (x == null ? null : x - performance.timeOrigin);
  const startup = {
    worker: rel(t.created), workerRunning: rel(e?.workerStarted), engineLoaded: rel(e?.loaded), weights: rel(t.weights),
    copied: rel(info.copied), modelMade: rel(info.created), ready: rel(t.ready),
  };
  return {
    info, call, die, startup, worker, get dead() { return dead; }, get pending() { return pending.size; },
    watch: (f) => { watchers.add(f); return () => watchers.delete(f); },
  };
}

// createGradCam({shared: true}) engines, by model URL + multilabel + threads + engine: each entry is
// {promise (of startEngine's result), refs (instances holding it), listeners (download progress)}.
const sharedEngines = new Map();
const sharedLabels = new Map(); // labels URL → promise of the parsed list, for shared instances
let nextClient = 1;

// p, or an AbortError as soon as signal aborts (p itself goes on: others may be waiting for it).
const orAbort = (p, signal) => (!signal ? p : new Promise((resolve, reject) => {
  if (signal.aborted) return reject(abortError());
  const onAbort = () => reject(abortError());
  signal.addEventListener('abort', onAbort, { once: true });
  p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
}));

/**
 * createGradCam({model, labels, multilabel, inputSize, onProgress, threads, engine, signal, shared})
 *   model:      URL (same-origin) | File/Blob | ArrayBuffer of .safetensors or .pth weights; default:
 *               the offline shapes model beside this module (models/shapes/), with its labels
 *   labels:     URL | File/Blob | string[] (optional; "class N" otherwise)
 *   multilabel: true (sigmoid per class) | false (softmax) | undefined: read from the file's metadata
 *   inputSize:  [w, h] of the model input (default: the model file's "gradcam.size", else 224×224)
 *   mean, std:  [r, g, b] (or "r,g,b") of Normalize (default: the file's "gradcam.mean"/"gradcam.std", else ImageNet's)
 *   crop:       R: Resize(R) + CenterCrop(inputSize), as torchvision's eval transform (explanations are
 *               then drawn over the part of the image the model saw); -1: a plain resize; default: the
 *               file's "gradcam.resize", else a plain resize
 *   onProgress: (loaded, total, fromCache) while the weights download
 *   threads:    threads for the threaded engine (default: one per core); 1 = the plain engine
 *   engine:     URL of the engine's JS glue, relative to this module (default: chosen as above)
 *   shared:     true: instances of this page with the same model URL, multilabel, threads and engine
 *               share one worker and one copy of the model (fetched once, held once; <grad-cam-viewer>
 *               does this). Each keeps its own image, input size and explanation; their jobs queue in
 *               the worker (one instance's explain never cancels another's). dispose() drops one
 *               reference; the worker ends with the last. Weights given as bytes are never shared.
 *   onCrash:    (message) when the worker died (an uncaught error, a trap in the engine): the instance
 *               starts a new one at once (same model, its input size; calls made meanwhile wait for it),
 *               the calls that were pending reject with an Error whose `crashed` is true, and the image
 *               is gone with the old worker (explain(null) rejects until an image is given again).
 */
export async function createGradCam({ model, labels, multilabel, inputSize, onProgress, engine, threads, signal, shared = false,
  onCrash, mean, std, crop } = {}) {
  if (!simdSupported()) fail('this browser does not support WebAssembly SIMD, which the engine needs (try a current Chrome, Edge, Firefox or Safari)');
  if (!model) { // the default, as the CLI's: the shapes model shipped with the engine
    model = new URL('models/shapes/resnet18-shapes.safetensors', import.meta.url);
    labels ??= new URL('models/shapes/labels.txt', import.meta.url);
  }
  // The threaded engine needs SharedArrayBuffer, i.e. a cross-origin isolated page (COOP + COEP
  // headers, as scripts/serve sends); it is tried first there and the plain one is the fallback
  // (a site built without threads answers 404 for it, once per engine).
  // Where the browser validates relaxed SIMD, each engine's relaxed build (fused multiply-add) goes first,
  // the SIMD one after it as the fallback (a site built without them answers 404, once per engine). The
  // names are spelt out, so that bundlers and readers see every file this may load.
  const rx = relaxedSimdSupported() ? 0 : 1;
  const plain = ['gradcam-engine-relaxed.js', 'gradcam-engine.js'].slice(rx);
  const engineNames = engine ? [engine] : globalThis.crossOriginIsolated && threads !== 1
    ? [...['gradcam-engine-relaxed-mt.js', 'gradcam-engine-mt.js'].slice(rx), ...plain] : plain;
  const engineUrls = engineNames.map((n) => new URL(n, import.meta.url).href);
  const ml = multilabel === true ? 1 : multilabel === false ? 0 : -1;
  const [w0, h0] = inputSize || [0, 0]; // 0: the model file's own size
  const pre = { mean: parseTriple(mean, 'mean'), std: parseTriple(std, 'std'), crop: crop == null ? 0 : Number(crop) };
  const byUrl = typeof model === 'string' || model instanceof URL;
  const key = shared && byUrl ? JSON.stringify([new URL(String(model), document.baseURI).href, ml, threads ?? null, engineUrls, pre]) : null;
  const start = (weights) => startEngine({
    engineUrls, threads, weights, multilabel: ml, width: w0, height: h0, ...pre,
    // a crashed shared worker leaves the map, so that the next instance starts a fresh one
    onDeath: () => { if (key && sharedEngines.get(key)?.core?.dead) sharedEngines.delete(key); },
  });
  // This instance's engine: its own, or the page's shared one (joined, or started) → [core, entry].
  // sig gives up waiting (a shared start goes on for the others); progress: the weights' download.
  const acquire = async (sig, progress) => {
    if (!key) return [await start(bytesOf(model, { onProgress: progress, signal: sig })), null];
    let e = sharedEngines.get(key);
    if (!e) {
      const en = e = { refs: 0, listeners: new Set(), core: null, promise: null };
      const fan = (l, t, c) => { for (const f of en.listeners) try { f(l, t, c); } catch { /* the caller's */ } };
      en.promise = start(bytesOf(model, { onProgress: fan })).then((c) => {
        en.core = c;
        if (en.refs === 0) letGo(c, null, 'disposed'); // everyone gave up waiting: nobody holds it
        return c;
      });
      en.promise.catch(() => { if (sharedEngines.get(key) === en) sharedEngines.delete(key); });
      sharedEngines.set(key, en);
    }
    e.refs++;
    if (progress) e.listeners.add(progress);
    try {
      return [await orAbort(e.promise, sig), e];
    } catch (err) {
      if (--e.refs === 0 && e.core) letGo(e.core, null, 'disposed');
      throw err;
    } finally {
      e.listeners.delete(progress);
    }
  };
  // An instance lets go of its engine (e: its shared entry): the worker ends when no instance holds it.
  function letGo(c, e, why) {
    if (e && --e.refs > 0) return;
    if (key && sharedEngines.get(key)?.core === c) sharedEngines.delete(key);
    c.die(why);
  }
  let names;
  if (key) {
    const lkey = typeof labels === 'string' || labels instanceof URL ? new URL(String(labels), document.baseURI).href : null;
    let lp = lkey ? sharedLabels.get(lkey) : labelsOf(labels, {});
    if (!lp) {
      sharedLabels.set(lkey, lp = labelsOf(labels, {}));
      lp.catch(() => sharedLabels.delete(lkey));
    }
    names = orAbort(lp, signal);
  } else {
    names = labelsOf(labels, { signal });
  }
  // Both, or neither: an engine whose labels failed is let go (its worker would live on otherwise).
  const [got, lab] = await Promise.allSettled([acquire(signal, onProgress), names]);
  if (got.status === 'fulfilled' && lab.status === 'rejected') letGo(got.value[0], got.value[1], 'disposed');
  if (got.status === 'rejected') throw got.reason;
  if (lab.status === 'rejected') throw lab.reason;
  let [core, entry] = got.value;
  names = lab.value;
  const info = core.info;
  const client = nextClient++;
  const [w, h] = inputSize || info.inputSize;
  if (!labels && info.labels) names = info.labels; // the model's own names (its metadata)
  // disposed / broken: why this instance is unusable (dispose(); a crashed worker whose replacement did
  // not start). restarting: the promise of the replacement while it starts (calls wait for it).
  // lostImage: the worker that held this instance's image is gone: explain(null) cannot work.
  let size = [w, h], disposed = null, broken = null, restarting = null, lostImage = false, hadImage = false, restarts = 0;
  const life = new AbortController(); // aborted by dispose(): every pending call rejects at once
  const call = async (op, args = {}, transfer = [], opts = {}) => {
    // no await before core.call unless restarting: the worker gets the messages in the order of the calls
    if (restarting && !disposed && !broken) await restarting.catch(() => {});
    if (disposed || broken) throw new Error(disposed || broken);
    if (args.pixels) { lostImage = false; hadImage = true; }
    else if (lostImage && (op === 'explain' || op === 'probs')) fail('the engine was restarted after a crash: give the image again');
    return core.call(op, { client, ...args }, transfer, { ...opts, life: life.signal });
  };
  // A crashed worker (not one ended by dispose) is replaced at once: same model, this instance's input
  // size; the calls that were pending reject (err.crashed), later ones wait for the new worker.
  const watch = (c) => c.watch((msg, crashed) => {
    if (!crashed || disposed || c !== core) return;
    restarts++;
    lostImage = hadImage;
    const r = restarting = (async () => {
      const [c2, e2] = await acquire(null, null);
      [core, entry] = [c2, e2];
      try {
        if (!disposed) await c2.call('setInputSize', { client, width: size[0], height: size[1] });
      } catch (err) {
        letGo(c2, e2, 'disposed');
        throw err;
      }
      if (disposed) return leave(c2, e2);
      watch(c2); // only now: a worker that crashes while starting is not replaced again and again
    })();
    r.then(() => { if (restarting === r) restarting = null; }, (e) => {
      if (restarting === r) restarting = null;
      broken = `the engine crashed and could not be restarted: ${oneLine(e)}`;
    });
    try { onCrash?.(msg); } catch { /* the caller's */ }
  });
  // The instance leaves engine c: the worker frees its image, then the instance lets go of it.
  const leave = (c, e) => {
    let once = c.dead;
    const end = () => { if (!once) { once = true; letGo(c, e, disposed); } };
    c.call('dispose', { client }).then(end, end);
    setTimeout(end, 1000);
  };
  // The client's first message: it joins the worker at its input size (checked by the engine).
  try {
    await call('setInputSize', { width: w, height: h });
  } catch (e) {
    letGo(core, entry, 'disposed');
    fail(e);
  }
  watch(core);
  const n = info.numClasses;
  const labelList = names && names.length === n ? names : Array.from({ length: n }, (_, i) => `class ${i}`);
  const labelsMatched = !names || names.length === n;
  const named = (t) => ({ index: t.index, label: labelList[t.index], prob: t.prob });

  // post(img) for classify and explain, in the order they were called whatever decoding their images
  // took (the newest wins in the worker: explain(img) then explain(null, …) must not arrive the other way
  // round). img.pixels: a copy of the caller's ImageData unless transfer (then its buffer moves and the
  // ImageData is detached); an ImageData decoded here is ours to hand over. dispose() meanwhile: AbortError.
  let tail = Promise.resolve();
  const ordered = async (imageData, transfer, post) => {
    if (disposed) throw new Error(disposed);
    const prep = !imageData ? Promise.resolve({}) : toImageData(imageData).then((d) => {
      const own = transfer || d !== imageData;
      return { pixels: own ? d.data.buffer : d.data.buffer.slice(0), width: d.width, height: d.height };
    });
    let posted;
    const prev = tail;
    tail = new Promise((r) => { posted = r; });
    try {
      await prev;
      const img = await prep;
      if (disposed) throw life.signal.reason;
      return post(img); // call() posts at once (unless a crashed worker is being replaced: then in order)
    } finally {
      posted();
    }
  };

  const api = {
    numClasses: n,
    arch: info.arch, // what the weights are: 'resnet18', 'resnet50', 'wide_resnet50_2', ...
    layers: info.layers.filter((l) => l !== 'input'), // this model's target layers (LAYERS is resnet18's)
    labels: labelList,
    labelsMatched, // false: the labels file had another count than the model's classes
    // null while usable (also while a crashed worker is being replaced); else why not (disposed, or the
    // replacement of a crashed worker failed)
    get dead() { return disposed || broken || (restarting ? null : core.dead); },
    get restarts() { return restarts; }, // how many times a crashed worker was replaced
    shared: !!key, // one worker and model copy with the page's other instances of the same model
    startup: core.startup, // the engine's start-up profile (startEngine): ms from navigation per step
    engine: info.engine.split('/').pop(), // the engine that runs: gradcam-engine(-relaxed)(-mt).js
    get inputSize() { return size.slice(); },

    async setInputSize(width, height) {
      await call('setInputSize', { width, height });
      size = [width, height];
    },

    // → {top: [{index, label, prob}] (≤ 5, best first), probs: Float32Array, timings}
    // transfer: hand the ImageData's buffer to the worker instead of copying it (it is detached after).
    async classify(imageData, { transfer = false } = {}) {
      const r = await ordered(imageData, transfer, (img) => call('classify', { ...img, wantProbs: true }, [img.pixels]));
      return { top: r.top.map(named), probs: new Float32Array(r.probs), timings: r.timings };
    },

    // → {classIndex, label, prob, layer, method, eigenSmooth, eigenSmoothIgnored, augSmooth, compared,
    //    width, height, overlay: ImageData, heatmap: ImageData, cam: Float32Array [camHeight][camWidth]
    //    (the model input size), top, probs: Float32Array, timings, metrics (when asked),
    //    sign, scale, interp, colormap (the one drawn with), mode, grey, legend: what the colour bar's
    //    two ends mean ("normalised, positive: 0 .. 1", "raw, all: -1.61 .. 1.61": the CLI's legend),
    //    lut: Uint8Array(768), the colormap's 256 RGB entries, reused: true when only redrawn}
    // imageData null: the last image again. opts:
    //   classIndex   -1/undefined: the top-1 class
    //   layer        'layer4' (see LAYERS); several ('layer3,layer4' or an array) average their CAMs
    //   alpha        the image's weight in the overlay, 0..1, default 0.5 (the CLI's --alpha)
    //   colormap     one of COLORMAPS; default jet, rdwhgn for sign 'all'
    //   mode         one of MODES, default blended_heat_map; alpha_scaling's overlay has an alpha channel
    //   grey         blend over a greyscale copy of the image (blended_heat_map)
    //   sign         'positive' (default), 'negative' (evidence against the class), 'all' (both, centred on 0)
    //   scale        'normalised' (0..1, default) or 'raw' (the CAM's own units)
    //   interp       'linear' (default, cv2.INTER_LINEAR) or 'nearest' (the layer's own grid)
    //   method       one of METHODS' names, default 'gradcam'
    //   eigenSmooth  the first principal component instead of the weighted sum (methods that honour it)
    //   augSmooth    the mean of 6 passes: the input × {0.9, 1, 1.1}, flipped or not
    //   metrics      also {score, camMultImageConfidenceChange, dropInConfidence, increaseInConfidence,
    //                roadPercentiles, roadMorf, roadLerf, roadMorfMean, roadLerfMean, roadCombined}
    //                (pytorch-grad-cam's metrics; 19 more network passes with the default percentiles)
    //   roadPercentiles  whole numbers in 1..99 (default 10, 20, ..., 90); roadNoise  default 0.01
    //   onProgress   (fraction 0..1), between the steps of a job that takes more than one (~50 ms)
    //   signal       an AbortSignal: aborting rejects with an Error named AbortError ('cancelled') and
    //                stops the job in the worker; the instance stays usable
    // compared: FinerCAM's rivals (class indices) when it chose them itself, else []. One explain runs
    // at a time per instance and the newest wins: an explain sent while others wait or run cancels them
    // (they reject with an AbortError; queued ones never start). An explain that sent pixels leaves them
    // as "the last image" even when cancelled. Asking again for the same explanation in another style (alpha, colormap, mode,
    // grey) redraws it only: the method does not run again.
    async explain(imageData, {
      classIndex = -1, layer = 'layer4', alpha = 0.5, overlay = true, heatmap = true, cam = true, method = 'gradcam',
      eigenSmooth = false, augSmooth = false, metrics = false, roadPercentiles, roadNoise = 0.01, onProgress, signal,
      colormap = '', mode = 'blended_heat_map', grey = false, sign = 'positive', scale = 'normalised', interp = 'linear',
      atInputSize = false, transfer = false,
    } = {}) {
      if (signal?.aborted) throw abortError();
      if (colormap) oneOf('colormap', colormap, COLORMAPS);
      oneOf('mode', mode, MODES); oneOf('sign', sign, SIGNS); oneOf('scale', scale, SCALES); oneOf('interp', interp, INTERPS);
      const r = await ordered(imageData, transfer, (img) => call('explain', {
        ...img, classIndex, layer: layerList(layer).join(','), alpha, overlay, heatmap, cam, wantProbs: true, method,
        eigenSmooth: !!eigenSmooth, augSmooth: !!augSmooth, metrics: !!metrics,
        roadPercentiles: roadPercentiles ? Array.from(roadPercentiles) : null, roadNoise,
        colormap: colormap || '', mode, grey: !!grey, sign, scale, interp, atInputSize: !!atInputSize,
      }, img.pixels ? [img.pixels] : [], { onProgress, signal }));
      const out = {
        classIndex: r.classIndex, label: labelList[r.classIndex], prob: r.prob, layer: r.layer, method: r.method,
        eigenSmooth: r.eigenSmooth, eigenSmoothIgnored: r.eigenSmoothIgnored, augSmooth: r.augSmooth, compared: r.compared,
        width: r.width, height: r.height, camWidth: r.camWidth, camHeight: r.camHeight,
        top: r.top.map(named), timings: r.timings,
        sign: r.sign, scale: r.scale, interp: r.interp, colormap: r.colormap, mode: r.mode, grey: r.grey,
        legend: r.legend, lut: new Uint8Array(r.lut), reused: r.reused, layerNames: r.layerNames,
      };
      if (r.metrics) out.metrics = r.metrics;
      if (r.probs) out.probs = new Float32Array(r.probs);
      if (r.overlay) out.overlay = new ImageData(new Uint8ClampedArray(r.overlay), r.width, r.height);
      if (r.heatmap) out.heatmap = new ImageData(new Uint8ClampedArray(r.heatmap), r.width, r.height);
      if (r.cam) out.cam = new Float32Array(r.cam);
      return out;
    },

    // The 256 RGB entries (Uint8Array(768)) of one of COLORMAPS, exactly as the engine draws with
    // them: for a colour bar beside a picture.
    async colormapLUT(name) {
      oneOf('colormap', name, COLORMAPS);
      return new Uint8Array(await call('colormap', { name }));
    },

    // A compare grid, as the CLI's --compare: one explanation per tile of the image (imageData, or the
    // last one when null), in explain's style and options except what the grid varies:
    //   by 'classes': the top k classes (k 1..16, default 4) · 'layers' / 'methods': items, the
    //   layers or methods of the tiles (1..16). → [{classIndex, label, prob, layer, method, caption
    //   (the CLI's tile label), overlay: ImageData, ...explain's result}], in order. The overlays are at
    //   the model input size, on the image resized as for the network, and opaque (alpha_scaling draws
    //   as masked_image): the CLI's grid tiles, pixel for pixel.
    // Tiles run one after another; onTile(tile, i, n) sees each as it is done; onProgress(fraction)
    // counts over the whole grid; an abort stops it (rejects with an AbortError). The worker keeps only
    // the last tile's explanation, so the next explain of another one computes it again.
    async compare(imageData, { by = 'classes', k = 4, items, onTile, onProgress, signal, ...opts } = {}) {
      oneOf('compare by', by, ['classes', 'layers', 'methods']);
      let list;
      if (by === 'classes') {
        if (!(Number.isInteger(k) && k >= 1 && k <= 16)) fail(`compare: k ${k} outside 1..16`);
        const c = imageData ? await api.classify(imageData) : await call('probs', {}, [], { signal });
        const probs = new Float32Array(c.probs), top = c.top.map((t) => t.index);
        // The engine's top 5 (ranked by logit, as the CLI's), then the rest by probability.
        list = [...top, ...[...probs.keys()].filter((i) => !top.includes(i)).sort((a, b) => probs[b] - probs[a] || a - b)].slice(0, k);
      } else {
        list = Array.isArray(items) ? items.map(String) : String(items || '').split(',').filter(Boolean);
        if (!list.length || list.length > 16) fail(`compare: give 1..16 ${by}`);
        if (by === 'methods') list.forEach((m) => { if (!methodInfo(m)) fail(`compare: method '${m}' is not one of METHODS`); });
        if (imageData) await api.classify(imageData);
      }
      const tiles = [];
      for (let i = 0; i < list.length; i++) {
        const r = await api.explain(null, {
          ...opts, heatmap: false, cam: false, metrics: false, signal, atInputSize: true,
          mode: opts.mode === 'alpha_scaling' ? 'masked_image' : opts.mode,
          ...(by === 'classes' ? { classIndex: list[i] } : by === 'layers' ? { layer: list[i] } : { method: list[i] }),
          onProgress: onProgress && ((f) => onProgress((i + f) / list.length)),
        });
        const tile = { ...r, caption: tileCaption(r.label, r.prob, r.method, r.layerNames) };
        tiles.push(tile);
        onTile?.(tile, i, list.length);
        onProgress?.((i + 1) / list.length);
      }
      return tiles;
    },

    // Diagnostics, answered at once even while a job runs: {heapBytes (the engine's WebAssembly memory),
    // heapUsed (bytes malloc holds; null when the engine does not say), clients, queued, running,
    // explains / computed / dropped / stopped (the worker's counts: asked; computed or redrawn; never
    // started; stopped midway), pending (this page's unanswered calls to the worker), restarts}.
    async stats() {
      const r = await call('stats');
      return { ...r, pending: core.pending, restarts };
    },

    // Test hook: the Worker running the engine now (a test ends it to play a crash).
    get _worker() { return core.worker; },

    // The calls still pending reject at once with an AbortError ('cancelled: this GradCam instance was
    // disposed'), later ones with an Error; the worker frees this instance's image and, when no other
    // instance holds it, the model, then ends (its memory goes with it).
    dispose() {
      if (disposed) return;
      disposed = 'this GradCam instance was disposed';
      life.abort(abortError(`cancelled: ${disposed}`));
      if (!broken && !restarting) leave(core, entry); // else nothing held, or the replacement leaves when up
    },
  };
  return api;
}
