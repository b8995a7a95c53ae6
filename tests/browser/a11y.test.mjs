// a11y.test.mjs: accessibility of index.html and embed.html. axe-core (npm, tests/browser/node_modules)
// scans each page in light and dark colour schemes and in several states, and fails on any violation of
// impact serious or critical (the moderate and minor ones are printed). A keyboard-only walk (Tab,
// Shift+Tab, Enter, Space, arrows, typing: no clicks, the DOM only read) uses the page end to end and
// checks at every step that the focus is on a control, visibly (:focus-visible with an outline or a
// box-shadow), and never stuck. With the offline shapes model (8 classes: quick); skipped without it.
//
// Injecting axe under the page's CSP (script-src 'self', no 'unsafe-inline', no 'unsafe-eval'): a
// <script> with its text is refused, but page.evaluate(source string) is evaluated by the driver
// (CDP Runtime.evaluate; WebDriver BiDi script.evaluate), which a page's CSP does not govern.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as h from './helpers.mjs';

const AXE = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const T = 120000, skip = h.shapesSkip;
let srv, browser, page;

before(async () => { if (!skip) ({ srv, browser, page } = await h.openSuite(h.WEB)); });
after(() => h.closeSuite({ srv, browser }));

// ---- axe ----------------------------------------------------------------------------------------------

// Playwright switches prefers-color-scheme per page; Firefox (firefox.mjs, WebDriver BiDi) only at
// launch, so there the dark scans run in a second browser launched dark (the last test).
const perPageScheme = h.BROWSER !== 'firefox';

// Scan the page as it is, in both colour schemes (the stylesheet has a dark palette) where the driver
// can switch them. p: the page (another browser's, for the dark launch).
async function scan(label, p = page, schemes = perPageScheme ? ['light', 'dark'] : ['light']) {
  for (const scheme of schemes) {
    if (perPageScheme) await p.emulateMedia({ colorScheme: scheme });
    const found = await axeRun(p);
    const say = (v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.length} node(s): ${v.nodes.slice(0, 3).join(' | ')}`;
    for (const v of found.filter((v) => !['serious', 'critical'].includes(v.impact))) console.log(`axe ${label}, ${scheme}: ${say(v)}`);
    const bad = found.filter((v) => ['serious', 'critical'].includes(v.impact)).map(say);
    assert.deepEqual(bad, [], `axe ${label}, ${scheme}`);
  }
  if (perPageScheme) await p.emulateMedia({ colorScheme: 'light' });
}
async function axeRun(p) {
  if (await p.evaluate(() => typeof window.axe === 'undefined')) await p.evaluate(AXE);
  return p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ')}`),
  })));
}

// ---- page state, read only ----------------------------------------------------------------------------

const count = (key) => page.evaluate((k) => Number(document.body.dataset[k] || 0), key);
// A digest of a canvas's pixels, to see that a key press changed the picture.
const digest = (id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let x = 2166136261;
  for (let i = 0; i < d.length; i++) x = Math.imul(x ^ d[i], 16777619);
  return `${c.width}x${c.height}:${x >>> 0}`;
}, id);

