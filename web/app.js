// app.js: the page (index.html). Wires the controls to one GradCam instance (gradcam.js) at a time.
//
// The original-image canvas is the page's copy of the current image: every explanation is computed
// from its pixels (sent to the worker, which keeps them), so switching model, class, layer, opacity or
// input size never needs the file again. Failures land in the banner; the previous model and image
// stay in place, so the page is usable afterwards. The method controls live in methods-ui.js, the
// display ones (colormap, mode, sign, ..., legend, downloads) in display-ui.js, the compare grid in
// compare-ui.js.
//
// URL parameters (same-origin paths only; the CSP refuses anything else):
//   ?model=path/to/weights.safetensors|.pth&labels=path/to/labels.txt&multilabel=0|1
//   ?threads=N   threads of the threaded engine (1: the plain engine); default one per core
import { initCompareUI } from './compare-ui.js';
import { initDisplayUI, initDownloads } from './display-ui.js';
import { createGradCam, crossOriginIsolate, fetchBytes, isLong, MODEL_CACHE, parseLabels, simdSupported, toImageData } from './gradcam.js';
import { initMethodsUI } from './methods-ui.js';

const $ = (id) => document.getElementById(id);
const BUILTIN = {
  shapes: { model: 'models/shapes/resnet18-shapes.safetensors', labels: 'models/shapes/labels.txt', name: 'Shapes' },
  imagenet: { model: 'models/imagenet/resnet18-imagenet.safetensors', labels: 'models/imagenet/labels.txt', name: 'ImageNet' },
};
const SAMPLES = [
  { src: 'samples/shapes-1.png', alt: 'Generated scene with shapes (1)' },
  { src: 'samples/shapes-2.png', alt: 'Generated scene with shapes (2)' },
  { src: 'samples/shapes-3.png', alt: 'Generated scene with shapes (3)' },
  { src: 'samples/both.png', alt: 'A dog and a cat' },
  { src: 'samples/dogs.png', alt: 'Six dogs on a lawn' },
  { src: 'samples/horses.jpg', alt: 'Horses' },
];

const state = {
  gc: null,            // the GradCam instance
  labels: [],          // names shown (own labels file, else the model's)
  ownLabels: null,     // labels file (File) for "your own" model
  ownFile: null,       // weights file of "your own" model
  hasImage: false,
  ownSize: [224, 224], // the model's own input size (its file's "gradcam.size"): the input-size menu's first entry
  classIndex: -1,      // -1: explain the top-1 class
  probs: null,         // Float32Array of the last classification
  top: [],
  webcam: null,        // {stream, video, frames, t0} while running
  explained: 0,
  images: 0,           // counts images shown: names "the current explanation" with its class, layer, ...
  models: 0,           // counts models loaded (with images: names the scene a compare grid shows)
  shown: null,         // what the main view on show was made from (a compare-only change keeps it)
};

// ---- status and errors --------------------------------------------------------------------------------

// The banner is role="alert" (read out at once) and leaves the focus where it is; its dismiss button
// gives the focus back to the control the user was on (a hidden button would drop it to <body>).
// sticky: the message stays after the next success (an engine crash: the page recovers by itself at
// once, and the user would not see a message that went with the next picture), until dismissed or replaced.
let focusBeforeBanner = null, stickyBanner = false;
function showError(e, { sticky = false } = {}) {
  const msg = String((e && e.message) || e).split('\n')[0];
  if (!$('banner').contains(document.activeElement)) focusBeforeBanner = document.activeElement;
  $('banner-text').textContent = msg;
  $('banner').hidden = false;
  stickyBanner = sticky;
  document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
  console.warn('gradcam:', msg);
}
const clearError = (dismissed = false) => {
  if (stickyBanner && !dismissed) return;
  stickyBanner = false;
  $('banner').hidden = true;
};
$('banner-close').addEventListener('click', () => {
  const back = focusBeforeBanner;
  clearError(true);
  const usable = back && back !== document.body && back.isConnected && !back.disabled && back.getClientRects().length;
  (usable ? back : $('model-select')).focus();
});

