// docs-site.test.mjs: <grad-cam-viewer> where docs authors put it. A real Sphinx site
// (tests/browser/fixtures/sphinx-docs: viewers in `.. raw:: html` blocks, the npm package unpacked
// into _static/, its module loaded from conf.py's html_js_files) is built with Debian's sphinx-build
// and served; the viewers in view render, the ones far below the fold fetch nothing until scrolled
// to and then render, and the whole page downloads the weights once.
// Needs build/npm/ (scripts/npm-package, run by scripts/build) and sphinx-build (python3-sphinx).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

const FIXTURE = path.join(h.ROOT, 'tests', 'browser', 'fixtures', 'sphinx-docs');
const NPM = path.join(h.ROOT, 'build', 'npm');
const SPHINX = process.env.SPHINX_BUILD || 'sphinx-build';
const IN_VIEW = ['v1', 'v2', 'v3', 'v4'], BELOW = ['v5', 'v6', 'v7']; // as fixtures/sphinx-docs/figures.rst
const SCENES = ['shapes-1.png', 'shapes-2.png', 'shapes-3.png'];

let tmp, out, srv, browser, page, requests;

// The npm tarball scripts/npm-package made (its name carries the version).
function tarball() {
  const pkg = path.join(NPM, 'package.json');
  if (!fs.existsSync(pkg)) throw new Error('missing: build/npm/package.json (run scripts/npm-package)');
  const tgz = path.join(NPM, `gradcam-wasm-${JSON.parse(fs.readFileSync(pkg, 'utf8')).version}.tgz`);
  if (!fs.existsSync(tgz)) throw new Error(`missing: ${path.relative(h.ROOT, tgz)} (run scripts/npm-package)`);
  return tgz;
}

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
};

const events = () => page.evaluate(() => window.viewerEvents);
const imageOf = (id) => `/_static/figures/fig-${id.slice(1)}.png`;
const requested = (suffix) => requests.filter((r) => new URL(r.url).pathname.endsWith(suffix));

// Wait for load and gradcam-done from every viewer of ids; a viewer's error ends the wait with its message.
async function rendered(ids) {
  await page.waitForFunction((ids) => {
    const ev = window.viewerEvents;
    return ev.some((e) => e.type === 'gradcam-error' || e.type === 'error')
      || ids.every((id) => ['load', 'gradcam-done'].every((type) => ev.some((e) => e.type === type && e.id === id)));
  }, ids, { timeout: 90000 });
  const errors = (await events()).filter((e) => e.type === 'gradcam-error' || e.type === 'error');
  assert.deepEqual(errors, [], 'a viewer failed');
}

// A rendered overlay, not a blank or single-colour canvas: many distinct colours, none transparent.
async function assertDrawn(id) {
  const s = await page.evaluate((id) => {
    const c = document.getElementById(id).shadowRoot.querySelector('canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let transparent = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (d[i + 3] === 0) transparent++;
    }
    return { colours: colours.size, transparent, width: c.width };
  }, id);
  assert.ok(s.colours >= 64 && s.transparent === 0, `${id}'s canvas looks blank: ${JSON.stringify(s)}`);
}

before(() => {
  h.need();
  const tgz = tarball();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-sphinx-'));
  const src = path.join(tmp, 'src');
  out = path.join(tmp, 'html');
  fs.cpSync(FIXTURE, src, { recursive: true });
  // The package as an author gets it (npm pack's tarball, unpacked), under _static/gradcam-wasm/.
  const pkg = path.join(src, '_static', 'gradcam-wasm');
  fs.mkdirSync(pkg, { recursive: true });
  run('tar', ['-xzf', tgz, '-C', pkg, '--strip-components=1']);
  // One image per figure (so that each viewer's fetch can be told apart): the shapes scenes in turn.
  fs.mkdirSync(path.join(src, '_static', 'figures'));
  for (const [i, id] of [...IN_VIEW, ...BELOW].entries()) {
    fs.copyFileSync(path.join(h.WEB, 'samples', SCENES[i % SCENES.length]), path.join(src, imageOf(id)));
  }
  // -W: a warning (a malformed raw block, a missing static path) fails the build.
  run(SPHINX, ['-b', 'html', '-q', '-W', src, out]);
});