// The focused element (through open shadow roots) and whether its focus shows.
const focused = () => page.evaluate(() => {
  let el = document.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { body: true, desc: 'body' };
  const cs = getComputedStyle(el), r = el.getBoundingClientRect();
  const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
  return {
    desc: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.getAttribute('aria-label') ? `[${el.getAttribute('aria-label')}]` : ''}`,
    id: el.id, shown: el.matches(':focus-visible') && ring, windowFocused: document.hasFocus(), inView: r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight,
  };
});
const isFocused = (sel) => page.evaluate((s) => !!document.activeElement?.matches(s), sel);

async function assertFocusShown(why) {
  const f = await focused();
  assert.ok(!f.body, `${why}: the focus fell to <body>`);
  assert.ok(f.shown, `${why}: ${f.desc} has the focus but no visible focus style${f.windowFocused ? '' : ' (the window has lost the focus)'}`);
  assert.ok(f.inView, `${why}: ${f.desc} has the focus off screen`);
  return f;
}

async function press(key) {
  if (key.startsWith('Shift+')) { // puppeteer takes no chords: hold Shift down
    await page.keyboard.down('Shift');
    await page.keyboard.press(key.slice(6));
    await page.keyboard.up('Shift');
  } else await page.keyboard.press(key);
}

// Tab (or Shift+Tab) until the focus is on sel; every stop on the way must show its focus.
async function tabTo(sel, back = false, max = 60) {
  for (let i = 0; i < max; i++) {
    await press(back ? 'Shift+Tab' : 'Tab');
    const f = await assertFocusShown(`tabbing to ${sel}`);
    if (await isFocused(sel)) return f;
  }
  assert.fail(`${sel} not reached by ${back ? 'Shift+Tab' : 'Tab'} in ${max} steps`);
}

// Press keys, then wait until the page counter (explained, compared, cancelled) passes where it was and
// no error showed; the focus must still be on a control, visibly.
async function until(counter, keys) {
  const [n, e] = [await count(counter), await count('errors')];
  for (const k of [].concat(keys)) await press(k);
  await page.waitForFunction(([c, n, e]) => Number(document.body.dataset[c] || 0) > n || Number(document.body.dataset.errors || 0) > e,
    [counter, n, e], { timeout: 60000 });
  assert.equal(await count('errors'), e, await page.textContent('#banner-text'));
  await page.waitForFunction(() => document.body.dataset.busy !== '1', null, { timeout: 60000 });
  await assertFocusShown(`after ${keys}`);
}
async function changes(canvas, keys) {
  const before = await digest(canvas);
  await until('explained', keys);
  assert.notEqual(await digest(canvas), before, `${keys} did not change the ${canvas}`);
}

const openPage = async () => {
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 90000 });
};

// ---- tests --------------------------------------------------------------------------------------------

test('axe: index.html with its first heatmap, light and dark', { timeout: T, skip }, async () => {
  await openPage();
  await scan('index.html before an image');
  const n = await count('explained');
  await page.click('button[aria-label^="Use sample: Generated scene with shapes (1)"]');
  await h.waitExplained(page, n);
  await scan('index.html with a heatmap');
});

test('keyboard only: sample, class, search, layer, method, opacity, colormap, download, compare, cancel', { timeout: T, skip }, async () => {
  await openPage();
  // The first Tab stop is the skip link, shown while focused; it leads into the Explain section.
  await press('Tab');
  assert.ok(await isFocused('a.skip'), `first Tab stop: ${(await focused()).desc}`);
  await assertFocusShown('skip link');
  await press('Enter');
  assert.ok(await isFocused('#controls-h'), `the skip link moved the focus to ${(await focused()).desc}`);
  await press('Tab');
  assert.ok(await page.evaluate(() => document.getElementById('explain').contains(document.activeElement)), 'Tab after the skip link stays in Explain');
  await assertFocusShown('after the skip link');

  // Model: "your own file" shows the two file pickers, which the keyboard reaches (a headless test
  // cannot fill them); back to the built-in model.
  await tabTo('#model-select', true);
  await press('ArrowDown');
  assert.equal(await page.evaluate(() => document.getElementById('model-select').value), 'own');
  for (const id of ['model-file', 'labels-file', 'multilabel']) {
    await tabTo(`#${id}`, false, 1);
    assert.ok(await page.evaluate((id) => document.getElementById(id).labels.length > 0, id), `#${id} has a label`);
  }
  await tabTo('#model-select', true, 3);
  await press('ArrowUp');
  await page.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 60000 });
  await assertFocusShown('model reloaded');

  // Image: the file picker (and its label) and the gallery.
  await tabTo('#image-file', false, 1);
  assert.ok(await page.evaluate(() => document.getElementById('image-file').labels.length > 0));
  await tabTo('#gallery button');
  await changes('overlay', 'Enter');
  assert.match(await page.textContent('#caption'), /gradcam layer4$/);

  // Class: the top-5 radios (one Tab stop, arrows move), then the search box.
  await tabTo('#top5-list input');
  const checked = () => page.evaluate(() => document.querySelector('#top5-list input:checked').value);
  const c0 = await checked();
  await changes('heatmap', 'ArrowDown');
  assert.notEqual(await checked(), c0);
  assert.ok(await isFocused('#top5-list input:checked'), 'the focus stays on the checked class');
  await tabTo('#class-search', false, 1);
  await page.keyboard.type('hexagon');
  await until('explained', 'Enter');
  assert.match(await page.textContent('#caption'), /^hexagon /);
  assert.equal(await checked(), '6');

  // Layer, method, opacity.
  await tabTo('#layer', false, 1);
  await changes('heatmap', 'ArrowUp'); // layer4 → layer3.1
  assert.match(await page.textContent('#caption'), /layer3\.1$/);
  await tabTo('#method');
  await changes('heatmap', 'ArrowDown'); // Grad-CAM → HiResCAM
  assert.match(await page.textContent('#caption'), /hirescam layer3\.1$/);
  await tabTo('#opacity', false, 1);
  await changes('overlay', 'ArrowRight');
  assert.equal(await page.textContent('#opacity-out'), '55%');

  // Colormap: the first step is the default's own name (jet: the same picture), the second turbo.
  await tabTo('#colormap');
  await until('explained', 'ArrowDown');
  await changes('overlay', 'ArrowDown');
  assert.match(await page.textContent('#legend-text'), /^turbo /);

  // Download: Enter on the button saves the overlay. Not in Firefox: there the download takes the
  // window's focus for good (headless, nothing gives it back: not even bringToFront), after which no
  // element matches :focus; reaching the button is the check there.
  await tabTo('#dl-overlay');
  if (h.BROWSER !== 'firefox') {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), press('Enter')]);
    assert.equal(dl.suggestedFilename(), 'gradcam-overlay.png');
    assert.ok(await isFocused('#dl-overlay'), `after the download the focus is on ${(await focused()).desc}`);
    await assertFocusShown('after the download');
  }

  // Compare the top classes; a tile chosen with Enter (Space for the second) becomes the main view.
  await tabTo('#compare-by');
  await until('compared', 'ArrowDown');
  assert.equal(await page.evaluate(() => document.querySelectorAll('#compare-grid .tile').length), 4);
  for (const key of ['Enter', ' ']) {
    const shown = await checked();
    await tabTo('#compare-grid .tile');
    while (await page.evaluate((c) => document.activeElement.dataset.classIndex === c, shown)) await tabTo('#compare-grid .tile', false, 1);
    const picked = await page.evaluate(() => document.activeElement.dataset.classIndex);
    await changes('heatmap', key);
    assert.equal(await checked(), picked, `${JSON.stringify(key)} on a tile made its class the main view`);
    await tabTo('#compare-by', true);
  }

  // A long job (Score-CAM, chosen by typing its name on the method picker), cancelled from the keyboard.
  await tabTo('#method', true);
  const cancelled = await count('cancelled');
  await page.keyboard.type('Score');
  await page.waitForFunction(() => !document.getElementById('job').hidden && !document.getElementById('cancel').disabled, null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => document.getElementById('method').value), 'scorecam');
  const n = await count('explained');
  await tabTo('#cancel');
  await until('cancelled', 'Enter');
  assert.equal(await count('cancelled'), cancelled + 1);
  assert.equal(await count('explained'), n, 'the cancelled job drew nothing');
  assert.ok(await isFocused('#job-status'), `after Cancel the focus is on ${(await focused()).desc}`);
  assert.match(await page.textContent('#job-announce'), /Score-CAM: cancelled/);
  await tabTo('#dl-overlay', false, 2);
});