// Run an async UI action; any failure becomes the banner.
const guard = (fn) => async (...a) => {
  try {
    await fn(...a);
  } catch (e) {
    showError(e);
  }
};

// Not aria-busy: on <body> it tells screen readers to hold back the whole page, live regions included,
// and the webcam keeps the page busy for minutes. The job row and the caption say what is going on.
function setBusy(what) {
  document.body.dataset.busy = what ? '1' : '';
}

const mb = (n) => (n / 1048576).toFixed(1);

// ---- model --------------------------------------------------------------------------------------------

let modelSeq = 0;
async function loadModel(args) {
  const { model, labels, multilabel, label, mean, std, crop } = args;
  const seq = ++modelSeq;
  const bar = $('model-progress'), status = $('model-status');
  bar.removeAttribute('value'); // indeterminate until the size is known
  status.textContent = `loading ${label}…`;
  document.body.dataset.modelReady = '';
  let gc, own;
  try {
    // made at the file's own input size ("gradcam.size", else 224×224), which the menu's first entry names;
    // another size picked in the menu is set right after
    gc = await createGradCam({
      model, multilabel, mean, std, crop, threads: Number(new URLSearchParams(location.search).get('threads')) || undefined,
      onCrash: (msg) => { if (gc && gc === state.gc) engineCrashed(msg, label); },
      onProgress: (loaded, total, cached) => {
        if (seq !== modelSeq) return;
        if (total) { bar.max = total; bar.value = loaded; }
        status.textContent = cached ? `${label}: ${mb(loaded)} MB from the cache` : `${label}: ${mb(loaded)} / ${total ? mb(total) : '?'} MB`;
      },
    });
    own = gc.inputSize;
    const picked = Number($('input-size').value); // 0: the model's own
    if (picked && (picked !== own[0] || picked !== own[1])) await gc.setInputSize(picked, picked);
  } catch (e) {
    gc?.dispose();
    if (seq === modelSeq) {
      bar.value = 0;
      status.textContent = state.gc ? `${label} failed; still using ${state.modelArgs.label}` : 'no model loaded';
      document.body.dataset.modelReady = state.gc ? '1' : '';
    }
    throw new Error(`${label}: ${e.message}`);
  }
  if (seq !== modelSeq) { gc.dispose(); return; } // a newer choice won
  state.ownSize = own;
  $('input-size').options[0].textContent = `the model's own (${own.join('×')})`;
  state.gc?.dispose();
  state.gc = gc;
  state.models++;
  state.modelArgs = args; // to start the engine again if its worker ever dies
  let names = gc.labels;
  if (labels) {
    try {
      names = labels instanceof Blob ? parseLabels(await labels.text()) : parseLabels(new TextDecoder().decode(await fetchBytes(labels, { cache: false })));
    } catch (e) {
      showError(`labels: ${e.message}`);
    }
  }
  setLabels(names);
  bar.max = 1; bar.value = 1;
  status.textContent = `${label}: ready, ${gc.arch}, ${gc.numClasses} classes${gc.engine.includes('-mt') ? ' (threaded engine)' : ''}`;
  display.setLayers(gc.layers);
  grid.setLayers(gc.layers);
  document.body.dataset.modelReady = '1';
  state.classIndex = -1;
  grid.setClasses(gc.numClasses);
  if (state.hasImage) await explainFromCanvas();
}

// The worker died; gradcam.js is starting a new one with the same model. Say so, and draw the current
// picture again (its pixels went with the old worker; the canvas has them).
function engineCrashed(msg, label) {
  showError(`${msg} — the engine was restarted`, { sticky: true });
  $('model-status').textContent = `${label}: the engine stopped and was restarted`;
  document.body.dataset.engineRestarts = String(Number(document.body.dataset.engineRestarts || 0) + 1);
  if (state.hasImage && !state.webcam) explainFromCanvas().catch(showError); // the webcam sends a frame anyway
}

