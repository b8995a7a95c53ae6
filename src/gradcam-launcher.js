#!/usr/bin/env node
// build/gradcam: the CLI. Runs the engine's .wasm (web/gradcam-engine.wasm, the page's own) under Node with
// the Node flavour of the JS glue (direct file access through emscripten's NODERAWFS).
'use strict';
const path = require('path');
const here = __dirname;
const createGradcam = require(path.join(here, 'gradcam-node.js'));
createGradcam({
  arguments: ['--home', path.join(here, 'web'), ...process.argv.slice(2)],
  locateFile: (file) => (file.endsWith('.wasm') ? path.join(here, 'web', 'gradcam-engine.wasm') : path.join(here, file)),
}).catch((e) => {
  if (e && e.name === 'ExitStatus') process.exit(e.status);
  console.error('gradcam: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
