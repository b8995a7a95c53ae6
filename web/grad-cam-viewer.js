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
// Events (bubbling, composed):
//   gradcam-done   detail {top: {index, label, prob} (top-1), explained: {index, label, prob},
//                  top5: [...], cam: Float32Array [height][width] (the model input size), width, height,
//                  timings: {forward, backward, cam, render}}
//   gradcam-error  detail {message}
// Each viewer owns one worker (and one copy of its model); it is released when the element is removed.
import { createGradCam, toImageData } from './gradcam.js';

const STYLE = `
:host { display: inline-block; font: 14px/1.4 system-ui, sans-serif; color: #1a1a1a; }
canvas { display: block; max-width: 100%; height: auto; background: #eee; }
.caption { margin-top: 4px; min-height: 1.4em; }
.error { color: #7a0000; font-weight: 600; }`;

class GradCamViewer extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'model', 'labels', 'layer', 'class', 'target-class', 'alpha', 'multilabel'];
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
  }

  connectedCallback() { this.schedule(); }
  attributeChangedCallback() { if (this.isConnected) this.schedule(); }

  disconnectedCallback() {
    this.gc?.dispose();
    this.gc = null;
    this.gcKey = '';
  }

  // Several attribute changes in one task give one run; runs never overlap.
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.runs = this.runs.then(() => this.run()).catch(() => {});
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

  async run() {
    const src = this.getAttribute('src'), model = this.getAttribute('model');
    if (!src || !model) return;
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
      }
      const res = await fetch(new URL(src, document.baseURI));
      if (!res.ok) throw new Error(`cannot fetch ${src}: HTTP ${res.status}`);
      const image = await toImageData(new File([await res.blob()], src.split('/').pop()));
      const alpha = this.hasAttribute('alpha') ? Number(this.getAttribute('alpha')) : 0.5;
      const r = await this.gc.explain(image, {
        classIndex: this.targetClass(this.gc.labels), layer: this.getAttribute('layer') || 'layer4', alpha, heatmap: false,
      });
      this.canvas.width = r.width;
      this.canvas.height = r.height;
      this.canvas.getContext('2d').putImageData(r.overlay, 0, 0);
      this.caption.classList.remove('error');
      this.caption.textContent = `${r.label}  ${(100 * r.prob).toFixed(1)}%  ${r.layer}`;
      this.canvas.setAttribute('aria-label', `Grad-CAM overlay for ${r.label} at ${r.layer}`);
      this.dispatchEvent(new CustomEvent('gradcam-done', {
        bubbles: true, composed: true,
        detail: {
          top: r.top[0], explained: { index: r.classIndex, label: r.label, prob: r.prob }, top5: r.top,
          cam: r.cam, width: r.camWidth, height: r.camHeight, timings: r.timings,
        },
      }));
    } catch (e) {
      const message = String(e.message || e).split('\n')[0];
      this.caption.classList.add('error');
      this.caption.textContent = message;
      this.dispatchEvent(new CustomEvent('gradcam-error', { bubbles: true, composed: true, detail: { message } }));
    }
  }
}

if (!customElements.get('grad-cam-viewer')) customElements.define('grad-cam-viewer', GradCamViewer);
export { GradCamViewer };