test('axe: index.html with compare, metrics, a cancelled job and an error; dismissing the error by keyboard', { timeout: T, skip }, async () => {
  await openPage();
  let n = await count('explained');
  await page.click('button[aria-label^="Use sample: Generated scene with shapes (2)"]');
  n = await h.waitExplained(page, n);
  // A cancelled Score-CAM leaves its status row.
  await page.selectOption('#method', 'scorecam');
  await page.waitForFunction(() => !document.getElementById('cancel').disabled, null, { timeout: 20000 });
  await page.click('#cancel');
  await page.waitForFunction(() => document.body.dataset.busy !== '1' && /cancelled/.test(document.getElementById('job-status').textContent));
  await page.selectOption('#method', 'gradcam');
  n = await h.waitExplained(page, n);
  // A compare grid; then a slow method ticked for a compare by methods leaves it waiting (faded) for
  // the Compare button.
  const c = await count('compared');
  await page.selectOption('#compare-by', 'methods');
  await page.waitForFunction((c) => Number(document.body.dataset.compared || 0) > c, c, { timeout: 60000 });
  await page.click('#compare-methods input[value=scorecam]');
  await page.waitForFunction(() => document.getElementById('compare-grid').classList.contains('stale'), null, { timeout: 60000 });
  await page.click('#metrics-btn');
  await h.waitExplained(page, n);
  assert.equal(await page.isVisible('#metrics-box'), true);
  const e = await count('errors');
  await page.focus('#class-search');
  await page.keyboard.type('no such class');
  await press('Enter');
  await page.waitForFunction((e) => Number(document.body.dataset.errors || 0) > e, e);
  assert.ok(await isFocused('#class-search'), 'the error leaves the focus where it was');
  await scan('index.html with compare, metrics and an error');
  // The banner's dismiss button is reached by Shift+Tab; Enter closes it and the focus goes back.
  await tabTo('#banner-close', true);
  await press('Enter');
  assert.equal(await page.isVisible('#banner'), false);
  assert.ok(await isFocused('#class-search'), `after dismissing, the focus is on ${(await focused()).desc}`);
  await assertFocusShown('after dismissing the error');
});

