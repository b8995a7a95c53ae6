#!/usr/bin/env node
// fuzz.mjs: coverage-guided mutation fuzzing of web/pth.js (the page's .pth reader) in Node.
//
//   node tests/fuzz/pth/fuzz.mjs [--seconds 600] [--seed N] [--corpus DIR] [--out DIR]
//   node tests/fuzz/pth/fuzz.mjs --replay FILE...      (one line per file; exit 1 on a finding)
//
// Jazzer.js does not run here (4.0's prebuilt addon needs glibc 2.38, Debian 12 has 2.36; 2.1 fetches
// its addon from GitHub), so this is its own loop. Coverage comes from V8's block coverage through the
// inspector (Profiler.takePreciseCoverage): a mutant that reaches a new block of pth.js joins the
// queue. Mutants are run 32 at a time between coverage samples (a sample costs ~1 ms, a run ~50 us);
// a batch with new blocks is re-run one by one to find which mutant reached them.
// Findings (written to OUT/crashes, exit status 1):
//   crash  an exception that is not one of pth.js's own one-line errors (those are Errors without a
//          `cause`; pth.js wraps anything unexpected with the original as the cause)
//   output a returned file that is not well-formed F32 safetensors, or larger than pth.js's budget
//   hang   one input running longer than --hang-ms (default 2000): the worker is stopped from outside
//   memory the process's RSS above --max-rss-mb (default 1024)
// The corpus (tests/out/fuzz-pth/corpus) is made by make_corpus.py with Debian's torch if missing.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { mutate, pickleOps, rng, unzip } from './mutate.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const PTH = path.join(ROOT, 'web', 'pth.js');
const MAX_INPUT = 1 << 20;

// The oracle: undefined when pth.js behaved, else a one-line description of what went wrong.
export function judge(pthToSafetensors, input) {
  let out;
  try {
    out = pthToSafetensors(input);
  } catch (e) {
    if (!(e instanceof Error)) return `crash: threw a non-Error ${String(e).slice(0, 80)}`;
    if (e.cause !== undefined) return `crash: ${e.cause?.constructor?.name}: ${String(e.cause?.message).split('\n')[0]} @ ${topFrame(e.cause)}`;
    if (!e.message || e.message.includes('\n') || e.message.length > 400) return `crash: bad message ${JSON.stringify(e.message.slice(0, 80))}`;
    return undefined;
  }
  return checkSafetensors(out, input.length);
}

function topFrame(e) {
  const m = String(e?.stack).split('\n').find((l) => l.includes('pth.js'));
  return m ? m.trim().replace(/.*\/(pth\.js:\d+).*/, '$1') : 'unknown';
}

function checkSafetensors(out, inputSize) {
  if (!(out instanceof Uint8Array) || out.length < 8) return 'output: not a Uint8Array of 8+ bytes';
  if (out.length > 8 * inputSize + 2 ** 24 + 2 ** 24) return `output: ${out.length} bytes from ${inputSize}`;
  const n = Number(new DataView(out.buffer, out.byteOffset).getBigUint64(0, true));
  if (n % 8 || 8 + n > out.length) return 'output: bad header length';
  let h;
  try { h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(out.subarray(8, 8 + n))); } catch (e) { return `output: header is not JSON (${e.message})`; }
  let off = 0;
  for (const [k, t] of Object.entries(h)) {
    if (k === '__metadata__') continue;
    const numel = t.shape.reduce((a, x) => a * x, 1);
    if (t.dtype !== 'F32' || t.data_offsets[0] !== off || t.data_offsets[1] !== off + numel * 4) return `output: bad entry ${k.slice(0, 40)}`;
    off += numel * 4;
  }
  if (8 + n + off !== out.length) return 'output: data section size';
  return undefined;
}

const key = (msg) => msg.replace(/".*"/, '"..."').replace(/\d+/g, 'N'); // one crash file per kind of finding
const sha = (b) => crypto.createHash('sha1').update(b).digest('hex').slice(0, 12);

