// grad-cam-viewer.js: <grad-cam-viewer>, an embeddable Grad-CAM figure. One ES module, no framework.
//
//   <script type="module" src="grad-cam-viewer.js"></script>
//   <grad-cam-viewer src="photo.png" layer="layer4" alt="Grad-CAM of a star"></grad-cam-viewer>
//
// custom-elements.json (beside this file) is the full reference; in short:
// Attributes (each has a camelCase JS property that reflects it; URLs are same-origin):
//   src            the image                          model    .safetensors/.pth weights (default: the
//   labels         labels .txt (optional)                      shapes model shipped beside gradcam.js)
//   target-class   class index or label (default: the top-1 class); `class` is accepted too when it is
//                  a number, since the plain `class` attribute usually holds CSS classes (no property)
//   layer          target layer(s), default layer4 ("layer3,layer4" averages their CAMs)
//   method         one of gradcam.js METHODS (gradcam, hirescam, gradcam++, scorecam, ...; default gradcam)
//   eigen-smooth, aug-smooth   booleans, as pytorch-grad-cam's
//   alpha          the image's weight in the overlay, 0..1 (default 0.5)
//   colormap       one of gradcam.js COLORMAPS (default jet, rdwhgn for sign all)
//   mode           blended_heat_map (default) | heat_map | masked_image | alpha_scaling
//   grey           boolean: blend over a greyscale copy      sign  positive (default) | negative | all
//   scale          normalised (default) | raw                interp  linear (default) | nearest
//   multilabel     present or "1": sigmoid; "0": softmax; absent: the weights file's metadata decides
//   mean, std      "0.5,0.5,0.5": Normalize's, overriding the weights file's metadata (default: the file's, else
//                  ImageNet's); crop: "256" Resize(256) + CenterCrop(224) (the picture shows the part the model
//                  saw), "-1" a plain resize; input-size: "224" or "160x128" (default: the file's, else 224)
//   loading        lazy (default): nothing is fetched or computed until the viewer is within 200 px of
//                  the viewport; eager: at once
//   alt            the accessible name of the picture, instead of the generated one ("Grad-CAM heatmap
//                  for class 'star', layer4"); alt="" marks it decorative
// A change of colormap, mode, grey or alpha only redraws (the explanation is not computed again); a
// change while a long method runs stops it: the newest attributes win. alt only relabels.
// Methods and properties: toBlob(type = 'image/png', quality) → Promise<Blob> of the rendered overlay
// (rejects while nothing is rendered); result (read-only): the last gradcam-done detail, or null.
// Events (all CustomEvents):
//   progress       detail {fraction 0..1}: the weights' download, then the method's steps; a render
//                  ends with fraction 1. Does not bubble.
//   load           detail null. Fired once per picture, right after the overlay is first drawn for the
//                  current src + model + labels + multilabel (so: after the first render, and again after
//                  each change of one of those four); re-renders for other attributes fire only
//                  gradcam-done. Does not bubble (like <img>'s).
//   error          detail {message} (one line). Does not bubble. The viewer stays usable: fix the
//                  attribute and it runs again.
//   gradcam-done   after every render, load's included (load comes first). Bubbles, composed. detail
//                  {top: {index, label, prob} (top-1), explained: {index, label, prob}, top5, cam:
//                  Float32Array [height][width] (the model input size), width, height, layer, method,
//                  eigenSmooth, augSmooth (as applied), timings: {forward, backward, cam, render, total},
//                  colormap, mode, sign, scale, interp, legend (what the colours' two ends mean), reused}
//   gradcam-progress, gradcam-error   aliases of progress and error, kept for existing pages: dispatched
//                  right after them, with the same detail, but bubbling and composed (for delegation).
// Theming: ::part(frame | canvas | caption | progress | progress-value) and the custom properties
// --gradcam-viewer-{background, color, accent, error-color, radius, font, focus-ring}; a dark palette
// follows prefers-color-scheme (the custom properties still win).
// Accessibility: the canvas is role="img" with the name above; the host is focusable (tabindex 0 unless
// the page set one; role group unless the page set one) with a focus ring, and Enter, Space or a click
// toggles between the overlay and the original image. Status (loading, coarse progress, ready, errors,
// the toggle) goes to a polite live region outside the role="img" node.
// Engines are shared: every viewer of a page with the same model and multilabel uses one worker and one
// copy of the weights (gradcam.js createGradCam({shared: true})), released with the last one.
import { createGradCam, isLong, methodInfo, toImageData } from './gradcam.js';