function setLabels(names) {
  const n = state.gc ? state.gc.numClasses : names.length;
  if (names.length !== n) {
    showError(`the labels list has ${names.length} names but the model has ${n} classes: showing class numbers`);
    names = Array.from({ length: n }, (_, i) => `class ${i}`);
  }
  state.labels = names;
  const dl = $('class-names');
  dl.replaceChildren(...names.map((s, i) => Object.assign(document.createElement('option'), { value: `${i}: ${s}` })));
  renderTop();
}

async function loadChosenModel() {
  const v = $('model-select').value;
  $('own-model').hidden = v !== 'own';
  if (v === 'own') {
    const f = state.ownFile || $('model-file').files[0];
    if (f) await loadOwn(f);
    return;
  }
  const b = v.startsWith('imagenet:') ? { ...BUILTIN.imagenet, model: v.slice(9), name: `ImageNet ${v.split('/').pop().replace(/\.safetensors$/, '')}` } : BUILTIN[v];
  // multilabel undefined: the engine reads the head (sigmoid or softmax) from the file's metadata
  await loadModel({ model: b.model, labels: b.labels, label: `${b.name} model` });
}

// The own model's preprocessing fields: overrides of what its file says (empty: the file's).
function preprocessing() {
  const c = $('pre-crop').value.trim(); // mean, std: "r,g,b" as typed, createGradCam checks them
  return { mean: $('pre-mean').value, std: $('pre-std').value, crop: c === '' ? undefined : Number(c) === 0 ? -1 : Number(c) };
}

async function loadOwn(file) {
  state.ownFile = file; // picked or dropped: kept for the multi-label switch
  $('model-select').value = 'own';
  $('own-model').hidden = false;
  await loadModel({ model: file, labels: state.ownLabels, multilabel: $('multilabel').checked, label: file.name, ...preprocessing() });
}

// Is the ImageNet model there (served, or cached from an earlier visit)? And which others: models/index.json
// (written by the build) lists every weight file of the site; each ImageNet one other than resnet18 gets an
// option of its own ('imagenet:models/imagenet/resnet50-imagenet.safetensors').
async function probeImagenet() {
  const url = new URL(BUILTIN.imagenet.model, document.baseURI).href;
  let ok = false;
  try {
    ok = (await fetch(url, { method: 'HEAD' })).ok;
  } catch { /* offline */ }
  if (!ok && typeof caches === 'object') ok = !!(await caches.match(url).catch(() => null));
  const opt = $('model-select').querySelector('option[value=imagenet]');
  opt.hidden = opt.disabled = !ok;
  let list = [];
  try {
    const r = await fetch('models/index.json', { cache: 'no-cache' });
    if (r.ok) list = await r.json();
  } catch { /* an older site, or offline */ }
  const own = $('model-select').querySelector('option[value=own]');
  for (const e of Array.isArray(list) ? list : []) {
    if (e?.set !== 'imagenet' || typeof e.file !== 'string' || e.file === BUILTIN.imagenet.model) continue;
    const value = `imagenet:${e.file}`;
    if ($('model-select').querySelector(`option[value="${CSS.escape(value)}"]`)) continue;
    const stem = e.file.split('/').pop().replace(/\.safetensors$/, '').replace(/-imagenet$/, '');
    own.before(Object.assign(document.createElement('option'), { value, textContent: `ImageNet ${stem} (${mb(e.bytes || 0)} MB)` }));
  }
}

// ---- images -------------------------------------------------------------------------------------------

async function useImage(src) {
  if (!state.gc) throw new Error('no model loaded yet: wait for it, or choose one above');
  const d = await toImageData(src);
  const c = $('original');
  c.width = d.width; c.height = d.height;
  c.getContext('2d').putImageData(d, 0, 0);
  state.hasImage = true;
  state.images++;
  if (!state.webcam) state.classIndex = -1; // a new picture: start from its top-1 class
  await explain(d);
}

