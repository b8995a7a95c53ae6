// hostile-page.test.mjs: the hostile weight files (hostile.py) given to the page's API, createGradCam({model}),
// in the browser GC_BROWSER names: .pth files go through pth.js on the main thread, safetensors through
// the engine's parser in the worker. Each must be refused with one line that says why, and the page must
// still load a good model afterwards. Times are printed, not asserted; peak memory is measured for the
// same code under Node and the CLI (tests/test_hostile_files.py).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as h from '../../browser/helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const COMPRESSED = /is compressed \(method 8\); torch\.save writes stored entries only/;
const EXPECT = {
  'huge-shape.pth': /w: 1099511627776 elements, more than 1073741824 supported/,
  'expanded.pth': /w: 268435456 elements would take the output to 1024 MiB/,
  'huge-shape.safetensors': /w: data_offsets \[0,4398046511104\] run past the 8-byte data section/,
  'header-length.safetensors': /header length 9223372036854775807 exceeds the file size/,
  'zip-bomb-storage.pth': COMPRESSED,
  'zip-bomb-pickle.pth': COMPRESSED,
  'deep-lists.pth': /it makes more than 524288 objects/,
  'deep-tuples.pth': /unknown persistent id in the pickle/,
  'deep-nest.safetensors': /safetensors header: expected '\{' at byte/,
  'many-tensors.pth': /data\.pkl is \d+ bytes, more than 16777216 supported/,
  '70k-tensors.pth': /the pickle builds more than 32768 tensors/,
  'many-tensors.safetensors': /more than 65536 tensors/,
  'many-entries.pth': /the zip archive lists 200000 entries, more than 131072 supported/,
  'memo-bomb.pth': /not a state dict \(the file holds an empty dict\)/,
  'bytes-bomb.pth': /opcode 0x8e at byte 9 is not one torch\.save emits/,
};

let site, suite, page;
const rows = [];

before(async () => {
  site = h.makeSite();
  const r = spawnSync(h.PYTHON, [path.join(HERE, 'hostile.py'), path.join(site.dir, 'hostile')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hostile.py failed: ${r.stderr}`);
  fs.writeFileSync(path.join(site.dir, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>hostile weights</title>');
  suite = await h.openSuite(site.dir);
  page = suite.page;
  await page.goto(`${suite.srv.url}blank.html`);
}, { timeout: 180000 });

after(async () => {
  console.log(['| file | page says | time |', '|---|---|---|', ...rows].join('\n'));
  await h.closeSuite(suite);
  site?.cleanup();
});

// createGradCam on one URL: {message} when refused, {ok} when it loaded, and how long either took.
const load = (url) => page.evaluate(async (u) => {
  const g = await import('./gradcam.js');
  const t = performance.now();
  try {
    const gc = await g.createGradCam({ model: u, threads: 1 });
    gc.dispose();
    return { ok: true, ms: performance.now() - t };
  } catch (e) {
    return { message: String(e && e.message), ms: performance.now() - t };
  }
}, url);

for (const [name, re] of Object.entries(EXPECT)) {
  test(`${name}: refused by the page with one line`, { timeout: 120000 }, async () => {
    const r = await load(`hostile/${name}`);
    rows.push(`| ${name} | ${r.ok ? 'LOADED' : r.message} | ${(r.ms / 1000).toFixed(2)} s |`);
    assert.ok(!r.ok, `${name} was loaded`);
    assert.ok(!r.message.includes('\n'), r.message);
    assert.match(r.message, re);
  });
}

test('the page still loads a good model afterwards', { timeout: 120000 }, async () => {
  const r = await load('models/test/seeded.safetensors');
  assert.ok(r.ok, r.message);
});
