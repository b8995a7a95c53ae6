// grad-cam-viewer.js: <grad-cam-viewer>, an embeddable Grad-CAM view. One ES module, no framework.
//
//   <script type="module" src="grad-cam-viewer.js"></script>
//   <grad-cam-viewer src="photo.png" model="models/shapes/resnet18-shapes.safetensors"
//                    labels="models/shapes/labels.txt" layer="layer4" target-class="3"></grad-cam-viewer>
//
// Attributes (all same-origin URLs; changing any of them re-runs):
//   src            the image                      model    .safetensors or .pth weights
//   labels         labels .txt (optional)         layer    target layer (default layer4)
//   target-class   class index or label (default: the top-1 class); `class` is accepted too when it
//                  is a number, since the plain `class` attribute usually holds CSS classes
//   alpha          the image's weight in the overlay, 0..1 (default 0.5)
//   multilabel     "1"/"0" to force sigmoid/softmax (default: the engine reads the file's metadata)
//   method         a pytorch-grad-cam method (gradcam.js METHODS: gradcam, hirescam, gradcam++, scorecam,
//                  ...; default gradcam). The long ones show their progress in the caption.
//   eigen-smooth   boolean: the first principal component (for the methods that honour it)
//   aug-smooth     boolean: the mean of 6 flipped and scaled passes
//   colormap       one of gradcam.js COLORMAPS (jet, viridis, turbo, ...; default jet, rdwhgn for sign all)
//   mode           blended_heat_map (default) | heat_map | masked_image | alpha_scaling (a transparent overlay)
//   grey           boolean: blend over a greyscale copy of the image
//   sign           positive (default) | negative | all          scale   normalised (default) | raw
//   interp         linear (default) | nearest
//   layer may name several ("layer3,layer4"): their CAMs are averaged.
// A change of colormap, mode, grey or alpha only redraws: the explanation is not computed again.
// A change while a long method runs stops it: the newest attributes win.
// Events (bubbling, composed):
//   gradcam-done   detail {top: {index, label, prob} (top-1), explained: {index, label, prob},
//                  top5: [...], cam: Float32Array [height][width] (the model input size), width, height,
//                  method, eigenSmooth, augSmooth (as applied), timings: {forward, backward, cam, render, total},
//                  colormap, mode, sign, scale, interp, legend (what the colours' two ends mean), reused}
//   gradcam-progress  detail {fraction}, between the steps of a long method
//   gradcam-error  detail {message}
// Each viewer owns one worker (and one copy of its model); it is released when the element is removed.
import { createGradCam, methodInfo, toImageData } from './gradcam.js';

const STYLE = `
:host { display: inline-block; font: 14px/1.4 system-ui, sans-serif; color: #1a1a1a; }
canvas { display: block; max-width: 100%; height: auto; background: #eee; }
canvas.alpha { background: repeating-conic-gradient(#ccc 0 25%, #fff 0 50%) 0 0 / 16px 16px; }
.caption { margin-top: 4px; min-height: 1.4em; }
.error { color: #7a0000; font-weight: 600; }`;