function explainFromCanvas() {
  const c = $('original');
  return explain(c.getContext('2d', { willReadFrequently: true }).getImageData(0, 0, c.width, c.height));
}

// Requests are chained and the newest wins: a control moved while the worker is busy aborts the job
// in flight (a Score-CAM takes ~40 s: finishing it first would leave the page behind the controls),
// and only the most recent pending request runs. metrics: this request also asks for the metrics;
// compare: it draws the compare grid even when that is slow (the Compare button); gridOnly: only the
// grid's controls changed (the main view is drawn again only if it does not show the settings).
let running = null, queued = null, inflight = null, userCancelled = false;
function explain(imageData = null, { metrics = false, compare = false, gridOnly = false } = {}) {
  return new Promise((resolve, reject) => {
    if (queued) queued.resolve(); // superseded
    queued = { imageData: imageData || queued?.imageData || null, metrics, compare, gridOnly, resolve, reject };
    inflight?.abort();
    if (!running) running = drain();
  });
}
// The Cancel button: the job in flight stops (the worker drops it between two steps), nothing queued runs.
function cancelExplain() {
  queued?.resolve();
  queued = null;
  if (inflight) { userCancelled = true; inflight.abort(); }
}
async function drain() {
  while (queued) {
    const job = queued;
    queued = null;
    setBusy(true);
    const ac = new AbortController();
    inflight = ac;
    userCancelled = false;
    try {
      await explainNow(job, ac.signal);
      job.resolve();
    } catch (e) {
      if (e.name === 'AbortError') { // cancelled, or replaced by a newer request: not a failure
        methods.jobEnd(userCancelled ? 'cancelled' : 'superseded');
        job.resolve();
        continue;
      }
      methods.jobEnd('failed');
      if (e.crashed && !state.gc?.dead) { job.resolve(); continue; } // engineCrashed said so, and draws again
      job.reject(e);
      if (state.gc?.dead && state.modelArgs) { // the worker crashed: a fresh one, same model and image
        showError(`${e.message} — restarting the engine`);
        loadModel(state.modelArgs).catch(showError);
      }
    } finally {
      if (inflight === ac) inflight = null;
    }
  }
  setBusy(false);
  running = null;
}

// The main view (unless only the grid changed and the main view shows these settings already), then
// the compare grid when one is on: at once when quick, else on the Compare button (compare-ui.js says why).
async function explainNow({ imageData, metrics, compare, gridOnly }, signal) {
  const gc = state.gc;
  if (!gc || !state.hasImage) return;
  const opts = {
    classIndex: state.classIndex, ...methods.options(), ...display.options(), alpha: 1 - Number($('opacity').value) / 100,
  };
  const scene = [state.images, state.models, gc.inputSize]; // which image, model and input size
  const key = JSON.stringify([scene, opts]);
  if (!gridOnly || imageData || metrics || state.shown !== key) {
    await showMain(gc, imageData, { ...opts, metrics }, signal);
    state.shown = key;
  }
  const plan = grid.plan(opts, scene);
  if (gc !== state.gc || !plan || grid.current(plan)) return;
  if (!compare && (plan.long || isLong(opts) || state.webcam)) { grid.stale(plan); return; }
  methods.jobStart(opts, { label: `Compare ${plan.by}`, long: plan.long });
  await grid.run(gc, plan, state.labels, { signal, onProgress: (f) => { if (!signal.aborted) methods.progress(f); } });
  methods.jobEnd('done');
}