function args() {
  const a = process.argv.slice(2), o = { seconds: 600, seed: Date.now() % 1e9, hangMs: 2000, maxRssMb: 1024, replay: null,
    corpus: path.join(ROOT, 'tests/out/fuzz-pth/corpus'), out: path.join(ROOT, 'tests/out/fuzz-pth/node') };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--replay') { o.replay = a.slice(i + 1); break; }
    const k = a[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (!(k in o)) { console.error(`fuzz.mjs: unknown option ${a[i]}`); process.exit(2); }
    o[k] = typeof o[k] === 'number' ? Number(a[++i]) : a[++i];
  }
  return o;
}

// ---- worker: the loop ----

async function worker() {
  const { corpusFiles, seed, deadline, shared } = workerData;
  const ctrl = new Int32Array(shared, 0, 2), cur = new Uint8Array(shared, 8);
  const session = new inspector.Session();
  session.connect();
  const post = (m, p) => { let r, err; session.post(m, p, (e, x) => { err = e; r = x; }); if (err) throw err; return r; };
  post('Profiler.enable');
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const { pthToSafetensors } = await import(PTH);
  const src = fs.readFileSync(PTH, 'utf8');
  const seen = new Set(), known = new Set(), covered = new Uint8Array(src.length);
  const r = rng(seed);
  // New block ranges of pth.js covered since the last sample; marks covered bytes (innermost range wins).
  const sample = () => {
    const s = post('Profiler.takePreciseCoverage').result.find((x) => x.url.endsWith('/web/pth.js'));
    const fresh = [];
    for (const f of s?.functions || []) {
      for (const g of f.ranges) {
        const k = `${g.startOffset}:${g.endOffset}`;
        known.add(k);
        if (g.count > 0 && !seen.has(k)) fresh.push(k);
      }
    }
    if (fresh.length) {
      const tmp = new Int8Array(src.length).fill(-1);
      for (const f of s.functions) for (const g of f.ranges) tmp.fill(g.count > 0 ? 1 : 0, g.startOffset, g.endOffset);
      for (let i = 0; i < src.length; i++) if (tmp[i] === 1) covered[i] = 1;
    }
    return fresh;
  };
  const queue = corpusFiles.map((f) => new Uint8Array(fs.readFileSync(f)));
  const ops = [];
  for (const q of queue) {
    const pkl = unzip(q)?.find((e) => new TextDecoder().decode(e.name).endsWith('data.pkl'));
    if (pkl) for (const o of pickleOps(pkl.data)) ops.push(pkl.data.slice(o.start, o.end));
  }
  const run = (input) => {
    cur.set(input.subarray(0, MAX_INPUT));
    Atomics.store(ctrl, 1, Math.min(input.length, MAX_INPUT));
    const bad = judge(pthToSafetensors, input);
    Atomics.add(ctrl, 0, 1);
    if (bad) parentPort.postMessage({ finding: bad, input });
  };
  for (const q of queue) { run(q); for (const k of sample()) seen.add(k); }
  let execs = 0, lastReport = 0;
  while (Date.now() < deadline) {
    const batch = [];
    for (let k = 0; k < 32; k++) {
      let m = r.pick(queue);
      for (let s = 1 + r(4); s > 0; s--) m = mutate(m, r, queue, ops);
      if (m.length > MAX_INPUT) m = m.subarray(0, MAX_INPUT);
      batch.push(m);
      run(m);
    }
    execs += batch.length;
    const fresh = sample();
    if (fresh.length) {
      for (const m of batch) {
        run(m);
        const mine = sample();
        if (mine.length) { for (const k of mine) seen.add(k); queue.push(m); }
      }
      for (const k of fresh) seen.add(k); // a block no single re-run reached again must not re-trigger this
    }
    if (Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      parentPort.postMessage({ stats: { execs, blocks: seen.size, known: known.size, queue: queue.length, coveredLines: lines(src, covered) } });
      execs = 0;
    }
  }
  parentPort.postMessage({ stats: { execs, blocks: seen.size, known: known.size, queue: queue.length, coveredLines: lines(src, covered) }, done: true });
}