test('keyboard: Shift+Tab retraces Tab, and Tab at the end of the page leaves it (no trap)', { timeout: T, skip }, async () => {
  const fwd = [(await focused()).desc];
  for (let i = 0; i < 5; i++) { await press('Tab'); fwd.push((await assertFocusShown('Tab')).desc); }
  for (let i = 4; i >= 0; i--) {
    await press('Shift+Tab');
    assert.equal((await assertFocusShown('Shift+Tab')).desc, fwd[i]);
  }
  // Chromium (Playwright) wraps the focus round to the page's first stop, the skip link; Firefox hands
  // it to its own window (then nothing gives it back headless: this test comes after the other keyboard
  // ones). Either way the last stop, the footer's link, is reached and Tab goes on from it.
  let last = false, out = false;
  for (let i = 0; i < 120 && !out; i++) {
    await press('Tab');
    const f = await focused();
    if (!f.windowFocused) out = 'the browser';
    else if (await isFocused('a.skip')) out = 'the skip link';
    else if (!f.body) await assertFocusShown('going round');
    last ||= await isFocused('footer a');
  }
  assert.ok(out, 'Tab never went past the end of the page');
  assert.ok(last, `the footer link was not in the Tab order before ${out}`);
});

// embed.html once each of its viewers is done (a lazy one loads when scrolled to, so each is scrolled
// into view in turn; every one fires gradcam-done, which embed.js keeps in window.gradcamEvents).
async function openEmbed(p) {
  await p.goto(`${srv.url}embed.html`);
  const ids = await p.evaluate(() => [...document.querySelectorAll('grad-cam-viewer')].map((v) => v.id));
  assert.ok(ids.length >= 1);
  for (const id of ids) {
    await p.evaluate((id) => document.getElementById(id).scrollIntoView(), id);
    await p.waitForFunction((id) => (window.gradcamEvents || []).some((e) => e.id === id && e.type === 'gradcam-done'), id, { timeout: 60000 })
      .catch(async (e) => {
        const said = await p.evaluate((id) => document.getElementById(id).shadowRoot?.textContent.trim().slice(0, 120), id);
        throw new Error(`#${id} did not finish (${String(e.message).split('\n')[0]}); it says: ${said}`);
      });
  }
}

test('axe: embed.html once its viewers are done, light and dark', { timeout: T, skip }, async () => {
  await openEmbed(page);
  await scan('embed.html');
});

test('axe, dark palette in a browser launched dark: index.html with a heatmap, embed.html', {
  timeout: T, skip: skip || (perPageScheme && 'the other tests scanned the dark palette already (per-page prefers-color-scheme)'),
}, async () => {
  const dark = await h.launch({ colorScheme: 'dark' });
  try {
    const p = await dark.context.newPage();
    await p.goto(`${srv.url}index.html`);
    assert.equal(await p.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), true);
    await p.waitForFunction(() => document.body.dataset.modelReady === '1', null, { timeout: 90000 });
    const n = await h.explainedCount(p);
    await p.click('button[aria-label^="Use sample: Generated scene with shapes (1)"]');
    await h.waitExplained(p, n);
    await scan('index.html with a heatmap', p, ['dark']);
    await openEmbed(p);
    await scan('embed.html', p, ['dark']);
  } finally {
    await dark.close();
  }
});
