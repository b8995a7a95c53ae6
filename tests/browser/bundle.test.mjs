// bundle.test.mjs: the npm package as an app developer uses it. The packed tarball (build/npm/, made by
// scripts/npm-package) is npm-installed into a temporary copy of fixtures/bundle-app, whose app.js imports
// both entry points ('gradcam-wasm/viewer' and 'gradcam-wasm'); esbuild bundles it; the files the
// package README says must sit beside the bundle are put there by running the README's own commands;
// then, served, the viewer renders from the bundle and the API classifies a scene as the CLI does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import * as h from './helpers.mjs';

const FIXTURE = path.join(h.ROOT, 'tests', 'browser', 'fixtures', 'bundle-app');
const NPM = path.join(h.ROOT, 'build', 'npm');
// The page's files, which the package must not carry.
const PAGE = /^(index\.html|embed\.html|embed\.js|app\.js|sw\.js|style\.css|[\w-]+-ui\.js|samples\/.*)$/;

let tmp, app, dist, pkg, tgz, build, srv, browser, page;

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
};

// The shell block of the package README that follows its "files beside the bundle" marker.
function besideTheBundle(readme) {
  const m = /<!-- files beside the bundle[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('the package README has no "files beside the bundle" block');
  return m[1];
}

before(async () => {
  h.need();
  const meta = path.join(NPM, 'package.json');
  if (!fs.existsSync(meta)) throw new Error('missing: build/npm/package.json (run scripts/npm-package)');
  tgz = path.join(NPM, `gradcam-wasm-${JSON.parse(fs.readFileSync(meta, 'utf8')).version}.tgz`);
  if (!fs.existsSync(tgz)) throw new Error(`missing: ${path.relative(h.ROOT, tgz)} (run scripts/npm-package)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-bundle-'));
  app = path.join(tmp, 'app');
  dist = path.join(app, 'dist');
  fs.cpSync(FIXTURE, app, { recursive: true });
  // A local tarball with no dependencies: nothing is fetched from the registry.
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tgz], {
    cwd: app, env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  pkg = path.join(app, 'node_modules', 'gradcam-wasm');
  build = await esbuild.build({
    entryPoints: [path.join(app, 'app.js')], bundle: true, format: 'esm', outfile: path.join(dist, 'app.js'),
    absWorkingDir: app, logLevel: 'silent', metafile: true,
  });
  fs.copyFileSync(path.join(app, 'index.html'), path.join(dist, 'index.html'));
  fs.copyFileSync(h.SHAPES_IMAGE, path.join(dist, 'scene.png'));
  run('bash', ['-euo', 'pipefail', '-c', besideTheBundle(fs.readFileSync(path.join(pkg, 'README.md'), 'utf8'))], { cwd: app });
});

after(async () => {
  await h.closeSuite({ srv, browser });
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball: package.json as npm expects, the engines and the model, not the page', () => {
  const files = run('tar', ['-tzf', tgz]).trim().split('\n');
  assert.ok(files.every((f) => f.startsWith('package/') && !f.includes('..')), `paths: ${files.join(' ')}`);
  const rel = files.map((f) => f.slice('package/'.length));
  assert.deepEqual(rel.filter((f) => PAGE.test(f)), [], 'page files in the package');
  for (const f of ['package.json', 'README.md', 'gradcam.js', 'load.js', 'grad-cam-viewer.js', 'worker.js', 'pth.js', 'gradcam-engine.js',
    'gradcam-engine.wasm', 'models/shapes/resnet18-shapes.safetensors', 'models/shapes/labels.txt']) assert.ok(rel.includes(f), `${f} packed`);
  if (rel.includes('gradcam-engine-mt.js')) {
    for (const f of ['gradcam-engine-mt.wasm', 'gradcam-engine-mt.worker.js']) assert.ok(rel.includes(f), `${f} packed with the threaded engine`);
  }
  const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  assert.equal(meta.name, 'gradcam-wasm');
  assert.match(meta.version, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
  assert.equal(path.basename(tgz), `gradcam-wasm-${meta.version}.tgz`);
  assert.equal(meta.type, 'module');
  assert.equal(meta.exports['.'], './gradcam.js');
  assert.equal(meta.exports['./viewer'], './grad-cam-viewer.js');
  for (const target of Object.values(meta.exports).filter((t) => t !== './custom-elements.json')) { // that one: the next test
    assert.ok(fs.existsSync(path.join(pkg, target)), `exports target ${target} installed`);
  }
  assert.ok(meta.sideEffects.includes('./grad-cam-viewer.js'), 'the viewer module is marked as having side effects (it defines the element)');
  assert.ok(meta.license && meta.description && meta.keywords.length, 'license, description, keywords');
});

test('the tarball carries the Custom Elements Manifest that package.json names', () => {
  const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  assert.equal(meta.customElements, 'custom-elements.json');
  assert.ok(fs.existsSync(path.join(pkg, meta.customElements)), 'custom-elements.json packed (scripts/npm-package copies web/custom-elements.json)');
  const cem = JSON.parse(fs.readFileSync(path.join(pkg, meta.customElements), 'utf8'));
  assert.ok(JSON.stringify(cem).includes('"grad-cam-viewer"'), 'the manifest describes <grad-cam-viewer>');
});

test('esbuild leaves the assets to the README: after its commands, every file the bundle names sits beside it', () => {
  // esbuild emits the bundle alone: the worker, engines and model stay where import.meta.url points.
  assert.deepEqual(Object.keys(build.metafile.outputs).map((f) => path.basename(f)), ['app.js']);
  const bundle = fs.readFileSync(path.join(dist, 'app.js'), 'utf8');
  assert.match(bundle, /new URL\([^)]*import\.meta\.url\)/, 'the bundle finds its files relative to itself');
  // Every string in the bundle that names a file of the package must now be in dist/.
  const named = new Set([...bundle.matchAll(/["'`](?:\.\/)?([\w-]+(?:\/[\w.-]+)*\.(?:js|wasm|txt|safetensors))["'`]/g)]
    .map((m) => m[1]).filter((f) => fs.existsSync(path.join(pkg, f))));
  for (const f of ['worker.js', 'gradcam-engine.js']) assert.ok(named.has(f), `the bundle names ${f}`);
  // Files the engines' glue loads in turn (the .wasm, the threaded engine's worker).
  for (const f of fs.readdirSync(pkg).filter((f) => /^gradcam-engine/.test(f))) named.add(f);
  const missing = [...named].filter((f) => !fs.existsSync(path.join(dist, f)));
  assert.deepEqual(missing, [], 'files the bundle needs that the README does not copy');
});

test('served, the viewer renders from the bundle and the API classifies the scene as the CLI does', { timeout: 120000 }, async () => {
  const ref = h.cliTop(h.SHAPES_IMAGE, h.SHAPES_MODEL)[0];
  srv = await h.serve(dist);
  browser = await h.launch();
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => (window.apiResult || window.apiError)
    && window.viewerEvents.some((e) => e.type === 'gradcam-done' || e.type === 'gradcam-error' || e.type === 'error'), null, { timeout: 90000 });
  const { apiResult, apiError, viewerEvents } = await page.evaluate(() => ({ apiResult: window.apiResult, apiError: window.apiError, viewerEvents: window.viewerEvents }));
  assert.equal(apiError, undefined, 'the API failed');
  assert.equal(apiResult[0].index, ref.index, `the API's top-1: ${JSON.stringify(apiResult[0])}, the CLI's ${JSON.stringify(ref)}`);
  assert.ok(Math.abs(apiResult[0].prob - ref.prob) < 1e-5);
  const done = viewerEvents.find((e) => e.type === 'gradcam-done');
  assert.ok(done, `the viewer failed: ${JSON.stringify(viewerEvents)}`);
  assert.equal(done.top.index, ref.index, "the viewer's top-1");
  const s = await page.evaluate(() => {
    const c = document.getElementById('viewer').shadowRoot.querySelector('canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    for (let i = 0; i < d.length; i += 28) if (d[i + 3]) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return colours.size;
  });
  assert.ok(s >= 64, `the viewer's canvas looks blank (${s} colours)`);
});