// [lines with covered code, lines with code]: a line counts as code if it has a non-blank, non-comment byte
function lines(src, covered) {
  let code = 0, hit = 0, p = 0;
  for (const l of src.split('\n')) {
    const t = l.trim();
    if (t && !t.startsWith('//') && t !== '}' && t !== '};') {
      code++;
      const i = p + l.indexOf(t[0]);
      if (covered[i] || covered[i + 1]) hit++;
    }
    p += l.length + 1;
  }
  return [hit, code];
}

// ---- main thread: the supervisor ----

async function main() {
  const o = args();
  if (o.replay) {
    const { pthToSafetensors } = await import(PTH);
    let bad = 0;
    for (const f of o.replay) {
      const msg = judge(pthToSafetensors, new Uint8Array(fs.readFileSync(f)));
      console.log(`${path.basename(f)}: ${msg || 'ok'}`);
      if (msg) bad++;
    }
    process.exit(bad ? 1 : 0);
  }
  if (!fs.existsSync(o.corpus)) {
    const p = spawnSync('/usr/bin/python3', [path.join(HERE, 'make_corpus.py'), o.corpus], { stdio: 'inherit' });
    if (p.status !== 0) process.exit(2);
  }
  const corpusFiles = fs.readdirSync(o.corpus).sort().map((f) => path.join(o.corpus, f));
  const crashDir = path.join(o.out, 'crashes');
  fs.mkdirSync(crashDir, { recursive: true });
  const deadline = Date.now() + o.seconds * 1000, findings = new Map();
  let total = 0, last = {}, restarts = 0, maxRss = 0;
  const found = (msg, input) => {
    const k = key(msg);
    if (findings.has(k)) { findings.get(k).count++; return; }
    const file = path.join(crashDir, `${msg.split(':')[0]}-${sha(input)}.pth`);
    fs.writeFileSync(file, input);
    findings.set(k, { msg, file, count: 1 });
    console.log(`FINDING ${msg} -> ${path.relative(ROOT, file)}`);
  };
  let seed = o.seed;
  while (Date.now() < deadline - 500) {
    const shared = new SharedArrayBuffer(8 + MAX_INPUT), ctrl = new Int32Array(shared, 0, 2);
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { corpusFiles, seed: seed++, deadline, shared }, resourceLimits: { maxOldGenerationSizeMb: 512 } });
    const current = () => new Uint8Array(shared, 8, Atomics.load(ctrl, 1)).slice();
    const outcome = await new Promise((resolve) => {
      let beat = -1, since = Date.now();
      const timer = setInterval(() => {
        const n = Atomics.load(ctrl, 0), rss = process.memoryUsage.rss();
        maxRss = Math.max(maxRss, rss);
        if (n !== beat) { beat = n; since = Date.now(); }
        if (Date.now() - since > o.hangMs) { found(`hang: no result within ${o.hangMs} ms`, current()); w.terminate(); }
        else if (rss > o.maxRssMb * 2 ** 20) { found(`memory: RSS ${Math.round(rss / 2 ** 20)} MiB`, current()); w.terminate(); }
      }, 100);
      w.on('message', (m) => {
        if (m.finding) found(m.finding, m.input);
        if (m.stats) { total += m.stats.execs; last = m.stats; }
      });
      w.on('error', (e) => { found(`crash: worker died: ${e.code || e.message}`, current()); });
      w.on('exit', (code) => { clearInterval(timer); resolve(code); });
    });
    if (Date.now() < deadline - 500) { restarts++; if (outcome === 0 && !findings.size) break; }
  }
  const [hit, code] = last.coveredLines || [0, 0];
  console.log(`pth.js fuzz: ${total} executions in ${o.seconds} s (${Math.round(total / o.seconds)}/s), ` +
    `${last.blocks} of ${last.known} V8 blocks reached, ${hit}/${code} lines of pth.js (${(100 * hit / code).toFixed(1)}%), ` +
    `queue ${last.queue}, worker restarts ${restarts}, peak RSS ${Math.round(maxRss / 2 ** 20)} MiB, ${findings.size} distinct findings`);
  for (const f of findings.values()) console.log(`  ${f.count}x ${f.msg}  (${path.relative(ROOT, f.file)})`);
  process.exit(findings.size ? 1 : 0);
}

if (!isMainThread) await worker();
else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(); // not when imported
