#!/usr/bin/env node
// bench/profile.js MODEL IMAGE OUT.json [--runs N] [--threads 1,2]: where the time goes, per layer, from
// the C core's own timers (GC_PROFILE: forward.c times every XNNPACK operator, cam.c every block of the
// backward pass, one JSON line each on stderr). For each thread count, a child process runs N forward +
// backward-to-the-pixels rounds after one warm-up; this takes the median of every operator. Figures only.
'use strict';
const fs = require('fs');
const { spawnSync } = require('child_process');
const { loadEngine, createContext, loadRGBA, Bench, stats } = require('./lib.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);

if (args[0] === '--child') { // --child THREADS MODEL IMAGE RUNS: the rounds, profile lines on stderr
  const [, T, model, image, runs] = args;
  loadEngine(Number(T), { gcProfile: 1 }).then((M) => {
    const b = new Bench(M, createContext(M, fs.readFileSync(model)), loadRGBA(image));
    for (let r = 0; r <= Number(runs); r++) {
      if (r === 1) process.stderr.write('--- warm-up done\n');
      b.forward();
      b.explain('input');
    }
    process.exit(0);
  });
} else {
  const [model, image, outFile] = args;
  const runs = Number(opt('--runs', 10));
  const out = {};
  for (const T of opt('--threads', '1,2').split(',').map(Number)) {
    const r = spawnSync(process.execPath, [__filename, '--child', String(T), model, image, String(runs)],
      { encoding: 'utf8', env: { ...process.env, GC_PROFILE: '1' }, maxBuffer: 1 << 26 });
    if (r.status !== 0) { console.error(`profile: ${T} threads: ${r.stderr.slice(-500)}`); process.exit(1); }
    const lines = r.stderr.split('--- warm-up done\n')[1].split('\n').filter((l) => l.startsWith('{"gc_profile"')).map((l) => JSON.parse(l));
    const agg = {};
    for (const l of lines) {
      const a = (agg[l.gc_profile] ||= { threads: l.threads, ops: {}, total: [] });
      a.total.push(l.total);
      for (const [k, v] of Object.entries(l.ms)) (a.ops[k] ||= []).push(v);
    }
    for (const a of Object.values(agg)) {
      a.total = stats(a.total).median;
      for (const k of Object.keys(a.ops)) a.ops[k] = stats(a.ops[k]).median;
    }
    out[T] = agg;
  }
  fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
}
