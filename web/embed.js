// embed.js: the script of embed.html. Lists the viewers' events, and lets ?model=URL&labels=URL
// (same-origin) replace the weights of both viewers, e.g. to try your own model or in tests.
const q = new URLSearchParams(location.search);
for (const v of document.querySelectorAll('grad-cam-viewer')) {
  if (q.get('model')) v.setAttribute('model', q.get('model'));
  if (q.has('labels')) v.setAttribute('labels', q.get('labels'));
  if (q.has('multilabel')) v.setAttribute('multilabel', q.get('multilabel'));
}
const list = document.getElementById('events');
const done = [];
window.gradcamEvents = done; // for tests and the curious: every gradcam-done/-error detail, in order
for (const type of ['gradcam-done', 'gradcam-error']) {
  document.addEventListener(type, (e) => {
    const d = e.detail;
    done.push({ type, id: e.target.id, ...(type === 'gradcam-done'
      ? { top: d.top, explained: d.explained, width: d.width, height: d.height, camLength: d.cam.length, timings: d.timings }
      : { message: d.message }) });
    const li = document.createElement('li');
    li.textContent = type === 'gradcam-done'
      ? `#${e.target.id}: ${type}, top-1 ${d.top.label} (${(100 * d.top.prob).toFixed(1)}%), CAM ${d.width}×${d.height}, forward ${d.timings.forward.toFixed(0)} ms`
      : `#${e.target.id}: ${type}: ${d.message}`;
    list.append(li);
  });
}
// Loaded after the attributes above are final, so each viewer loads its model once.
await import('./grad-cam-viewer.js');