class GradCamViewer extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'model', 'labels', 'layer', 'class', 'target-class', 'alpha', 'multilabel', 'method', 'eigen-smooth', 'aug-smooth',
      'colormap', 'mode', 'grey', 'sign', 'scale', 'interp'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    // A constructed stylesheet, not a <style> element: pages with a strict CSP (style-src 'self',
    // like ours) refuse inline <style>, and constructed sheets are not inline markup.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    root.innerHTML = `<canvas part="canvas" width="224" height="224" role="img" aria-label="Grad-CAM overlay"></canvas><div class="caption" part="caption" aria-live="polite">loading…</div>`;
    this.canvas = root.querySelector('canvas');
    this.caption = root.querySelector('.caption');
    this.gc = null;
    this.gcKey = '';
    this.scheduled = false;
    this.runs = Promise.resolve();
    this.abort = null; // AbortController of the run in progress
    this.imageFor = null; // the URL of the image the worker holds, after a run that succeeded
  }

  connectedCallback() { this.schedule(); }
  attributeChangedCallback() { if (this.isConnected) this.schedule(); }

  disconnectedCallback() {
    this.abort?.abort();
    this.gc?.dispose();
    this.gc = null;
    this.gcKey = '';
    this.imageFor = null;
  }

  // Several attribute changes in one task give one run; runs never overlap, and a new one stops the
  // one in progress (which ends quietly) instead of waiting for it.
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.abort?.abort();
      const ac = new AbortController();
      this.abort = ac;
      this.runs = this.runs.then(() => this.run(ac.signal)).catch(() => {});
    });
  }

  targetClass(labels) {
    let v = this.getAttribute('target-class');
    if (v == null && /^\s*\d+\s*$/.test(this.getAttribute('class') || '')) v = this.getAttribute('class');
    if (v == null || v.trim() === '') return -1;
    if (/^\s*\d+\s*$/.test(v)) return Number(v);
    const i = labels.findIndex((l) => l.toLowerCase() === v.trim().toLowerCase());
    if (i < 0) throw new Error(`target-class '${v}' is not one of the model's labels`);
    return i;
  }

  async run(signal) {
    const src = this.getAttribute('src'), model = this.getAttribute('model');
    if (!src || !model || signal.aborted) return;
    try {
      const labels = this.getAttribute('labels') || '';
      const ml = this.getAttribute('multilabel');
      const key = JSON.stringify([model, labels, ml]);
      if (key !== this.gcKey) {
        this.gc?.dispose();
        this.gc = null;
        this.caption.textContent = 'loading the model…';
        this.gc = await createGradCam({
          model: new URL(model, document.baseURI).href, labels: labels ? new URL(labels, document.baseURI).href : undefined,
          multilabel: ml == null ? undefined : ml === '1' || ml === 'true',
          onProgress: (l, t, cached) => { this.caption.textContent = cached ? 'model from the cache' : `model ${(l / 1048576).toFixed(1)} / ${t ? (t / 1048576).toFixed(1) : '?'} MB`; },
        });
        this.gcKey = key;
        this.imageFor = null;
      }
      // The worker keeps the last image: another method, class, layer or alpha needs no new pixels
      // (and, for the same explanation with another alpha, no new computation either).
      const href = new URL(src, document.baseURI).href;
      let image = null;
      if (href !== this.imageFor) {
        const res = await fetch(href);
        if (!res.ok) throw new Error(`cannot fetch ${src}: HTTP ${res.status}`);
        image = await toImageData(new File([await res.blob()], src.split('/').pop()));
      }
      const alpha = this.hasAttribute('alpha') ? Number(this.getAttribute('alpha')) : 0.5;
      const method = (this.getAttribute('method') || 'gradcam').trim().toLowerCase();
      const info = methodInfo(method);
      if (!info) throw new Error(`method '${method}' is not one of gradcam.js METHODS`);
      const attr = (name, dflt) => (this.getAttribute(name) || dflt).trim().toLowerCase();
      const r = await this.gc.explain(image, {
        classIndex: this.targetClass(this.gc.labels), layer: this.getAttribute('layer') || 'layer4', alpha, heatmap: false,
        method, eigenSmooth: this.hasAttribute('eigen-smooth'), augSmooth: this.hasAttribute('aug-smooth'), signal,
        colormap: attr('colormap', ''), mode: attr('mode', 'blended_heat_map'), grey: this.hasAttribute('grey'),
        sign: attr('sign', 'positive'), scale: attr('scale', 'normalised'), interp: attr('interp', 'linear'),
        onProgress: (fraction) => {
          this.caption.textContent = `${info.label}… ${Math.round(100 * fraction)}%`;
          this.dispatchEvent(new CustomEvent('gradcam-progress', { bubbles: true, composed: true, detail: { fraction } }));
        },
      });
      this.imageFor = href;
      this.canvas.width = r.width;
      this.canvas.height = r.height;
      this.canvas.getContext('2d').putImageData(r.overlay, 0, 0);
      this.canvas.classList.toggle('alpha', r.mode === 'alpha_scaling');
      this.caption.classList.remove('error');
      this.caption.textContent = `${r.label}  ${(100 * r.prob).toFixed(1)}%  ${r.method} ${r.layer}`;
      this.canvas.setAttribute('aria-label', `${info.label} overlay for ${r.label} at ${r.layer}`);
      this.dispatchEvent(new CustomEvent('gradcam-done', {
        bubbles: true, composed: true,
        detail: {
          top: r.top[0], explained: { index: r.classIndex, label: r.label, prob: r.prob }, top5: r.top,
          cam: r.cam, width: r.camWidth, height: r.camHeight, method: r.method, eigenSmooth: r.eigenSmooth,
          augSmooth: r.augSmooth, timings: r.timings, colormap: r.colormap, mode: r.mode, sign: r.sign, scale: r.scale,
          interp: r.interp, legend: r.legend, reused: r.reused,
        },
      }));
    } catch (e) {
      this.imageFor = null; // whether the worker got this run's pixels is not known: send them next time
      if (e.name === 'AbortError') return; // newer attributes took over, or the element left the page
      const message = String(e.message || e).split('\n')[0];
      this.caption.classList.add('error');
      this.caption.textContent = message;
      this.dispatchEvent(new CustomEvent('gradcam-error', { bubbles: true, composed: true, detail: { message } }));
    }
  }
}

if (!customElements.get('grad-cam-viewer')) customElements.define('grad-cam-viewer', GradCamViewer);
export { GradCamViewer };