async function showMain(gc, imageData, opts, signal) {
  methods.jobStart(opts);
  const r = await gc.explain(imageData, { ...opts, signal, onProgress: (f) => { if (!signal.aborted) methods.progress(f); } });
  methods.jobEnd('done');
  if (gc !== state.gc) return;
  state.top = r.top;
  state.probs = r.probs;
  for (const [id, img] of [['overlay', r.overlay], ['heatmap', r.heatmap]]) {
    const c = $(id);
    c.width = img.width; c.height = img.height;
    c.getContext('2d').putImageData(img, 0, 0);
  }
  state.last = r;
  const name = state.labels[r.classIndex] ?? `class ${r.classIndex}`;
  $('caption').textContent = `${name}  ${(100 * r.prob).toFixed(1)}%  ${methods.where(r)}`;
  // The pictures' names say what they show, as <grad-cam-viewer>'s does.
  const what = `for class '${name}', ${methods.where(r)}`;
  $('heatmap').setAttribute('aria-label', `Heatmap ${what}`);
  $('overlay').setAttribute('aria-label', `Heatmap over the image ${what}`);
  const t = r.timings;
  // The engine's "cam" time is the method's own work: network passes for the long ones (and metrics).
  const long = t.cam > 250 ? `${r.method}${r.metrics ? ' + metrics' : ''} ${(t.cam / 1000).toFixed(1)} s · render ${t.render.toFixed(1)} ms`
    : `render ${(t.cam + t.render).toFixed(1)} ms`;
  $('timings').textContent = `forward ${t.forward.toFixed(1)} ms · backward ${t.backward.toFixed(1)} ms · ${long}`;
  $('dl-overlay').disabled = $('dl-panel').disabled = false;
  display.showLegend(r);
  methods.showResult(r, JSON.stringify([state.images, r.classIndex, r.layer, r.method, r.eigenSmooth, r.augSmooth, r.camWidth, r.camHeight,
    r.sign, r.scale, r.interp]), state.labels);
  renderTop(r.classIndex);
  clearError();
  document.body.dataset.camSize = `${r.camWidth}x${r.camHeight}`; // the engine's input size (for the tests)
  document.body.dataset.explained = String(++state.explained);
}

function renderTop(explainedIndex = state.last?.classIndex) {
  const box = $('top5-list');
  if (!state.top.length) return;
  // Rebuilt on every result: keep the keyboard focus on the same class, or arrow keys stop working.
  const focused = box.contains(document.activeElement) ? document.activeElement.value : null;
  const items = state.top.map((t) => t.index);
  if (explainedIndex != null && !items.includes(explainedIndex)) items.push(explainedIndex);
  box.replaceChildren(...items.map((i, k) => {
    const id = `cls-${i}`;
    const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'cls', id, value: String(i) });
    input.checked = i === explainedIndex;
    if (state.probs) input.dataset.prob = String(state.probs[i]);
    const label = document.createElement('label');
    label.htmlFor = id;
    const p = state.probs ? state.probs[i] : NaN;
    label.textContent = `${state.labels[i] ?? `class ${i}`} — ${(100 * p).toFixed(1)}%${k >= state.top.length ? ' (chosen)' : ''}`;
    const row = document.createElement('div');
    row.className = 'top-item';
    row.append(input, label);
    return row;
  }));
  if (focused != null) box.querySelector(`input[value="${focused}"]`)?.focus();
}

$('top5-list').addEventListener('change', guard(async (e) => {
  if (e.target.name !== 'cls') return;
  state.classIndex = Number(e.target.value);
  await explain();
}));

// "12: tiger cat", "12", or a (case-insensitive) label or unique part of one.
function resolveClass(text) {
  const s = text.trim();
  if (!s) return -1;
  const m = /^(\d+)(:|$)/.exec(s);
  const n = state.labels.length;
  if (m) {
    const i = Number(m[1]);
    if (i >= n) throw new Error(`class ${i} out of range (0..${n - 1})`);
    return i;
  }
  const low = s.toLowerCase();
  const exact = state.labels.findIndex((l) => l.toLowerCase() === low);
  if (exact >= 0) return exact;
  const hits = state.labels.map((l, i) => [l, i]).filter(([l]) => l.toLowerCase().includes(low));
  if (hits.length === 1) return hits[0][1];
  if (!hits.length) throw new Error(`no class matches '${s}'`);
  throw new Error(`'${s}' matches ${hits.length} classes (${hits.slice(0, 5).map(([l, i]) => `${i} ${l}`).join(', ')}${hits.length > 5 ? ', …' : ''}): be more specific`);
}
$('class-search').addEventListener('change', guard(async (e) => {
  const i = resolveClass(e.target.value);
  if (i < 0) return;
  state.classIndex = i;
  await explain();
}));

