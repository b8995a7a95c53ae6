// embed.js: the script of embed.html. Lists the viewers' events, and lets ?model=URL&labels=URL
// (same-origin) replace the weights of every viewer, e.g. to try your own model or in tests.
const q = new URLSearchParams(location.search);
for (const v of document.querySelectorAll('grad-cam-viewer')) {
  if (q.get('model')) v.setAttribute('model', q.get('model'));
  if (q.has('labels')) v.setAttribute('labels', q.get('labels'));
  if (q.has('multilabel')) v.setAttribute('multilabel', q.get('multilabel'));
}
// The lazy figure goes far below the fold. A constructed sheet, as the viewer's own: the page's CSP
// (style-src 'self') refuses inline style; on your site this rule belongs in your stylesheet.
const sheet = new CSSStyleSheet();
sheet.replaceSync('.far-below { margin-top: 150vh; }');
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

const list = document.getElementById('events');
const say = (text) => {
  const li = document.createElement('li');
  li.textContent = text;
  list.append(li);
};
// For tests and the curious: window.gradcamEvents, every gradcam-done/-error detail in order (they
// bubble, so one listener on the document hears every viewer); window.viewerEvents, every event of each
// viewer (progress, load and error do not bubble, like <img>'s: they are heard on the element).
const done = [], all = [];
window.gradcamEvents = done;
window.viewerEvents = all;
for (const type of ['gradcam-done', 'gradcam-error']) {
  document.addEventListener(type, (e) => {
    const d = e.detail;
    done.push({ type, id: e.target.id, ...(type === 'gradcam-done'
      ? { top: d.top, explained: d.explained, width: d.width, height: d.height, camLength: d.cam.length, timings: d.timings }
      : { message: d.message }) });
    if (type === 'gradcam-done') {
      say(`#${e.target.id}: ${type}, top-1 ${d.top.label} (${(100 * d.top.prob).toFixed(1)}%), CAM ${d.width}×${d.height}, forward ${d.timings.forward.toFixed(0)} ms`);
    }
  });
}
for (const v of document.querySelectorAll('grad-cam-viewer')) {
  for (const type of ['progress', 'load', 'error', 'gradcam-done']) {
    v.addEventListener(type, (e) => {
      all.push({ type, id: v.id, fraction: e.detail?.fraction, message: e.detail?.message });
      if (type === 'load') say(`#${v.id}: load`);
      if (type === 'error') say(`#${v.id}: error: ${e.detail.message}`);
    });
  }
}
// Loaded after the attributes above are final, so each viewer loads its model once.
await import('./grad-cam-viewer.js');
