#!/usr/bin/env node
// bench/engine-server.js MODEL.safetensors IMAGE.png THREADS [LAYER]: one engine kept loaded, driven
// over stdin/stdout one JSON line at a time, so that another process (bench/torch_vs_engine.py) can
// alternate its own runs with ours: "round" → the times of one forward / Grad-CAM / pixels round (see
// lib.js Bench.round), "method NAME LAYER FLAGS" → the wall time of one explanation with that CAM method
// (bench/methods.py), "memory" → wasm heap and RSS, "quit". The first line out is {"ready": ...}.
// The engine: $GC_ENGINE, simd (default) or relaxed (lib.js loadEngine).
'use strict';
const fs = require('fs');
const readline = require('readline');
const { loadEngine, createContext, loadRGBA, Bench } = require('./lib.js');

const [model, image, threadsArg, layer = 'layer4'] = process.argv.slice(2);
const threads = Number(threadsArg || 1);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
loadEngine(threads).then((M) => {
  const t0 = performance.now();
  const j = createContext(M, fs.readFileSync(model));
  const b = new Bench(M, j, loadRGBA(image), layer);
  say({ ready: true, threads, engine: process.env.GC_ENGINE || 'simd', create_ms: performance.now() - t0, threaded_build: threads > 1 });
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'round') say(b.round());
    else if (cmd === 'memory') say(b.memory());
    else if (cmd.startsWith('method ')) { // method NAME LAYER FLAGS
      const [, name, lay, flags] = cmd.split(/\s+/);
      try { say(b.method(name, lay, Number(flags || 0))); } catch (e) { say({ error: String(e.message || e) }); }
    }
    else if (cmd === 'quit') process.exit(0);
    else say({ error: `unknown command '${cmd}'` });
  });
}).catch((e) => { say({ error: String(e && e.message || e) }); process.exit(1); });
