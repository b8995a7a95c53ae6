#!/usr/bin/env node
// build/gradcam: the CLI. Runs the engine's .wasm (web/gradcam-engine.wasm, the page's own) under Node with
// the Node flavour of the JS glue (direct file access through emscripten's NODERAWFS).
//
// --threads N (default: every core, at most 8) picks the engine: N > 1 runs the threaded one (gradcam-node-mt.js with
// web/gradcam-engine-mt.wasm, N - 1 worker threads beside this one) when it was built, N = 1 (or no
// threaded build) the single-threaded one. The C side reads --threads too and sizes its thread pool.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const here = __dirname;
const args = process.argv.slice(2);
let threads = Math.min(os.cpus().length || 1, 8); // ResNet-18 at 224x224 gains nothing past 8
for (let i = 0; i + 1 < args.length; i++) if (args[i] === '--threads') threads = Number(args[i + 1]) || 1; // C checks it
const mt = threads > 1 && fs.existsSync(path.join(here, 'gradcam-node-mt.js')) &&
  fs.existsSync(path.join(here, 'web', 'gradcam-engine-mt.wasm'));
const createGradcam = require(path.join(here, mt ? 'gradcam-node-mt.js' : 'gradcam-node.js'));
const wasm = path.join(here, 'web', mt ? 'gradcam-engine-mt.wasm' : 'gradcam-engine.wasm');
createGradcam({
  arguments: ['--home', path.join(here, 'web'), ...args],
  gcThreads: mt ? Math.min(threads, 64) : 1,
  locateFile: (file) => (file.endsWith('.wasm') ? wasm : path.join(here, file)),
}).catch((e) => {
  if (e && e.name === 'ExitStatus') process.exit(e.status);
  console.error('gradcam: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
