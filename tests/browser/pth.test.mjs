// pth.test.mjs: web/pth.js (the browser's .pth reader) against models/convert on the same files:
// byte-identical safetensors for what both accept, the same refusals for what they must not load.
// Runs in Node (pth.js has no browser dependency); the checkpoints are made here with torch.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

const { pthToSafetensors } = await import(path.join(h.ROOT, 'web', 'pth.js'));
let dir;

const MAKE = String.raw`
import io, os, pickle, sys, zipfile, torch
d = sys.argv[1]
g = torch.Generator().manual_seed(0)
r = lambda *s: torch.randn(*s, generator=g)
# dtypes, strides, offsets, shared storage, a wrapper dict, the counter that is dropped
base = r(6, 8)
torch.save({'state_dict': {'t': r(3, 4).t(), 'h': r(5).half(), 'bf': r(2, 3).bfloat16(), 'd': r(4).double(),
            'slice': base[::2, 1:5], 'view': base[1], 'scalar': torch.tensor(2.5), 'empty': torch.zeros(0, 3),
            'bn.num_batches_tracked': torch.tensor(7)}, 'step': 3, 'lr': 0.1, 'ok': True, 'name': 'x'},
           os.path.join(d, 'mixed.pth'))
torch.save(torch.nn.Linear(3, 2).state_dict(keep_vars=True), os.path.join(d, 'params.pth'))
torch.save({'w': torch.arange(6)}, os.path.join(d, 'ints.pth'))
torch.save([r(2)], os.path.join(d, 'list.pth'))
# a pickle that would run os.system: both readers must refuse it without running anything
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + os.path.join(d, 'PWNED'),))
with zipfile.ZipFile(os.path.join(d, 'evil.pth'), 'w', zipfile.ZIP_STORED) as z:
    z.writestr('evil/data.pkl', pickle.dumps({'w': Evil()}, protocol=2))
# a compressed archive (not what torch.save writes)
src = zipfile.ZipFile(os.path.join(d, 'params.pth'))
with zipfile.ZipFile(os.path.join(d, 'deflated.pth'), 'w', zipfile.ZIP_DEFLATED) as z:
    for n in src.namelist():
        z.writestr(n, src.read(n))
with open(os.path.join(d, 'legacy.pth'), 'wb') as f:
    torch.save({'w': r(2)}, f, _use_new_zipfile_serialization=False)
`;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-pth-'));
  const r = spawnSync(h.PYTHON, ['-c', MAKE, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the checkpoints failed: ${r.stderr}`);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function convert(name) {
  const out = path.join(dir, `${name}.safetensors`);
  const r = spawnSync(h.PYTHON, [path.join(h.ROOT, 'models', 'convert'), path.join(dir, name), out], { encoding: 'utf8' });
  return r.status === 0 ? { bytes: fs.readFileSync(out) } : { error: r.stderr.trim() };
}

for (const name of ['mixed.pth', 'params.pth']) {
  test(`${name}: the same bytes as models/convert`, () => {
    const ref = convert(name);
    assert.ok(ref.bytes, ref.error);
    const js = pthToSafetensors(fs.readFileSync(path.join(dir, name)));
    assert.equal(Buffer.compare(Buffer.from(js), ref.bytes), 0);
  });
}

for (const [name, re] of [['ints.pth', /I64 tensor; only floating-point/], ['list.pth', /not a state dict/],
  ['evil.pth', /refers to (posix|os)\.system, which is not allowed/], ['legacy.pth', /legacy \(non-zip\)/]]) {
  test(`${name} is refused with one line, as models/convert refuses it`, () => {
    assert.ok(convert(name).error, 'models/convert refuses it too');
    assert.throws(() => pthToSafetensors(fs.readFileSync(path.join(dir, name))), (e) => re.test(e.message) && !e.message.includes('\n'));
    assert.ok(!fs.existsSync(path.join(dir, 'PWNED')), 'nothing in the file ran');
  });
}

// The one deliberate difference: Python's zipfile inflates deflated entries, pth.js does not carry
// an inflater and says so (torch.save itself never compresses).
test('a deflated archive is refused with a clear message', () => {
  assert.throws(() => pthToSafetensors(fs.readFileSync(path.join(dir, 'deflated.pth'))), /is compressed \(method 8\); torch\.save writes stored entries only/);
});

test('truncated checkpoints are refused, never half-read', () => {
  const b = fs.readFileSync(path.join(dir, 'mixed.pth'));
  for (const n of [0, 3, 100, b.length >> 1, b.length - 10]) {
    assert.throws(() => pthToSafetensors(b.subarray(0, n)), /truncated|corrupt|not a torch checkpoint/);
  }
});
