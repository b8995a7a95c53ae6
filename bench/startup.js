#!/usr/bin/env node
// bench/startup.js [--runs N] [--models shapes,seeded] [--threads 1,2] [--cli]: where the time before
// the first heatmap goes, under Node (the CLI's path). Figures only.
// Each run is a fresh Node process (nothing warm but the OS file cache), configurations alternating:
//   boot       process start → this script running (Node itself)
//   engine     loading the glue + compiling and instantiating the .wasm (+ starting the thread pool's
//              workers for the threaded engine)
//   read       reading the weights file
//   create     gc_js_create, split by the engine's own GC_PROFILE timers into threads (the pool), weights
//              (parse, check, F16 → F32, BatchNorm fold, OHWI; one conv per pool task), operators (XNNPACK
//              creation — weight packing — and the Winograd weight transforms, one operator per pool task)
//   first      the first classify (reshape: the activation arena and XNNPACK's reshapes, then a forward
//              run by V8's baseline compiler), and second: the next one (what every later image costs)
// --builds DIR1,DIR2 compares build folders (e.g. this tree's build/ and an older commit's), alternating.
// --cli also times the real CLI: `build/gradcam classify` on 1 image and on 10 (the same image), wall
// clock; start-up overhead = t(1) - (t(10) - t(1)) / 9, the issue 13 figure.
//   node bench/startup.js --runs 7 --cli
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, BUILD, stats } = require('./lib.js');

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const MODELS = {
  shapes: path.join(BUILD, 'web/models/shapes/resnet18-shapes.safetensors'),
  seeded: process.env.GC_SEEDED || path.join(require('os').tmpdir(), 'gradcam-bench-models', 'seeded.safetensors'),
};
const IMAGE = path.join(ROOT, 'web/samples/shapes-1.png');

if (args[0] === '--child') { // --child THREADS MODEL: one start-up, a JSON line on stdout
  const boot = performance.now();
  const [, T, model] = args;
  const { loadEngine, createContext, loadRGBA, Bench } = require('./lib.js');
  loadEngine(Number(T)).then((M) => { // the engine's GC_PROFILE lines go to stderr: the parent reads them
    const t1 = performance.now();
    const w = fs.readFileSync(model);
    const t2 = performance.now();
    const j = createContext(M, w);
    const t3 = performance.now();
    const b = new Bench(M, j, loadRGBA(IMAGE));
    const t4 = performance.now();
    b.forward();
    const t5 = performance.now();
    b.forward();
    const t6 = performance.now();
    process.stdout.write(`${JSON.stringify({ boot, engine: t1 - boot, read: t2 - t1, create: t3 - t2, first: t5 - t4, second: t6 - t5, total: t5 })}\n`);
    process.exit(0);
  });
  return;
}

const runs = Number(opt('--runs', 5));
const models = opt('--models', 'shapes,seeded').split(',').filter((m) => fs.existsSync(MODELS[m]));
const threads = opt('--threads', '1,2').split(',').map(Number);
if (models.length === 0) throw new Error(`no model: ${JSON.stringify(MODELS)} (the seeded one: bench/run makes it, or GC_SEEDED=FILE)`);
const builds = opt('--builds', BUILD).split(',').map((b) => path.resolve(b));
const name = (b) => (builds.length > 1 ? `${path.basename(path.dirname(b))}/${path.basename(b)} ` : '');
const configs = builds.flatMap((b) => models.flatMap((m) => threads.map((t) => [b, m, t])));
const res = new Map(configs.map(([b, m, t]) => [`${name(b)}${m} ${t}`, []]));
for (let r = 0; r < runs; r++) {
  for (const [b, m, t] of r % 2 ? [...configs].reverse() : configs) {
    const p = spawnSync(process.execPath, [__filename, '--child', String(t), MODELS[m]], { encoding: 'utf8', env: { ...process.env, GC_PROFILE: '1', GC_BUILD: b } });
    if (p.status !== 0) throw new Error(`child failed: ${p.stderr}`);
    const profile = p.stderr.split('\n').filter((l) => l.startsWith('{"gc_profile"')).map((l) => JSON.parse(l));
    const create = profile.find((x) => x.gc_profile === 'create')?.ms || {};
    res.get(`${name(b)}${m} ${t}`).push({
      ...JSON.parse(p.stdout.trim().split('\n').pop()),
      ...Object.fromEntries(Object.entries(create).map(([k, v]) => [`create.${k}`, v])),
      reshape: profile.find((x) => x.gc_profile === 'reshape')?.total ?? null,
    });
  }
}
const cols = ['boot', 'engine', 'read', 'create', 'create.threads', 'create.weights', 'create.operators', 'create.winograd', 'first', 'reshape', 'second', 'total'];
console.log(`Node ${process.version}, ${runs} runs per row, medians (ms); ${new Date().toISOString()}`);
console.log(`| model threads | ${cols.join(' | ')} |`);
console.log(`|---|${cols.map(() => '---').join('|')}|`);
for (const [k, v] of res) {
  console.log(`| ${k} | ${cols.map((c) => { const xs = v.map((x) => x[c]).filter((x) => typeof x === 'number'); return xs.length ? stats(xs).median.toFixed(1) : '–'; }).join(' | ')} |`);
}

if (args.includes('--cli')) {
  const wall = (b, n, t) => {
    const cli = path.join(b, 'gradcam');
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [cli, 'classify', ...Array(n).fill(IMAGE), '--threads', String(t)], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(p.stderr);
    return performance.now() - t0;
  };
  console.log('\nCLI (build/gradcam classify, the shapes model), wall ms, medians:');
  console.log('| build threads | 1 image | 10 images | per image | start-up overhead |');
  console.log('|---|---|---|---|---|');
  const cfg = builds.flatMap((b) => threads.map((t) => [b, t]));
  const w = new Map(cfg.map((c) => [c.join(' '), { one: [], ten: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const [b, t] of r % 2 ? [...cfg].reverse() : cfg) {
      w.get(`${b} ${t}`).one.push(wall(b, 1, t));
      w.get(`${b} ${t}`).ten.push(wall(b, 10, t));
    }
  }
  for (const [b, t] of cfg) {
    const { one, ten } = w.get(`${b} ${t}`);
    const a = stats(one).median, c = stats(ten).median, per = (c - a) / 9;
    console.log(`| ${name(b)}${t} | ${a.toFixed(0)} | ${c.toFixed(0)} | ${per.toFixed(0)} | ${(a - per).toFixed(0)} |`);
  }
}
