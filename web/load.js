// load.js: what gradcam.js (the public API) checks and loads: which engines this browser runs (SIMD, relaxed
// SIMD), weights and labels over the network with progress and the Cache API (a reload costs one HEAD
// request instead of a download), .pth converted to safetensors, and images decoded to ImageData with their
// exact pixels. gradcam.js re-exports the public parts.
import { isZip, pthToSafetensors } from './pth.js';

export const MODEL_CACHE = 'gradcam-models-v1';
export const oneLine = (e) => String((e && e.message) || e || 'unknown error').split('\n')[0];
export const fail = (msg) => { throw new Error(oneLine(msg)); };

// Normalize's mean or std as createGradCam takes it: [r, g, b] or "r,g,b" (a page field, a viewer
// attribute); null, undefined or '' = the file's own. Three finite numbers, a std's positive, or a throw.
export function parseTriple(v, name) {
  if (v == null || (typeof v === 'string' && !v.trim())) return null;
  const t = typeof v === 'string' ? v.split(',').map((s) => (s.trim() ? Number(s) : NaN)) : Array.from(v, Number);
  const pos = name === 'std';
  if (t.length !== 3 || !t.every((x) => Number.isFinite(x) && (!pos || x > 0)))
    fail(`${name}: give three ${pos ? 'positive ' : ''}numbers separated by commas, got '${String(v).slice(0, 60)}'`);
  return t;
}

// ---- what this browser's WebAssembly runs ---------------------------------------------------------------

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): validates only with SIMD.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253,
  15, 253, 98, 11]);
// (module (func (result v128) f32.const 0 f32x4.splat ×3 f32x4.relaxed_madd)): validates only with relaxed SIMD.
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 28, 1, 26, 0,
  67, 0, 0, 0, 0, 253, 19, 67, 0, 0, 0, 0, 253, 19, 67, 0, 0, 0, 0, 253, 19, 253, 133, 2, 11]);
const validates = (bytes) => {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
};
export const simdSupported = () => validates(SIMD_PROBE); // every engine needs it
// Relaxed SIMD (Chromium, Firefox; not every Safari): the engines with fused multiply-add run there.
export const relaxedSimdSupported = () => validates(RELAXED_PROBE);

// ---- fetching, with progress and the Cache API ------------------------------------------------------

// Has the file at href changed since `hit` was cached? One HEAD request (no body) compares the
// validators; offline, or without validators, the cached copy is taken as current.
async function stale(href, hit, signal) {
  let head;
  try {
    head = await fetch(href, { method: 'HEAD', cache: 'no-store', signal });
  } catch {
    return false;
  }
  if (!head.ok) return false;
  for (const k of ['ETag', 'Last-Modified', 'Content-Length']) {
    const now = head.headers.get(k), then = hit.headers.get(`X-Origin-${k}`);
    if (now && then && now !== then) return true;
  }
  return false;
}

// The bytes at url (same-origin). Served from the Cache API when it holds an up-to-date copy, else
// fetched with onProgress(loaded, total) calls and stored there. Without the Cache API (an insecure
// context) it just fetches.
export async function fetchBytes(url, { onProgress, cache = true, signal } = {}) {
  const href = new URL(url, document.baseURI).href;
  let store = null, validators = {};
  if (cache && typeof caches === 'object') {
    try {
      store = await caches.open(MODEL_CACHE);
      const hit = await store.match(href);
      if (hit && !(await stale(href, hit, signal))) {
        const buf = await hit.arrayBuffer();
        onProgress?.(buf.byteLength, buf.byteLength, true);
        return buf;
      }
    } catch {
      store = null; // e.g. storage disabled: not an error, only no cache
    }
  }
  let res;
  try {
    // With our own Cache API copy to come, the HTTP cache's would be a second one, and writing it costs:
    // 47 MB fetched into a fresh Chromium profile took 443 ms with it, 321 ms with 'no-store' (issue 13).
    res = await fetch(href, { signal, credentials: 'same-origin', ...(store ? { cache: 'no-store' } : {}) });
  } catch (e) {
    fail(`cannot fetch ${url}: ${oneLine(e)}`);
  }
  if (!res.ok) fail(`cannot fetch ${url}: HTTP ${res.status}`);
  for (const k of ['ETag', 'Last-Modified', 'Content-Length']) if (res.headers.get(k)) validators[`X-Origin-${k}`] = res.headers.get(k);
  // A compressed response's Content-Length counts the compressed bytes, not the ones the body yields.
  const enc = (res.headers.get('Content-Encoding') || 'identity').toLowerCase();
  const total = enc === 'identity' ? Number(res.headers.get('Content-Length')) || 0 : 0;
  // Each chunk goes straight into one buffer of the announced size while the rest downloads (no list of
  // chunks concatenated at the end: that copy of the whole file came after the last byte).
  let out = new Uint8Array(total || 1 << 20), loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.byteLength > out.length) { // no length announced, or more than it said
      const bigger = new Uint8Array(Math.max(out.length * 2, loaded + value.byteLength));
      bigger.set(out.subarray(0, loaded));
      out = bigger;
    }
    out.set(value, loaded);
    loaded += value.byteLength;
    onProgress?.(loaded, total, false);
  }
  if (total && loaded !== total) fail(`${url}: download cut short (${loaded} of ${total} bytes)`);
  if (loaded !== out.length) out = out.slice(0, loaded);
  if (store) {
    store.put(href, new Response(out, { headers: { 'Content-Type': 'application/octet-stream', ...validators } }))
      .catch(() => {}); // quota exceeded and the like: the next load fetches again, that is all
  }
  return out.buffer;
}