after(async () => {
  await h.closeSuite({ srv, browser });
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('sphinx-build copies the package into _static and keeps the raw HTML and the module script', () => {
  const html = fs.readFileSync(path.join(out, 'figures.html'), 'utf8');
  assert.match(html, /<script type="module" src="_static\/gradcam-wasm\/grad-cam-viewer\.js"><\/script>/);
  assert.deepEqual([...html.matchAll(/<grad-cam-viewer id="(v\d)"/g)].map((m) => m[1]), [...IN_VIEW, ...BELOW]);
  for (const f of ['gradcam.js', 'worker.js', 'gradcam-engine.js', 'gradcam-engine.wasm', 'models/shapes/resnet18-shapes.safetensors']) {
    assert.ok(fs.readFileSync(path.join(out, '_static', 'gradcam-wasm', f)).equals(fs.readFileSync(path.join(NPM, f))), `${f} copied as it is`);
  }
});

test('every viewer in view renders, and the ones far below the fold fetch nothing', { timeout: 120000 }, async () => {
  srv = await h.serve(out);
  browser = await h.launch();
  requests = h.recordRequests(browser.context);
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  await page.goto(`${srv.url}figures.html`);
  // The fixture's layout is what the test assumes: four viewers in the viewport, three far below it.
  const where = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, Math.round(document.getElementById(id).getBoundingClientRect().top)])),
    [...IN_VIEW, ...BELOW]);
  const vh = await page.evaluate(() => innerHeight);
  for (const id of IN_VIEW) assert.ok(where[id] >= 0 && where[id] + 100 < vh, `${id} in view: ${JSON.stringify(where)}, viewport ${vh}`);
  for (const id of BELOW) assert.ok(where[id] > vh + 3000, `${id} far below the fold: ${JSON.stringify(where)}`);

  await rendered(IN_VIEW);
  for (const id of IN_VIEW) await assertDrawn(id);
  for (const id of IN_VIEW) assert.equal(requested(imageOf(id)).length, 1, `${id}'s image fetched once`);
  const early = BELOW.filter((id) => requested(imageOf(id)).length);
  assert.deepEqual(early, [], `viewers below the fold fetched their image before being scrolled to (loading="lazy" is the default)`);
  assert.ok(!(await events()).some((e) => BELOW.includes(e.id)), 'a viewer below the fold ran before being scrolled to');
});

test('scrolled into view, each lazy viewer fetches its image and renders; the ones further down still wait', { timeout: 120000 }, async () => {
  assert.ok(page, 'the page of the previous test');
  for (const [i, id] of BELOW.entries()) {
    await page.evaluate((id) => document.getElementById(id).scrollIntoView({ block: 'center' }), id);
    await rendered([id]);
    await assertDrawn(id);
    assert.equal(requested(imageOf(id)).length, 1, `${id}'s image fetched once`);
    const early = BELOW.slice(i + 1).filter((id) => requested(imageOf(id)).length);
    assert.deepEqual(early, [], `with ${id} in view, viewers further down fetched their image`);
  }
});

test('the whole page downloads the weights once', () => {
  assert.ok(requests, 'the page of the previous tests');
  const weights = requested('.safetensors');
  const engines = requested('.wasm').length;
  console.log(`# ${IN_VIEW.length + BELOW.length} viewers: ${weights.length} weight request(s), ${engines} engine (.wasm) request(s)`);
  assert.equal(weights.length, 1, `requests for the weights: ${JSON.stringify(weights.map((r) => `${r.method} ${new URL(r.url).pathname}`))}`);
});