const STYLE = `
:host { display: inline-block; position: relative; max-width: 100%; box-sizing: border-box; padding: 6px;
  font: var(--gradcam-viewer-font, 14px/1.4 system-ui, sans-serif); color: var(--gradcam-viewer-color, #1a1a1a);
  background: var(--gradcam-viewer-background, #f4f4f4); border-radius: var(--gradcam-viewer-radius, 6px); }
:host([hidden]) { display: none; }
:host(:focus-visible) { outline: var(--gradcam-viewer-focus-ring, 2px solid var(--gradcam-viewer-accent, #0b57d0)); outline-offset: 2px; }
.frame { position: relative; overflow: hidden; border-radius: var(--gradcam-viewer-radius, 6px); line-height: 0; }
canvas { display: block; max-width: 100%; height: auto; background: color-mix(in srgb, currentColor 10%, transparent); }
canvas.alpha { background: repeating-conic-gradient(#ccc 0 25%, #fff 0 50%) 0 0 / 16px 16px; }
.progress { position: absolute; left: 0; right: 0; bottom: 0; height: 4px; background: color-mix(in srgb, currentColor 25%, transparent); }
.progress[hidden] { display: none; }
.progress-value { height: 100%; width: 0; background: var(--gradcam-viewer-accent, #0b57d0); }
.caption { margin-top: 4px; min-height: 1.4em; overflow-wrap: anywhere; }
.caption.error { color: var(--gradcam-viewer-error-color, #a50000); font-weight: 600; }
.status { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (prefers-color-scheme: dark) {
  :host { color: var(--gradcam-viewer-color, #ececec); background: var(--gradcam-viewer-background, #202124); }
  :host(:focus-visible) { outline: var(--gradcam-viewer-focus-ring, 2px solid var(--gradcam-viewer-accent, #8ab4f8)); }
  .progress-value { background: var(--gradcam-viewer-accent, #8ab4f8); }
  .caption.error { color: var(--gradcam-viewer-error-color, #ff9d96); }
}`;

const abortError = () => Object.assign(new Error('cancelled'), { name: 'AbortError' });
// p, or an AbortError as soon as signal aborts (p goes on: the engine and the image outlive one run).
const orAbort = (p, signal) => new Promise((resolve, reject) => {
  if (signal.aborted) return reject(abortError());
  const stop = () => reject(abortError());
  signal.addEventListener('abort', stop, { once: true });
  p.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
});
const oneLine = (e) => String((e && e.message) || e || 'unknown error').split('\n')[0];
const abs = (u) => new URL(u, document.baseURI).href;
const PROPS = ['src', 'model', 'labels', 'targetClass', 'layer', 'method', 'alpha', 'colormap', 'mode', 'grey', 'sign', 'scale',
  'interp', 'eigenSmooth', 'augSmooth', 'multilabel', 'loading', 'alt'];

