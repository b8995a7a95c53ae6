// sw.js: makes the page work offline after the first visit, and, registered as sw.js?coi=1 (opt-in, see
// coi-sw.js and index.html's gradcam-isolation meta tag), adds the cross-origin isolation headers to the
// site's responses so that the threaded engine runs on hosts that cannot send them.
//
// Network first for the page's own files (so a rebuilt site is picked up at once when online), with
// the last good copy from the Cache API when the network is gone. Weights (.safetensors/.pth) are not
// handled here: the page caches them itself (gradcam.js, cache "gradcam-models-v1") so that it can show
// download progress. Only same-origin GETs are ever touched; there is nothing else to touch.
const SHELL = 'gradcam-shell-v1';
self.gradcamShellWorker = true; // coi-sw.js: give isolated(), leave the fetch handler to this file
const COI = new URL(self.location.href).searchParams.get('coi') === '1';
if (COI) importScripts('coi-sw.js');
const wrap = COI ? self.gradcamIsolated : (res) => res;
// Fetched at install so that the first visit already leaves a complete offline copy (the page's own
// requests of that first visit happen before this worker controls it).
const FILES = ['./', 'index.html', 'style.css', 'app.js', 'methods-ui.js', 'display-ui.js', 'compare-ui.js', 'gradcam.js', 'load.js', 'pth.js', 'worker.js', 'gradcam-engine.js',
  'gradcam-engine.wasm', 'grad-cam-viewer.js', 'embed.html', 'embed.js', 'coi-sw.js',
  // the threaded and relaxed-SIMD engines, where the site has them (a 404 here is fine: allSettled)
  'gradcam-engine-mt.js', 'gradcam-engine-mt.wasm', 'gradcam-engine-mt.worker.js',
  'gradcam-engine-relaxed.js', 'gradcam-engine-relaxed.wasm',
  'gradcam-engine-relaxed-mt.js', 'gradcam-engine-relaxed-mt.wasm', 'gradcam-engine-relaxed-mt.worker.js'];

self.addEventListener('install', (e) => {
  self.skipWaiting();
  e.waitUntil(caches.open(SHELL).then((c) => Promise.allSettled(FILES.map((f) => c.add(f)))));
});
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (/\.(safetensors|pth|pt)$/i.test(url.pathname)) {
    if (COI) e.respondWith(fetch(req).then(wrap)); // the page caches these itself; only the headers here
    return;
  }
  e.respondWith((async () => {
    try {
      const res = await fetch(req);
      if (res.ok && res.type === 'basic') {
        const copy = res.clone();
        e.waitUntil(caches.open(SHELL).then((c) => c.put(req, copy)).catch(() => {}));
      }
      return wrap(res);
    } catch (err) {
      const hit = await caches.match(req, { cacheName: SHELL, ignoreSearch: true });
      return hit ? wrap(hit) : Response.error();
    }
  })());
});
