#!/usr/bin/env node
// bench/engines.js: the SIMD and relaxed-SIMD engines side by side under Node, runs alternating.
//
//   node bench/engines.js [--model F.safetensors] [--image PNG] [--runs N] [--threads 1,2] [--engines simd,relaxed]
//
// One bench/engine-server.js process per (engine, threads), all loaded before any timing; then one warm-up
// round and N timed rounds, each round running every server once, in an order rotated round by round, so
// that every figure saw the same minutes of this (noisy, shared) machine. Rows: forward; forward +
// backward to layer4 + CAM + overlay; forward + backward to the pixels (lib.js Bench.round). Prints the
// median (min–max) and relaxed ÷ SIMD per thread count, and the forward's CPU time (less stretched by
// other load than wall time); --json F writes every run. Figures only.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');
const { BUILD, ROOT, hasEngine, stats } = require('./lib.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const model = opt('--model', path.join(BUILD, 'web/models/shapes/resnet18-shapes.safetensors'));
const image = opt('--image', path.join(ROOT, '..', 'shared/images/both.png'));
const runs = +opt('--runs', 10);
const threadList = opt('--threads', '1,2').split(',').map(Number);
const engines = opt('--engines', 'simd,relaxed').split(',');
const jsonOut = opt('--json', '');

// A server: send one command line, get one JSON line back.
function server(engine, threads) {
  const p = spawn(process.execPath, [path.join(__dirname, 'engine-server.js'), model, image, String(threads)],
    { env: { ...process.env, GC_ENGINE: engine }, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  readline.createInterface({ input: p.stdout }).on('line', (l) => waiting.shift()?.(JSON.parse(l)));
  const next = () => new Promise((res) => waiting.push(res));
  const ask = (cmd) => { const r = next(); p.stdin.write(cmd + '\n'); return r; };
  return { engine, threads, ready: next(), ask, quit: () => p.stdin.write('quit\n') };
}

(async () => {
  for (const e of engines) for (const t of threadList)
    if (!hasEngine(e, t)) throw new Error(`no ${e} engine for ${t} thread(s) in ${BUILD}: scripts/build makes it`);
  const servers = [];
  for (const t of threadList) for (const e of engines) servers.push(server(e, t));
  for (const s of servers) {
    const r = await s.ready;
    if (r.error) throw new Error(`${s.engine} ×${s.threads}: ${r.error}`);
  }
  const rows = new Map(servers.map((s) => [s, []]));
  for (let r = 0; r <= runs; r++) {
    for (let i = 0; i < servers.length; i++) {
      const s = servers[(i + r) % servers.length];
      const o = await s.ask('round');
      if (o.error) throw new Error(`${s.engine} ×${s.threads}: ${o.error}`);
      if (r) rows.get(s).push(o); // r = 0: warm-up
    }
  }
  servers.forEach((s) => s.quit());
  console.log(`engines: ${path.basename(model)}, ${runs} runs alternating, Node ${process.version}, ${new Date().toISOString()}`);
  const med = (s, k) => stats(rows.get(s).map((o) => o[k]));
  for (const [k, label] of [['forward', 'forward'], ['forward_cpu', 'forward, CPU time (all threads)'], ['gradcam', 'Grad-CAM (layer4 + overlay)'], ['pixels', 'forward + backward to the pixels']]) {
    for (const t of threadList) {
      const line = [];
      let base = 0;
      for (const s of servers.filter((x) => x.threads === t)) {
        const st = med(s, k);
        if (s.engine === engines[0]) base = st.median;
        line.push(`${s.engine} ${st.median.toFixed(1)} ms (${st.min.toFixed(1)}–${st.max.toFixed(1)})` +
          (s.engine !== engines[0] && base ? ` ×${(st.median / base).toFixed(2)}` : ''));
      }
      console.log(`${label.padEnd(34)} ${t} thread${t > 1 ? 's' : ' '}  ${line.join('   ')}`);
    }
  }
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(servers.map((s) => ({ engine: s.engine, threads: s.threads, runs: rows.get(s) })), null, 1));
})().catch((e) => { console.error('bench/engines.js: ' + (e && e.message || e)); process.exit(1); });