export class GradCamViewer extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'model', 'labels', 'class', 'target-class', 'layer', 'method', 'alpha', 'colormap', 'mode', 'grey', 'sign',
      'scale', 'interp', 'eigen-smooth', 'aug-smooth', 'multilabel', 'loading', 'alt', 'mean', 'std', 'crop', 'input-size'];
  }

  // One observer for every lazy viewer of the page: a viewer loads once it is within 200 px of the viewport.
  static #observer = null;
  static #sheet = null;
  static #lazy() {
    return GradCamViewer.#observer ??= new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) e.target.#startLoading();
    }, { rootMargin: '200px' });
  }

  #canvas; #caption; #bar; #barValue; #status;
  #allowed = false; // may fetch and compute (eager, or was near the viewport)
  #scheduled = false;
  #runs = Promise.resolve();
  #abort = null; // the AbortController of the run in progress
  #running = null; // the key (see #want) of the run in progress
  #rendered = null; // the key of what the canvas shows, after a run that succeeded
  #loaded = null; // src + engine of the last load event
  #engine = null; // {key, ac, promise, gc, listeners}: this viewer's reference to a shared engine
  #image = null; // {href, ac, promise, data}: the decoded src
  #sent = null; // [gc, href]: the engine instance holds this image already
  #overlay = null; #original = null; #alphaMode = false;
  #showOriginal = false;
  #result = null;
  #done = null; // {methodLabel, label, layer} of the picture shown
  #failed = false;
  #sayStep = 0; // the quarter of the progress last announced

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    // A constructed stylesheet, not a <style> element: pages with a strict CSP (style-src 'self',
    // like ours) refuse inline <style>, and constructed sheets are not inline markup. One for all viewers.
    if (!GradCamViewer.#sheet) (GradCamViewer.#sheet = new CSSStyleSheet()).replaceSync(STYLE);
    root.adoptedStyleSheets = [GradCamViewer.#sheet];
    // role="img" makes its children presentational: the live region is a sibling, not a child.
    root.innerHTML = `<div class="frame" part="frame"><canvas part="canvas" width="224" height="224" role="img"></canvas>`
      + `<div class="progress" part="progress" hidden><div class="progress-value" part="progress-value"></div></div>`
      + `<div class="status" role="status" aria-live="polite"></div></div><div class="caption" part="caption"></div>`;
    this.#canvas = root.querySelector('canvas');
    this.#caption = root.querySelector('.caption');
    this.#bar = root.querySelector('.progress');
    this.#barValue = root.querySelector('.progress-value');
    this.#status = root.querySelector('.status');
    this.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && !e.altKey && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
        e.preventDefault(); // Space would scroll the page
        if (!e.repeat) this.#toggle();
      }
    });
    this.addEventListener('click', () => this.#toggle());
  }

  // ---- properties (each reflects its attribute) ---------------------------------------------------------
  get src() { return this.getAttribute('src') ?? ''; } set src(v) { this.#set('src', v); }
  get model() { return this.getAttribute('model') ?? ''; } set model(v) { this.#set('model', v); }
  get labels() { return this.getAttribute('labels') ?? ''; } set labels(v) { this.#set('labels', v); }
  get targetClass() { return this.getAttribute('target-class') ?? ''; } set targetClass(v) { this.#set('target-class', v); }
  get layer() { return this.getAttribute('layer') || 'layer4'; } set layer(v) { this.#set('layer', v); }
  get method() { return (this.getAttribute('method') || 'gradcam').trim().toLowerCase(); } set method(v) { this.#set('method', v); }
  get alpha() {
    const v = parseFloat(this.getAttribute('alpha'));
    return Number.isNaN(v) ? 0.5 : v;
  }
  set alpha(v) { this.#set('alpha', v); }
  get colormap() { return (this.getAttribute('colormap') || '').trim().toLowerCase(); } set colormap(v) { this.#set('colormap', v); }
  get mode() { return this.#word('mode', 'blended_heat_map'); } set mode(v) { this.#set('mode', v); }
  get grey() { return this.hasAttribute('grey'); } set grey(v) { this.toggleAttribute('grey', !!v); }
  get sign() { return this.#word('sign', 'positive'); } set sign(v) { this.#set('sign', v); }
  get scale() { return this.#word('scale', 'normalised'); } set scale(v) { this.#set('scale', v); }
  get interp() { return this.#word('interp', 'linear'); } set interp(v) { this.#set('interp', v); }
  get eigenSmooth() { return this.hasAttribute('eigen-smooth'); } set eigenSmooth(v) { this.toggleAttribute('eigen-smooth', !!v); }
  get augSmooth() { return this.hasAttribute('aug-smooth'); } set augSmooth(v) { this.toggleAttribute('aug-smooth', !!v); }
  // true (sigmoid), false (softmax) or null (the weights file's metadata decides)
  get multilabel() {
    const v = this.getAttribute('multilabel');
    return v == null ? null : !/^\s*(0|false)\s*$/i.test(v);
  }
  set multilabel(v) { if (v == null) this.removeAttribute('multilabel'); else this.setAttribute('multilabel', v ? '1' : '0'); }
  get loading() { return this.getAttribute('loading')?.trim().toLowerCase() === 'eager' ? 'eager' : 'lazy'; }
  set loading(v) { this.#set('loading', v); }
  get alt() { return this.getAttribute('alt') ?? ''; } set alt(v) { this.#set('alt', v); }
  get result() { return this.#result; }

  #set(name, v) { if (v == null) this.removeAttribute(name); else this.setAttribute(name, String(v)); }
  #word(name, dflt) { return (this.getAttribute(name) || dflt).trim().toLowerCase(); }

  // The rendered overlay (not the original, even while it is shown) as an image file.
  toBlob(type = 'image/png', quality) {
    const o = this.#overlay;
    if (!o) return Promise.reject(new Error('<grad-cam-viewer> has rendered nothing yet'));
    const c = Object.assign(document.createElement('canvas'), { width: o.width, height: o.height });
    c.getContext('2d').putImageData(o, 0, 0);
    return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error(`cannot encode the overlay as ${type}`))), type, quality));
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------
  connectedCallback() {
    // A property set before this element was defined sits on the instance and hides the accessor.
    for (const p of PROPS) {
      if (Object.prototype.hasOwnProperty.call(this, p)) { const v = this[p]; delete this[p]; this[p] = v; }
    }
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
    if (!this.hasAttribute('role')) this.setAttribute('role', 'group');
    if (!this.hasAttribute('aria-keyshortcuts')) this.setAttribute('aria-keyshortcuts', 'Enter Space');
    this.#relabel();
    if (this.#allowed || this.loading === 'eager' || typeof IntersectionObserver !== 'function') this.#startLoading();
    else GradCamViewer.#lazy().observe(this);
  }

  attributeChangedCallback(name) {
    if (name === 'alt') return this.#relabel();
    if (name === 'loading' && this.loading === 'eager' && this.isConnected) return this.#startLoading();
    if (this.isConnected) this.#schedule();
  }

  disconnectedCallback() {
    GradCamViewer.#observer?.unobserve(this);
    this.#abort?.abort();
    this.#running = null;
    // Moving the element (disconnect + connect in one task) keeps its engine; leaving the page frees it.
    queueMicrotask(() => {
      if (this.isConnected) return;
      this.#dropEngine();
      this.#image?.ac.abort();
      this.#image = null;
    });
  }

  // Allowed to fetch and compute from now on (eager, or came near the viewport).
  #startLoading() {
    GradCamViewer.#observer?.unobserve(this);
    this.#allowed = true;
    this.#schedule();
  }

  // ---- runs ---------------------------------------------------------------------------------------------
  // What the attributes ask for; key says whether a run would change anything.
  #want() {
    let target = this.getAttribute('target-class');
    if (target == null && /^\s*\d+\s*$/.test(this.getAttribute('class') || '')) target = this.getAttribute('class');
    const src = this.getAttribute('src');
    const w = {
      href: src ? abs(src) : null, src, model: this.getAttribute('model') || '', labelsUrl: this.getAttribute('labels') || '',
      multilabel: this.getAttribute('multilabel'), target: (target || '').trim(), layer: this.layer, method: this.method,
      alphaText: this.getAttribute('alpha'), colormap: this.colormap, mode: this.mode, grey: this.grey, sign: this.sign,
      scale: this.scale, interp: this.interp, eigenSmooth: this.eigenSmooth, augSmooth: this.augSmooth,
    };
    // the preprocessing overrides: each instance with other ones gets an engine of its own
    const triple = (a) => this.getAttribute(a)?.trim() || null; // "r,g,b": createGradCam checks it
    const size = (this.getAttribute('input-size') || '').trim().match(/^(\d+)(?:x(\d+))?$/);
    w.pre = { mean: triple('mean'), std: triple('std'), crop: this.getAttribute('crop') == null ? null : Number(this.getAttribute('crop')),
      inputSize: size ? [Number(size[1]), Number(size[2] || size[1])] : null };
    w.engineKey = JSON.stringify([w.model && abs(w.model), w.labelsUrl && abs(w.labelsUrl), w.multilabel, w.pre]);
    w.loadKey = JSON.stringify([w.engineKey, w.href]);
    w.key = JSON.stringify(w);
    return w;
  }

  // Several attribute changes in one task give one run; runs never overlap, and a new one stops the
  // one in progress (which ends quietly). Changes that ask for what is shown or running (e.g. CSS
  // classes) change nothing.
  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.isConnected || !this.#allowed) return;
      const want = this.#want();
      if (!want.href || want.key === (this.#running ?? this.#rendered)) return;
      this.#abort?.abort();
      const ac = new AbortController();
      this.#abort = ac;
      this.#running = want.key;
      this.#runs = this.#runs.then(() => this.#run(want, ac.signal)).catch(() => {}).finally(() => {
        if (this.#abort === ac) this.#running = null;
      });
    });
  }

  // This viewer's reference to the shared engine for key (created on first use, kept across runs).
  #engineFor(want) {
    if (this.#engine?.gc?.dead) this.#dropEngine(); // its worker crashed: start again
    if (this.#engine?.key === want.engineKey) return this.#engine;
    this.#dropEngine();
    const ml = want.multilabel == null ? undefined : !/^\s*(0|false)\s*$/i.test(want.multilabel);
    const e = { key: want.engineKey, ac: new AbortController(), gc: null, listeners: new Set() };
    e.promise = createGradCam({
      shared: true, model: want.model ? abs(want.model) : undefined, labels: want.labelsUrl ? abs(want.labelsUrl) : undefined,
      multilabel: ml, signal: e.ac.signal, onProgress: (l, t, c) => { for (const f of e.listeners) f(l, t, c); },
      mean: want.pre.mean ?? undefined, std: want.pre.std ?? undefined, crop: want.pre.crop ?? undefined,
      inputSize: want.pre.inputSize ?? undefined,
    }).then((gc) => {
      if (e.ac.signal.aborted) { gc.dispose(); throw abortError(); }
      return (e.gc = gc);
    });
    e.promise.catch(() => { if (this.#engine === e) this.#engine = null; }); // the next run tries again
    this.#engine = e;
    return e;
  }

  #dropEngine() {
    const e = this.#engine;
    this.#engine = null;
    this.#sent = null;
    e?.ac.abort();
    e?.gc?.dispose();
  }

  // The decoded src (fetched once per URL, kept across runs).
  #imageFor(href, src) {
    if (this.#image?.href === href) return this.#image.promise;
    this.#image?.ac.abort();
    const im = { href, ac: new AbortController(), data: null };
    im.promise = (async () => {
      let res;
      try {
        res = await fetch(href, { signal: im.ac.signal });
      } catch (e) {
        throw e.name === 'AbortError' ? e : new Error(`cannot fetch ${src}: ${oneLine(e)}`);
      }
      if (!res.ok) throw new Error(`cannot fetch ${src}: HTTP ${res.status}`);
      return (im.data = await toImageData(new File([await res.blob()], src.split('/').pop() || 'image')));
    })();
    im.promise.catch(() => { if (this.#image === im) this.#image = null; });
    this.#image = im;
    return im.promise;
  }

  async #run(want, signal) {
    const info = methodInfo(want.method);
    let fraction = -1, told = -1, started = performance.now();
    const progress = (f) => {
      f = Math.min(1, Math.max(0, f));
      if (f <= fraction) return;
      fraction = f;
      this.#barValue.style.width = `${(100 * f).toFixed(1)}%`;
      if (f < 1 && f - told < 0.01) return; // events in steps of 1% at least (downloads report every chunk)
      told = f;
      // Coarse steps for the live region: a quarter at a time, and only on loads that take a while.
      const step = Math.floor(4 * f);
      if (f < 1 && step > this.#sayStep && performance.now() - started > 2000) {
        this.#sayStep = step;
        this.#say(`${info?.label || 'Grad-CAM'} heatmap ${25 * step}% done`);
      }
      this.dispatchEvent(new CustomEvent('progress', { detail: { fraction: f } }));
      this.dispatchEvent(new CustomEvent('gradcam-progress', { bubbles: true, composed: true, detail: { fraction: f } }));
    };
    let e = null, listener = null;
    try {
      if (!info) throw new Error(`method '${want.method}' is not one of gradcam.js METHODS`);
      const alpha = want.alphaText == null ? 0.5 : Number(want.alphaText);
      if (!(alpha >= 0 && alpha <= 1)) throw new Error(`alpha '${want.alphaText}' is not a number in 0..1`);
      if (want.multilabel != null && !/^\s*(|0|1|true|false)\s*$/i.test(want.multilabel)) {
        throw new Error(`multilabel '${want.multilabel}' is not 1 or 0`);
      }
      const newPicture = want.loadKey !== this.#loaded;
      if (newPicture) { this.#showOriginal = false; this.#done = null; this.#overlay = null; }
      e = this.#engineFor(want);
      const needEngine = !e.gc, needImage = this.#image?.href !== want.href || !this.#image.data;
      const busy = needEngine || needImage || isLong({ method: want.method, layer: want.layer, augSmooth: want.augSmooth });
      const W = needEngine ? 0.8 : 0; // the share of the bar for the weights' download
      if (busy) {
        this.#sayStep = 0;
        this.#failed = false;
        this.#bar.hidden = false;
        this.#barValue.style.width = '0';
        this.#caption.classList.remove('error');
        this.#caption.textContent = needEngine ? 'loading the model…' : 'computing…';
        this.#say(`Loading the ${info.label} heatmap…`);
        progress(0);
      }
      listener = (l, t) => { if (t) progress(W * l / t); };
      e.listeners.add(listener);
      const image = this.#imageFor(want.href, want.src).then((data) => {
        // The placeholder: the picture itself, until its overlay is ready.
        if (!signal.aborted && newPicture) this.#draw(data, false);
        return data;
      });
      const [gc, data] = await orAbort(Promise.all([e.promise, image]), signal);
      let classIndex = -1;
      if (want.target) {
        classIndex = /^\d+$/.test(want.target) ? Number(want.target)
          : gc.labels.findIndex((l) => l.toLowerCase() === want.target.toLowerCase());
        if (classIndex < 0) throw new Error(`target-class '${want.target}' is not one of the model's labels`);
      }
      // The engine keeps this viewer's last image: another class, layer or style needs no new pixels
      // (and, for the same explanation in another style, no new computation either).
      const fresh = !(this.#sent && this.#sent[0] === gc && this.#sent[1] === want.href);
      this.#sent = null;
      if (this.#caption.textContent === 'loading the model…') this.#caption.textContent = 'computing…';
      const r = await gc.explain(fresh ? data : null, {
        classIndex, layer: want.layer, alpha, heatmap: false, method: want.method, eigenSmooth: want.eigenSmooth,
        augSmooth: want.augSmooth, signal, colormap: want.colormap, mode: want.mode, grey: want.grey, sign: want.sign,
        scale: want.scale, interp: want.interp, onProgress: (f) => progress(W + (1 - W) * f),
      });
      this.#sent = [gc, want.href];
      this.#overlay = r.overlay;
      this.#original = data;
      this.#alphaMode = r.mode === 'alpha_scaling';
      this.#done = { methodLabel: info.label, label: r.label, layer: r.layer };
      this.#failed = false;
      this.#rendered = want.key;
      this.#paint();
      this.#bar.hidden = true;
      this.#caption.classList.remove('error');
      this.#caption.textContent = `${r.label}  ${(100 * r.prob).toFixed(1)}%  ${r.method} ${r.layer}`;
      if (this.#showOriginal) this.#caption.textContent = 'original image';
      if (busy || newPicture) this.#say(`${this.#name()}: ready.`);
      progress(1);
      const detail = {
        top: r.top[0], explained: { index: r.classIndex, label: r.label, prob: r.prob }, top5: r.top,
        cam: r.cam, width: r.camWidth, height: r.camHeight, layer: r.layer, method: r.method, eigenSmooth: r.eigenSmooth,
        augSmooth: r.augSmooth, timings: r.timings, colormap: r.colormap, mode: r.mode, sign: r.sign, scale: r.scale,
        interp: r.interp, legend: r.legend, reused: r.reused,
      };
      this.#result = detail;
      if (newPicture) {
        this.#loaded = want.loadKey;
        this.dispatchEvent(new CustomEvent('load'));
      }
      this.dispatchEvent(new CustomEvent('gradcam-done', { bubbles: true, composed: true, detail }));
    } catch (err) {
      this.#sent = null; // whether the engine got this run's pixels is not known: send them next time
      if (err.name === 'AbortError' || signal.aborted) return; // newer attributes took over, or the element left
      const message = oneLine(err);
      this.#rendered = null;
      this.#failed = true;
      if (want.loadKey !== this.#loaded) { // a new picture that failed: show nothing old as if it were it
        this.#loaded = null;
        this.#overlay = null;
        this.#done = null;
        if (!(this.#image?.href === want.href && this.#image.data)) { // no placeholder of it either
          this.#canvas.getContext('2d').clearRect(0, 0, this.#canvas.width, this.#canvas.height);
          this.#canvas.classList.remove('alpha');
        }
      }
      this.#bar.hidden = true;
      this.#caption.classList.add('error');
      this.#caption.textContent = message;
      this.#relabel();
      this.#say(`Grad-CAM heatmap error: ${message}`);
      this.dispatchEvent(new CustomEvent('error', { detail: { message } }));
      this.dispatchEvent(new CustomEvent('gradcam-error', { bubbles: true, composed: true, detail: { message } }));
    } finally {
      if (listener) e?.listeners.delete(listener);
    }
  }

  // ---- drawing, naming, announcing ----------------------------------------------------------------------
  #draw(img, alpha) {
    this.#canvas.width = img.width;
    this.#canvas.height = img.height;
    this.#canvas.getContext('2d').putImageData(img, 0, 0);
    this.#canvas.classList.toggle('alpha', alpha);
    this.#relabel();
  }

  #paint() {
    if (this.#showOriginal && this.#original) this.#draw(this.#original, false);
    else if (this.#overlay) this.#draw(this.#overlay, this.#alphaMode);
  }

  #toggle() {
    if (!this.#overlay || !this.#original || this.#running) return;
    this.#showOriginal = !this.#showOriginal;
    this.#paint();
    const r = this.#result;
    this.#caption.textContent = this.#showOriginal ? 'original image'
      : `${r.explained.label}  ${(100 * r.explained.prob).toFixed(1)}%  ${r.method} ${r.layer}`;
    this.#say(this.#showOriginal ? 'Showing the original image.' : `Showing the ${this.#done.methodLabel} heatmap.`);
  }

  // The accessible name of what the canvas shows: alt, else generated from the rendered explanation.
  #name() {
    const d = this.#done, alt = this.getAttribute('alt');
    const made = d ? `${d.methodLabel} heatmap for class '${d.label}', ${d.layer}`
      : `${methodInfo(this.method)?.label || 'Grad-CAM'} heatmap, ${this.#failed ? 'not available' : 'loading'}`;
    if (!(d && this.#showOriginal)) return alt ?? made;
    return alt != null ? `Original image (heatmap hidden): ${alt}` : `Original image, without the ${made}`;
  }

  #relabel() {
    const decorative = this.getAttribute('alt') === '' && !this.#showOriginal;
    this.#canvas.setAttribute('role', decorative ? 'presentation' : 'img');
    if (decorative) this.#canvas.removeAttribute('aria-label');
    else this.#canvas.setAttribute('aria-label', this.#name());
  }

  #say(text) {
    this.#status.textContent = text;
  }
}

if (!customElements.get('grad-cam-viewer')) customElements.define('grad-cam-viewer', GradCamViewer);