// ---- controls -----------------------------------------------------------------------------------------

const display = initDisplayUI({ onChange: guard(() => explain()) });
const methods = initMethodsUI({
  onChange: guard(() => { display.methodChanged(methods.options().method); return explain(); }),
  onMetrics: guard(() => explain(null, { metrics: true })),
  onCancel: cancelExplain,
});
const grid = initCompareUI({
  onChange: guard(() => explain(null, { gridOnly: true })),
  onRun: guard(() => explain(null, { compare: true, gridOnly: true })),
  // A tile becomes the main view: its class, layer(s) and method go to the pickers.
  onPick: guard(({ classIndex, layer, method }) => {
    state.classIndex = classIndex;
    display.setLayer(layer);
    methods.set(method);
    display.methodChanged(method);
    return explain();
  }),
});
initDownloads(() => state.last, showError);
$('opacity').addEventListener('input', guard(async () => {
  $('opacity-out').value = `${$('opacity').value}%`;
  await explain();
}));
$('input-size').addEventListener('change', guard(async () => {
  const s = Number($('input-size').value); // 0: the model's own
  if (!state.gc) return;
  await state.gc.setInputSize(...(s ? [s, s] : state.ownSize));
  await explain();
}));
$('model-select').addEventListener('change', guard(loadChosenModel));
$('model-file').addEventListener('change', guard(async (e) => { if (e.target.files[0]) await loadOwn(e.target.files[0]); }));
$('labels-file').addEventListener('change', guard(async (e) => { if (e.target.files[0]) await useLabels(e.target.files[0]); }));
$('multilabel').addEventListener('change', guard(async () => {
  if (state.ownFile) await loadOwn(state.ownFile);
}));
for (const id of ['pre-mean', 'pre-std', 'pre-crop']) {
  $(id).addEventListener('change', guard(async () => { if (state.ownFile) await loadOwn(state.ownFile); }));
}
$('image-file').addEventListener('change', guard(async (e) => {
  const f = e.target.files[0];
  try {
    if (f) await useImage(f);
  } finally {
    e.target.value = ''; // choosing the same file again fires again
  }
}));

async function useLabels(file) {
  state.ownLabels = file;
  if ($('model-select').value === 'own' && state.gc) setLabels(parseLabels(await file.text()));
}

