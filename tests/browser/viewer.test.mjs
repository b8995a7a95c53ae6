// viewer.test.mjs: <grad-cam-viewer> as an embeddable widget — lazy and eager loading (checked in the
// request log), its events and their order, errors it recovers from, attribute changes, toBlob, its
// accessible name and live region, keyboard use, theming (custom properties, ::part) and the dark
// palette (a second browser launched with prefers-color-scheme: dark). With the offline shapes model,
// which is also what a viewer without a model attribute loads. Skipped without that model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

const skip = h.shapesSkip, T = 120000;
let site, suite, page, requests, url;

// A test page under the site's strict CSP; viewers are added by each test. .spacer pushes a viewer far
// below the fold (the viewport is 1100 px high; a lazy viewer loads within 200 px of it).
const HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self'; img-src 'self' blob: data:; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self'">
<title>viewer test</title><link rel="stylesheet" href="viewer-test.css"><script type="module" src="grad-cam-viewer.js"></script>
</head><body><main id="main"></main></body></html>`;
const CSS = `.spacer { height: 3000px; }
#themed::part(caption) { color: rgb(4, 5, 6); }`;

before(async () => {
  if (skip) return;
  site = h.makeSite();
  const shapes = path.join(site.dir, 'models', 'shapes');
  fs.mkdirSync(shapes, { recursive: true });
  fs.copyFileSync(h.SHAPES_MODEL, path.join(shapes, 'resnet18-shapes.safetensors'));
  // The same weights under another URL: another engine, so its requests tell the lazy viewer's apart.
  fs.mkdirSync(path.join(site.dir, 'models', 'lazy'));
  fs.symlinkSync('../shapes/resnet18-shapes.safetensors', path.join(site.dir, 'models', 'lazy', 'shapes.safetensors'));
  fs.writeFileSync(path.join(site.dir, 'viewer-test.html'), HTML);
  fs.writeFileSync(path.join(site.dir, 'viewer-test.css'), CSS);
  suite = await h.openSuite(site.dir);
  page = suite.page;
  requests = h.recordRequests(suite.browser.context);
  url = `${suite.srv.url}viewer-test.html`;
});

after(async () => {
  await h.closeSuite(suite);
  site?.cleanup();
});