export async function bytesOf(model, opts) {
  if (model instanceof ArrayBuffer) return model.slice(0); // keep the caller's buffer usable
  if (ArrayBuffer.isView(model)) return model.buffer.slice(model.byteOffset, model.byteOffset + model.byteLength);
  if (typeof Blob !== 'undefined' && model instanceof Blob) return model.arrayBuffer();
  if (typeof model === 'string' || model instanceof URL) return fetchBytes(String(model), opts);
  fail('model: give a URL, a File/Blob or an ArrayBuffer');
}

// One label per line; a count that does not match the model gives "class N", as the CLI does.
export function parseLabels(text) {
  const lines = text.split('\n').map((s) => s.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export async function labelsOf(labels, opts) {
  if (!labels) return null;
  if (Array.isArray(labels)) return labels.map(String);
  if (typeof Blob !== 'undefined' && labels instanceof Blob) return parseLabels(await labels.text());
  if (typeof labels === 'string' || labels instanceof URL) {
    return parseLabels(new TextDecoder().decode(await fetchBytes(String(labels), { ...opts, onProgress: null })));
  }
  fail('labels: give a URL, a File/Blob or an array of names');
}

// Weights as safetensors bytes: .pth (torch's zip format) is converted here, on the main thread's
// side of the worker, because pth.js is an ES module and the worker must stay classic.
export function toSafetensors(buf) {
  const b = new Uint8Array(buf);
  if (b.length < 8) fail('the weights file is empty or truncated');
  if (isZip(b) || b[0] === 0x80) return pthToSafetensors(b).buffer;
  return buf;
}

// ---- images → ImageData -------------------------------------------------------------------------------

// Firefox decodes a truncated PNG, JPEG or GIF to a partly blank image where Chromium refuses it: so
// check that the file ends as its format says it must (PNG: an IEND chunk, JPEG: an EOI marker, GIF: the
// 0x3B trailer, within the last 1 KB: trailing bytes after them are allowed, as decoders allow them).
async function truncatedImage(blob) {
  const head = new Uint8Array(await blob.slice(0, 8).arrayBuffer()), tail = new Uint8Array(await blob.slice(-1024).arrayBuffer());
  const at = (b, i, ...v) => v.every((x, k) => b[i + k] === x), has = (...v) => tail.some((_, i) => at(tail, i, ...v));
  if (at(head, 0, 0x89, 0x50, 0x4e, 0x47)) return !has(0x49, 0x45, 0x4e, 0x44);
  if (at(head, 0, 0xff, 0xd8)) return !has(0xff, 0xd9);
  if (at(head, 0, 0x47, 0x49, 0x46)) return !has(0x3b);
  return false;
}

// Decode an image file (or any drawable) to ImageData with its exact pixels: no colour-space
// conversion, no premultiplication. Images larger than maxSide are scaled down (the worker and the
// canvases hold several copies of the pixels).
export async function toImageData(src, { maxSide = 2048 } = {}) {
  if (typeof ImageData !== 'undefined' && src instanceof ImageData) return src;
  let bmp = src;
  if (typeof Blob !== 'undefined' && src instanceof Blob) {
    const what = src.name ? `'${src.name}'` : 'the image';
    if (await truncatedImage(src)) fail(`cannot decode ${what}: not a PNG, JPEG, GIF, BMP or WebP image, or corrupt`);
    try {
      bmp = await createImageBitmap(src, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    } catch {
      fail(`cannot decode ${src.name ? `'${src.name}'` : 'the image'}: not a PNG, JPEG, GIF, BMP or WebP image, or corrupt`);
    }
  }
  const w0 = bmp.videoWidth || bmp.naturalWidth || bmp.width, h0 = bmp.videoHeight || bmp.naturalHeight || bmp.height;
  if (!w0 || !h0) fail('the image has no pixels');
  const s = Math.min(1, maxSide / Math.max(w0, h0));
  const w = Math.max(1, Math.round(w0 * s)), h = Math.max(1, Math.round(h0 * s));
  const c = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(w, h) : Object.assign(document.createElement('canvas'), { width: w, height: h });
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(bmp, 0, 0, w, h);
  if (bmp !== src && bmp.close) bmp.close();
  return g.getImageData(0, 0, w, h);
}