// Drop and paste: images explain, weights load as "your own" model, .txt are labels.
async function useFiles(files) {
  const list = [...files];
  const isWeights = (f) => /\.(safetensors|pth|pt)$/i.test(f.name);
  const isLabels = (f) => /\.txt$/i.test(f.name) || f.type === 'text/plain';
  for (const f of list.filter(isLabels)) await useLabels(f);
  for (const f of list.filter(isWeights)) await loadOwn(f);
  const img = list.find((f) => !isWeights(f) && !isLabels(f));
  if (img) await useImage(img);
}
document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dropping'); });
document.addEventListener('dragleave', () => document.body.classList.remove('dropping'));
document.addEventListener('drop', guard(async (e) => {
  e.preventDefault();
  document.body.classList.remove('dropping');
  await useFiles(e.dataTransfer.files);
}));
document.addEventListener('paste', guard(async (e) => {
  const files = [...(e.clipboardData?.items || [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile());
  if (files.length) await useFiles(files);
}));

// ---- samples ------------------------------------------------------------------------------------------

function buildGallery() {
  $('gallery').replaceChildren(...SAMPLES.map((s) => {
    // A list item holding a button: a <button> cannot take the listitem role itself.
    const item = document.createElement('div');
    item.setAttribute('role', 'listitem');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sample';
    b.setAttribute('aria-label', `Use sample: ${s.alt}`);
    const img = Object.assign(document.createElement('img'), { src: s.src, alt: '', loading: 'lazy', width: 72, height: 72 });
    img.addEventListener('error', () => item.remove()); // a sample that is not shipped is simply not shown
    b.append(img);
    item.append(b);
    b.addEventListener('click', guard(async () => {
      const res = await fetch(s.src);
      if (!res.ok) throw new Error(`cannot fetch ${s.src}: HTTP ${res.status}`);
      await useImage(new File([await res.blob()], s.src.split('/').pop()));
    }));
    return item;
  }));
}

// ---- webcam -------------------------------------------------------------------------------------------

async function startWebcam() {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('no camera access in this browser (or the page is not on https/localhost)');
  if (!state.gc) throw new Error('no model loaded yet');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    throw new Error(`cannot open the camera: ${e.message || e.name}`);
  }
  const video = Object.assign(document.createElement('video'), { muted: true, playsInline: true, srcObject: stream });
  await video.play();
  const cam = { stream, video, frames: 0, t0: performance.now() };
  state.webcam = cam;
  $('webcam').textContent = 'Stop webcam'; // the name says the state: no aria-pressed on top of it
  // Explain frame after frame, as fast as the engine goes; the frame in flight finishes first.
  while (state.webcam === cam) {
    if (video.readyState >= 2) {
      await useImage(video);
      cam.frames++;
      const fps = cam.frames / ((performance.now() - cam.t0) / 1000);
      $('webcam-status').textContent = `${cam.frames} frames, ${fps.toFixed(1)} per second`;
      document.body.dataset.webcamFrames = String(cam.frames);
    }
    await new Promise((r) => requestAnimationFrame(r));
  }
}

function stopWebcam() {
  const cam = state.webcam;
  if (!cam) return;
  state.webcam = null;
  cam.stream.getTracks().forEach((t) => t.stop());
  $('webcam').textContent = 'Start webcam';
}

$('webcam').addEventListener('click', async () => {
  if (state.webcam) return stopWebcam();
  try {
    await startWebcam();
  } catch (e) {
    stopWebcam();
    showError(e);
  }
});

// ---- cache --------------------------------------------------------------------------------------------

$('forget').addEventListener('click', guard(async () => {
  if (typeof caches !== 'object') return;
  await caches.delete(MODEL_CACHE);
  $('model-status').textContent += ' (cache cleared: the next load downloads again)';
}));

// ---- start --------------------------------------------------------------------------------------------

// Offline after the first visit: sw.js keeps a copy of the page and engine (the weights are in the
// Cache API already). Plain http on another host has no service workers: the page works, only not offline.
// <meta name="gradcam-isolation" content="service-worker"> (opt-in, for hosts that cannot send COOP/COEP
// such as GitHub Pages): sw.js?coi=1 also adds those headers, and the first visit reloads once through
// it, so that the threaded engine runs (README: Threads and cross-origin isolation).
const isolateBySW = document.querySelector('meta[name="gradcam-isolation"]')?.content === 'service-worker';
const swUrl = isolateBySW ? 'sw.js?coi=1' : 'sw.js';
if ('serviceWorker' in navigator && window.isSecureContext && !isolateBySW) navigator.serviceWorker.register(swUrl).catch(() => {});

async function start() {
  if (isolateBySW) await crossOriginIsolate(swUrl); // registers it; reloads the page once if not isolated yet
  $('boot').remove(); // the modules loaded and run
  buildGallery();
  if (!simdSupported()) {
    showError('this browser does not support WebAssembly SIMD, which the engine needs (try a current Chrome, Edge, Firefox or Safari)');
    return;
  }
  const q = new URLSearchParams(location.search);
  probeImagenet().catch(() => {});
  if (q.get('model')) {
    const ml = q.get('multilabel');
    $('model-select').value = 'own';
    await loadModel({ model: q.get('model'), labels: q.get('labels'), multilabel: ml == null ? undefined : ml === '1', label: q.get('model').split('/').pop() });
  } else {
    await loadChosenModel();
  }
}
guard(start)();