// A fresh page with these viewers (markup) in <main>; every event of every viewer goes to window.events.
async function open(markup) {
  await page.goto(url);
  await page.waitForFunction(() => customElements.get('grad-cam-viewer'), null, { timeout: 30000 });
  await page.evaluate((markup) => {
    window.events = [];
    const main = document.getElementById('main');
    const t = document.createElement('template');
    t.innerHTML = markup;
    for (const v of t.content.querySelectorAll('grad-cam-viewer')) {
      for (const type of ['progress', 'load', 'error', 'gradcam-done', 'gradcam-progress', 'gradcam-error']) {
        v.addEventListener(type, (e) => window.events.push({ type, id: v.id, fraction: e.detail?.fraction, message: e.detail?.message,
          reused: e.detail?.reused, layer: e.detail?.layer, cls: e.detail?.explained?.index, bubbles: e.bubbles }));
      }
    }
    main.append(t.content);
  }, markup);
}
// Change the viewer ({props: {name: value}, attrs: {name: value}, remove: [attribute]}: no functions, the
// page's CSP has no eval), then wait for its next `type` event (or its next error, which fails the wait's
// caller's assertions with the message). → all events so far.
async function after1(id, type, change = null) {
  const n = await page.evaluate(() => window.events.length);
  if (change) {
    await page.evaluate(([id, { props = {}, attrs = {}, remove = [] }]) => {
      const v = document.getElementById(id);
      for (const a of remove) v.removeAttribute(a);
      for (const [k, x] of Object.entries(attrs)) v.setAttribute(k, x);
      Object.assign(v, props);
    }, [id, change]);
  }
  await page.waitForFunction(([id, type, n]) => window.events.slice(n).some((e) => e.id === id && (e.type === type || e.type === 'error')),
    [id, type, n], { timeout: T });
  return page.evaluate(() => window.events);
}
// Wait until the viewer has fired `type` k times (or an error) → all events so far.
async function fired(id, type, k = 1) {
  await page.waitForFunction(([id, type, k]) => window.events.filter((e) => e.id === id && e.type === type).length >= k
    || window.events.some((e) => e.id === id && e.type === 'error'), [id, type, k], { timeout: T });
  return page.evaluate(() => window.events);
}
const pixels = (id) => page.evaluate((id) => {
  const c = document.getElementById(id).shadowRoot.querySelector('canvas');
  return { width: c.width, height: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
}, id);
const png = (f) => h.decodePng(fs.readFileSync(path.join(h.WEB, 'samples', f)));
const req = (re) => requests.filter((r) => re.test(r.url));

test('loading: lazy viewers fetch nothing until near the viewport, eager ones load at once', { timeout: T, skip }, async () => {
  requests.length = 0;
  await open(`<grad-cam-viewer id="top" src="samples/shapes-1.png"></grad-cam-viewer><div class="spacer"></div>
    <grad-cam-viewer id="eager" loading="eager" src="samples/shapes-2.png"></grad-cam-viewer><div class="spacer"></div>
    <grad-cam-viewer id="lazy" src="samples/shapes-3.png" model="models/lazy/shapes.safetensors" labels="models/shapes/labels.txt"></grad-cam-viewer>`);
  await fired('top', 'load');
  await fired('eager', 'load');
  // By now the lazy viewer would long have asked for its image and weights, had it started.
  assert.deepEqual(req(/shapes-3\.png|models\/lazy\//).map((r) => r.url), [], 'the lazy viewer fetched before it was near the viewport');
  assert.equal(req(/resnet18-shapes\.safetensors$/).filter((r) => r.method === 'GET').length, 1, 'two viewers of one model: one download');
  const before = await page.evaluate(async () => {
    const v = document.getElementById('lazy');
    const err = await v.toBlob().then(() => 'resolved', (e) => e.message);
    return { result: v.result, err, events: window.events.filter((e) => e.id === 'lazy').length };
  });
  assert.deepEqual(before, { result: null, err: '<grad-cam-viewer> has rendered nothing yet', events: 0 });
  await page.evaluate(() => document.getElementById('lazy').scrollIntoView());
  await fired('lazy', 'load');
  assert.equal(req(/shapes-3\.png$/).length, 1);
  assert.equal(req(/models\/lazy\/shapes\.safetensors$/).filter((r) => r.method === 'GET').length, 1);
  assert.equal(await page.evaluate(() => document.getElementById('lazy').result.explained.label.length > 0), true);
});

test('events: progress … 1, load, gradcam-done; re-renders fire gradcam-done only; the aliases follow', { timeout: T, skip }, async () => {
  await open('<grad-cam-viewer id="v" src="samples/shapes-1.png"></grad-cam-viewer>');
  let ev = (await fired('v', 'gradcam-done')).filter((e) => e.id === 'v');
  const main = ev.filter((e) => !e.type.startsWith('gradcam-') || e.type === 'gradcam-done');
  const types = main.map((e) => e.type);
  assert.deepEqual(types.slice(-2), ['load', 'gradcam-done'], types.join());
  const fr = main.filter((e) => e.type === 'progress').map((e) => e.fraction);
  assert.ok(fr.length >= 2 && fr[0] === 0 && fr.at(-1) === 1 && fr.every((f, i) => !i || f > fr[i - 1]), `fractions ${fr}`);
  assert.deepEqual(types.filter((t) => t !== 'progress'), ['load', 'gradcam-done']);
  // Each alias right after its event, same detail, bubbling; the new ones do not bubble.
  ev.forEach((e, i) => {
    if (e.type === 'progress') assert.deepEqual([ev[i + 1].type, ev[i + 1].fraction, e.bubbles, ev[i + 1].bubbles], ['gradcam-progress', e.fraction, false, true]);
  });
  assert.equal(ev.find((e) => e.type === 'load').bubbles, false);
  // Another layer: computed again, no new load; another alpha: only redrawn.
  ev = await after1('v', 'gradcam-done', { props: { layer: 'layer3' } });
  assert.deepEqual([ev.at(-1).layer, ev.at(-1).reused, ev.filter((e) => e.type === 'load').length], ['layer3', false, 1]);
  ev = await after1('v', 'gradcam-done', { props: { alpha: 0.25 } });
  assert.deepEqual([ev.at(-1).reused, ev.filter((e) => e.type === 'load').length], [true, 1]);
  assert.equal(await page.evaluate(() => document.getElementById('v').getAttribute('alpha')), '0.25', 'alpha reflects');
  // A new src is a new picture: load again.
  ev = await after1('v', 'load', { props: { src: 'samples/shapes-2.png' } });
  assert.equal(ev.filter((e) => e.type === 'load').length, 2);
});

test('error: one line, aliased, and the viewer works again once the attribute is fixed', { timeout: T, skip }, async () => {
  await open('<grad-cam-viewer id="v" loading="eager" src="samples/nope.png"></grad-cam-viewer>');
  let ev = await fired('v', 'error');
  const errs = ev.filter((e) => e.type === 'error' || e.type === 'gradcam-error');
  assert.deepEqual(errs.map((e) => [e.type, e.message, e.bubbles]), [['error', 'cannot fetch samples/nope.png: HTTP 404', false],
    ['gradcam-error', 'cannot fetch samples/nope.png: HTTP 404', true]]);
  assert.equal(ev.filter((e) => e.type === 'load').length, 0);
  const cap = await page.evaluate(() => { const c = document.getElementById('v').shadowRoot.querySelector('[part=caption]'); return [c.className, c.textContent]; });
  assert.deepEqual(cap, ['caption error', 'cannot fetch samples/nope.png: HTTP 404']);
  await after1('v', 'load', { props: { src: 'samples/shapes-1.png' } });
  ev = await after1('v', 'error', { props: { method: 'nosuchcam' } });
  assert.equal(ev.at(-1).message, "method 'nosuchcam' is not one of gradcam.js METHODS");
  ev = await after1('v', 'gradcam-done', { remove: ['method'] });
  assert.equal(ev.at(-1).type, 'gradcam-done');
  ev = await after1('v', 'error', { props: { targetClass: 'unicorn' } });
  assert.equal(ev.at(-1).message, "target-class 'unicorn' is not one of the model's labels");
});

test('attributes: a class (by label, or a numeric class attribute) and a layer re-render like the CLI; toBlob is the canvas', { timeout: T, skip }, async () => {
  await open('<grad-cam-viewer id="v" src="samples/shapes-1.png"></grad-cam-viewer>');
  await fired('v', 'load');
  const labels = fs.readFileSync(path.join(h.WEB, 'models', 'shapes', 'labels.txt'), 'utf8').trim().split('\n');
  let ev = await after1('v', 'gradcam-done', { attrs: { 'target-class': 'Square', layer: 'layer3' } });
  assert.deepEqual([ev.at(-1).cls, ev.at(-1).layer], [labels.indexOf('square'), 'layer3']);
  let d = h.maxDiff(await pixels('v'), h.cliExplain(h.SHAPES_IMAGE, h.SHAPES_MODEL, { cls: labels.indexOf('square'), layer: 'layer3' }).overlay);
  assert.ok(d <= 2, `overlay differs from the CLI's by ${d}`);
  ev = await after1('v', 'gradcam-done', { remove: ['target-class'], attrs: { class: '5', colormap: 'viridis' } });
  assert.equal(ev.at(-1).cls, 5);
  d = h.maxDiff(await pixels('v'), h.cliExplain(h.SHAPES_IMAGE, h.SHAPES_MODEL, { cls: 5, layer: 'layer3', colormap: 'viridis' }).overlay);
  assert.ok(d <= 2, `overlay differs from the CLI's by ${d}`);
  // toBlob: a PNG with exactly the canvas's pixels; other types as the canvas encodes them.
  const blob = await page.evaluate(async () => {
    const v = document.getElementById('v');
    const b = await v.toBlob();
    const j = await v.toBlob('image/jpeg', 0.8);
    const bytes = new Uint8Array(await b.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return { type: b.type, jpeg: j.type, b64: btoa(s) };
  });
  assert.deepEqual([blob.type, blob.jpeg], ['image/png', 'image/jpeg']);
  const fromBlob = h.decodePng(Buffer.from(blob.b64, 'base64'));
  assert.equal(h.maxDiff(await pixels('v'), fromBlob), 0);
});

test('accessibility: role=img with a generated name or alt, a polite live region outside it, Tab + Enter/Space toggle', { timeout: T, skip }, async () => {
  await open('<grad-cam-viewer id="v" src="samples/shapes-1.png"></grad-cam-viewer><p>after</p>');
  const ev = await fired('v', 'load');
  const label = await page.evaluate(() => document.getElementById('v').result.explained.label);
  const a11y = () => page.evaluate(() => {
    const v = document.getElementById('v'), c = v.shadowRoot.querySelector('canvas'), s = v.shadowRoot.querySelector('[aria-live]');
    return { role: c.getAttribute('role'), name: c.getAttribute('aria-label'), live: s.getAttribute('aria-live'), status: s.textContent,
      inside: c.contains(s), tabindex: v.getAttribute('tabindex'), hostRole: v.getAttribute('role') };
  });
  let a = await a11y();
  assert.deepEqual(a, { role: 'img', name: `Grad-CAM heatmap for class '${label}', layer4`, live: 'polite',
    status: `Grad-CAM heatmap for class '${label}', layer4: ready.`, inside: false, tabindex: '0', hostRole: 'group' });
  await page.evaluate(() => { document.getElementById('v').alt = 'A star, its points lit'; });
  assert.equal((await a11y()).name, 'A star, its points lit');
  await page.evaluate(() => document.getElementById('v').removeAttribute('alt'));
  assert.equal((await a11y()).name, `Grad-CAM heatmap for class '${label}', layer4`);
  assert.ok(ev.some((e) => e.type === 'gradcam-done'));
  // Keyboard: Tab reaches it, the focus ring shows, Enter shows the original, Space the overlay again.
  const overlay = await pixels('v');
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Tab');
  const focus = await page.evaluate(() => {
    const v = document.getElementById('v'), s = getComputedStyle(v);
    return { active: document.activeElement === v, outline: `${s.outlineStyle} ${s.outlineWidth}` };
  });
  assert.deepEqual(focus, { active: true, outline: 'solid 2px' });
  await page.keyboard.press('Enter');
  assert.equal(h.maxDiff(await pixels('v'), png('shapes-1.png')), 0, 'Enter: the canvas shows the original image');
  a = await a11y();
  assert.equal(a.status, 'Showing the original image.');
  assert.equal(a.name, `Original image, without the Grad-CAM heatmap for class '${label}', layer4`);
  const y = await page.evaluate(() => scrollY);
  await page.keyboard.press(' ');
  assert.deepEqual(await pixels('v'), overlay, 'Space: the overlay again');
  assert.equal((await a11y()).status, 'Showing the Grad-CAM heatmap.');
  assert.equal(await page.evaluate(() => scrollY), y, 'Space did not scroll the page');
  // alt="" marks the picture decorative (no role=img without a name).
  await page.evaluate(() => { document.getElementById('v').alt = ''; });
  assert.deepEqual([(await a11y()).role, (await a11y()).name], ['presentation', null]);
});

test('theming: custom properties and ::part() reach inside; light palette by default', { timeout: T, skip }, async () => {
  await open('<grad-cam-viewer id="themed" src="samples/shapes-1.png" loading="eager"></grad-cam-viewer>');
  const look = () => page.evaluate(() => {
    const v = document.getElementById('themed'), part = (p) => getComputedStyle(v.shadowRoot.querySelector(`[part~=${p}]`));
    const host = getComputedStyle(v);
    return { bg: host.backgroundColor, color: host.color, radius: host.borderTopLeftRadius, bar: part('progress-value').backgroundColor,
      caption: part('caption').color, frameRadius: part('frame').borderTopLeftRadius };
  });
  assert.deepEqual(await look(), { bg: 'rgb(244, 244, 244)', color: 'rgb(26, 26, 26)', radius: '6px', bar: 'rgb(11, 87, 208)',
    caption: 'rgb(4, 5, 6)', frameRadius: '6px' });
  await page.evaluate(() => {
    const s = document.getElementById('themed').style;
    s.setProperty('--gradcam-viewer-accent', 'rgb(1, 2, 3)');
    s.setProperty('--gradcam-viewer-background', 'rgb(7, 8, 9)');
    s.setProperty('--gradcam-viewer-radius', '0px');
  });
  const l = await look();
  assert.deepEqual([l.bar, l.bg, l.radius, l.frameRadius], ['rgb(1, 2, 3)', 'rgb(7, 8, 9)', '0px', '0px']);
});

test('dark palette under prefers-color-scheme: dark, still overridable', { timeout: T, skip }, async () => {
  // A second browser whose pages prefer dark (launch's colorScheme; Chromium and the Firefox adapter both take it).
  const dark = await h.launch({ colorScheme: 'dark' });
  try {
    const p = await dark.context.newPage();
    await p.goto(url);
    const look = () => p.evaluate(async () => {
      await customElements.whenDefined('grad-cam-viewer');
      let v = document.getElementById('d');
      if (!v) { // a viewer without src: nothing to load, only its look matters here
        v = document.createElement('grad-cam-viewer');
        v.id = 'd';
        document.body.append(v);
      }
      const s = getComputedStyle(v);
      return { dark: matchMedia('(prefers-color-scheme: dark)').matches, bg: s.backgroundColor, color: s.color,
        bar: getComputedStyle(v.shadowRoot.querySelector('[part=progress-value]')).backgroundColor };
    });
    assert.deepEqual(await look(), { dark: true, bg: 'rgb(32, 33, 36)', color: 'rgb(236, 236, 236)', bar: 'rgb(138, 180, 248)' });
    await p.evaluate(() => document.getElementById('d').style.setProperty('--gradcam-viewer-background', 'rgb(250, 250, 250)'));
    assert.equal((await look()).bg, 'rgb(250, 250, 250)');
  } finally {
    await dark.close();
  }
});
