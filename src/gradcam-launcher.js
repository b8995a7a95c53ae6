#!/usr/bin/env node
// build/gradcam: the CLI. Runs the engine's .wasm (web/gradcam-engine*.wasm, the page's own) under Node with
// the Node flavour of the JS glue (direct file access through emscripten's NODERAWFS).
//
// --threads N (default: every core, at most 8) picks the engine: N > 1 runs the threaded one (gradcam-node-mt.js with
// web/gradcam-engine-mt.wasm, N - 1 worker threads beside this one) when it was built, N = 1 (or no
// threaded build) the single-threaded one. The C side reads --threads too and sizes its thread pool.
// Relaxed SIMD (fused multiply-add: gradcam-node-relaxed[-mt].js, web/gradcam-engine-relaxed[-mt].wasm) is
// preferred when it was built and this Node validates it; Node 20 does only with V8's
// --experimental-wasm-relaxed-simd, set here before anything compiles (it holds for the worker threads too).
// GC_ENGINE=simd or relaxed forces one (an error if that one is missing).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const here = __dirname;
const args = process.argv.slice(2);
let threads = Math.min(os.cpus().length || 1, 8); // ResNet-18 at 224x224 gains nothing past 8
for (let i = 0; i + 1 < args.length; i++) if (args[i] === '--threads') threads = Number(args[i + 1]) || 1; // C checks it
const want = process.env.GC_ENGINE || '';
if (want && want !== 'simd' && want !== 'relaxed') { console.error(`gradcam: GC_ENGINE=${want}: simd or relaxed`); process.exit(2); }
const files = (relaxed, mt) => {
  const s = (relaxed ? '-relaxed' : '') + (mt ? '-mt' : '');
  return { glue: path.join(here, `gradcam-node${s}.js`), wasm: path.join(here, 'web', `gradcam-engine${s}.wasm`) };
};
const built = (f) => fs.existsSync(f.glue) && fs.existsSync(f.wasm);
// (module (func (result v128) f32.const 0 f32x4.splat ×3 f32x4.relaxed_madd)): validates only with relaxed SIMD.
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 28, 1, 26, 0,
  67, 0, 0, 0, 0, 253, 19, 67, 0, 0, 0, 0, 253, 19, 67, 0, 0, 0, 0, 253, 19, 253, 133, 2, 11]);
const relaxedRuns = () => {
  require('v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(RELAXED_PROBE);
};
const mt = threads > 1 && built(files(want === 'relaxed', true));
const relaxed = want !== 'simd' && built(files(true, mt)) && relaxedRuns();
if (want === 'relaxed' && !relaxed) {
  console.error(`gradcam: GC_ENGINE=relaxed: ${built(files(true, mt)) ? 'this Node cannot run relaxed SIMD' : `no ${path.basename(files(true, mt).wasm)} in the build`}`);
  process.exit(2);
}
const f = files(relaxed, mt);
if (!built(f)) { console.error(`gradcam: no ${path.basename(f.glue)} + web/${path.basename(f.wasm)} in ${here} (scripts/build makes them)`); process.exit(2); }
// Standard output and error must not lose bytes. The threaded engine's worker threads make Node pipe their
// stdio through process.stdout/stderr, which switches fds 1 and 2 to non-blocking; the glue writes them with
// fs.writeSync, so a pipe whose reader is slower (`gradcam ... --json | consumer`) gave EAGAIN, and C's stdio
// dropped that buffer and went on: 51 KB of 464 KB arrived, exit status 0. Here such a write waits for the
// reader (1 ms at a time) and tries again; every other fd and error is as before.
const writeSync = fs.writeSync;
const nap = new Int32Array(new SharedArrayBuffer(4));
fs.writeSync = function (fd, ...rest) {
  for (;;) {
    try {
      return writeSync.call(fs, fd, ...rest);
    } catch (e) {
      if (e.code !== 'EAGAIN' || (fd !== 1 && fd !== 2)) throw e;
      Atomics.wait(nap, 0, 0, 1);
    }
  }
};
const createGradcam = require(f.glue);
createGradcam({
  arguments: ['--home', path.join(here, 'web'), ...args],
  gcThreads: mt ? Math.min(threads, 64) : 1,
  locateFile: (file) => (file.endsWith('.wasm') ? f.wasm : path.join(here, file)),
}).catch((e) => {
  if (e && e.name === 'ExitStatus') process.exit(e.status);
  console.error('gradcam: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
