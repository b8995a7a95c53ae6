// pth-fuzz.test.mjs: web/pth.js against every input a fuzzer once broke it with (tests/fuzz/pth/regress,
// replayed through the fuzzer's own oracle), and 10 s of fuzz.mjs from a fixed seed. The long runs are by
// hand (tests/fuzz/pth/README.md); the hostile-file table is tests/test_hostile_files.py.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { judge } from './fuzz.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { pthToSafetensors } = await import(path.join(HERE, '../../../web/pth.js'));

test("the oracle can fail: pth.js's wrapped bugs, multi-line errors and bad output are findings", () => {
  const input = new Uint8Array(4);
  assert.equal(judge(() => { throw new Error('one line of ours'); }, input), undefined);
  assert.match(judge(() => { throw new Error('cannot read the .pth file: x', { cause: new TypeError('x') }); }, input), /^crash: TypeError/);
  assert.match(judge(() => { throw new Error('two\nlines'); }, input), /^crash: bad message/);
  assert.match(judge(() => new Uint8Array(16), input), /^output:/);
});

const regress = fs.readdirSync(path.join(HERE, 'regress')).sort();
test('there are regression inputs', () => assert.ok(regress.length > 0));
for (const f of regress) {
  test(`regress/${f}: refused with one of pth.js's own one-line errors, or converted well`, () => {
    assert.equal(judge(pthToSafetensors, new Uint8Array(fs.readFileSync(path.join(HERE, 'regress', f)))), undefined);
  });
}

test('fuzz.mjs: 10 s from a fixed seed finds nothing', { timeout: 120_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-fuzz-pth-'));
  try {
    const r = spawnSync(process.execPath, [path.join(HERE, 'fuzz.mjs'), '--seconds', '10', '--seed', '1',
      '--corpus', path.join(dir, 'corpus'), '--out', path.join(dir, 'out')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /pth\.js fuzz: \d+ executions/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
