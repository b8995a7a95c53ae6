// coi-sw.js: cross-origin isolation from a service worker, for hosts that cannot send headers (GitHub
// Pages, most documentation hosts). Opt-in: a page calls gradcam.js's crossOriginIsolate('coi-sw.js'),
// which registers this worker and reloads the page once; from then on every same-origin response the
// page gets passes through here and gains the three headers a server would send:
//   Cross-Origin-Opener-Policy: same-origin      (the page gets its own browsing-context group)
//   Cross-Origin-Embedder-Policy: require-corp   (every subresource must be same-origin or opt in)
//   Cross-Origin-Resource-Policy: same-origin
// which make the page crossOriginIsolated, so that SharedArrayBuffer, and with it the threaded engine,
// is available. The cost is COEP's: cross-origin images, scripts and frames without CORP/CORS headers no
// longer load on that page. A service worker only controls pages at or below its own folder, so this
// file must sit at the site's root (or beside the pages that use it).
// Used alone it is the whole worker; the page's sw.js (registered as sw.js?coi=1) imports it for
// isolated() and keeps its own fetch handler.
'use strict';

// res with the isolation headers (opaque responses — cross-origin, no-cors — cannot be changed and are
// left alone; COEP then blocks them, as it would with the server's headers).
self.gradcamIsolated = function isolated(res) {
  if (!res || res.type === 'opaque' || res.type === 'opaqueredirect' || res.status === 0) return res;
  const headers = new Headers(res.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
};

if (!self.gradcamShellWorker) {
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (e) => {
    const req = e.request;
    if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
    // only-if-cached outside same-origin mode throws in fetch(): leave such requests to the browser
    if (req.cache === 'only-if-cached' && req.mode !== 'same-origin') return;
    e.respondWith(fetch(req).then(self.gradcamIsolated));
  });
}
