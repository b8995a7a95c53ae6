#!/usr/bin/env node
// bench/report.mjs OUT_DIR: merge the parts bench/run wrote into OUT_DIR (browser.json, torch.json,
// profile.json, rss.json, heap.json, meta.json, page.txt) into OUT_DIR/results.json and print the table. Every
// row pairs our figure with its peer measured in the same run (same page / same alternation), as medians
// with min–max; a ratio and, where an issue sets one, the target: issue #6's for ResNet-18, issue 16's for
// the rest of the family (forward ≤ 0.6× ORT Web's, peak wasm heap ≤ 400 MB with an F16 file for ResNet-50).
// Figures only: nothing is asserted.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const read = (f) => { try { return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { return null; } };
const meta = read('meta.json') || {};
const br = read('browser.json');
const tv = read('torch.json');
const prof = read('profile.json');
const rss = read('rss.json');
const heap = read('heap.json');
const N = meta.threads || 2;
const arch = meta.arch || 'resnet18';
const archName = arch.replace(/^resnet(\d+)$/, 'ResNet-$1').replace(/^wide_resnet(\d+)_2$/, 'Wide ResNet-$1-2');
const r18 = arch === 'resnet18';
const T_ORT = r18 ? 0.8 : 0.6; // ours / ORT Web forward
// peak wasm heap at 224x224: ResNet-18 160 MB (issue #6), ResNet-50 400 MB with an F16 file (issue 16), else none
const T_HEAP = r18 ? 160 : arch === 'resnet50' ? 400 : null;

const st = (xs) => {
  if (!xs || !xs.length) return null;
  const s = [...xs].sort((a, b) => a - b), n = s.length;
  return { median: n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, min: s[0], max: s[n - 1], n, runs: xs };
};
const rows = [];
const lines0 = []; // notes printed under the header
// one row: ours vs a peer (both per-run arrays from the same run), ratio = ours / peer (medians)
function row(group, label, ours, peer, peerName, target, note) {
  const o = st(ours), p = st(peer);
  const ratio = o && p ? o.median / p.median : null;
  let met = null;
  if (ratio != null && target) met = target.op === '<=' ? ratio <= target.v : ratio >= target.v;
  rows.push({ group, label, ours: o, peer: p, peer_name: peerName, ratio, target: target ? `${target.op} ${target.v}` : null, met, note });
}
const col = (rounds, name, key = 'ms') => (rounds || []).map((r) => r[name] && r[name][key]).filter((x) => x != null);
const le = (v) => ({ op: '<=', v }), ge = (v) => ({ op: '>=', v });

if (br && br.rounds && br.rounds.length) {
  const g = `Browser: headless Chromium ${br.chromium}, cross-origin isolated: ${br.cross_origin_isolated}; forward, same page, engines alternating`;
  for (const T of [1, N]) {
    row(g, `forward, ${T} thread${T > 1 ? 's' : ''}: ours vs ORT Web ${br.ort_version} (wasm SIMD)`, col(br.rounds, `ours-${T}`), col(br.rounds, `ort-${T}`), `ORT Web ${T}t`, le(T_ORT),
      'both: worker-side time of one call; ours from RGBA pixels (incl. normalise), ORT from the float tensor');
  }
  const tops = (name) => [...new Set(col(br.rounds, name, 'top'))].join(',');
  lines0.push(`browser top-1 class (same model on both sides): ours ${tops('ours-1')} / ${tops(`ours-${N}`)}, ORT Web ${tops('ort-1')} / ${tops(`ort-${N}`)}`);
  row(g, `speed-up ${N} threads vs 1: ours (forward)`, col(br.rounds, 'ours-1'), col(br.rounds, `ours-${N}`), `ours ${N}t`, ge(1.7), 'ratio = 1-thread / N-thread time');
  row(g, `speed-up ${N} threads vs 1: ORT Web (forward)`, col(br.rounds, 'ort-1'), col(br.rounds, `ort-${N}`), `ORT ${N}t`, null, 'for comparison');
  for (const T of [1, N]) {
    const e = br.explain && br.explain[`ours-${T}`];
    if (!e) continue;
    const g2 = `Browser: our engine alone, ${T} thread${T > 1 ? 's' : ''} (forward measured in the same runs)`;
    row(g2, `Grad-CAM layer4 end to end (forward + backward + CAM + overlay) vs forward`, e.layer4, e.forward, 'our forward', le(1.15));
    row(g2, `forward + backward to the pixels vs forward`, e.input, e.forward, 'our forward', le(2.5));
  }
}
if (tv) {
  for (const T of Object.keys(tv.torch).map(Number)) {
    const o = tv.engine[T], t = tv.torch[T];
    const g = `Node ${meta.node || ''} (the CLI's engine, model loaded once) vs PyTorch ${tv.torch_version} CPU (BLAS: ${tv.blas || '?'}), ${T} thread${T > 1 ? 's' : ''}, alternating`;
    row(g, 'forward (uint8 image → logits)', o.forward, t.forward, `PyTorch ${T}t (no_grad)`, null);
    row(g, 'Grad-CAM layer4 + overlay: ours vs pytorch-grad-cam method', o.gradcam, t.gradcam, `PyTorch ${T}t hooks`, le(0.7),
      'PyTorch: hooks + backward of the logit (autograd also forms every weight gradient, as pytorch-grad-cam does) + CAM + cv2.resize + show_cam_on_image');
    row(g, 'forward + backward to the pixels', o.pixels, t.pixels, `PyTorch ${T}t`, null);
    if (T === 1 && o.gradcam_cpu && t.gradcam_cpu) { // CPU time: what the load on a shared machine stretches least
      row(g, 'CPU time: forward', o.forward_cpu, t.forward_cpu, 'PyTorch 1t CPU', null);
      row(g, 'CPU time: Grad-CAM layer4 + overlay vs pytorch-grad-cam method', o.gradcam_cpu, t.gradcam_cpu, 'PyTorch 1t CPU', le(0.7));
    }
    row(g, 'ours: Grad-CAM layer4 vs our forward', o.gradcam, o.forward, 'our forward', le(1.15));
    row(g, 'ours: backward to the pixels (+ forward) vs our forward', o.pixels, o.forward, 'our forward', le(2.5));
  }
  const Ts = Object.keys(tv.engine).map(Number).sort((a, b) => a - b);
  if (Ts.length > 1) {
    const [a, b] = [Ts[0], Ts[Ts.length - 1]];
    const g = `Node: speed-up ${b} threads vs ${a} (ratio = ${a}-thread / ${b}-thread time)`;
    for (const k of ['forward', 'gradcam', 'pixels']) row(g, `ours: ${k}`, tv.engine[a][k], tv.engine[b][k], `ours ${b}t`, ge(1.7));
    row(g, 'ours: backward to the pixels alone (engine timer)', tv.engine[a].pixels_backward, tv.engine[b].pixels_backward, `ours ${b}t`, ge(1.7));
    row(g, 'PyTorch: forward', tv.torch[a].forward, tv.torch[b].forward, `PyTorch ${b}t`, null);
  }
}

// ---- print ----------------------------------------------------------------------------------------------
const f = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fs_ = (s) => (s ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : '—');
const lines = [];
lines.push(`gradcam-wasm benchmark, ${meta.started || '?'} → ${meta.finished || '?'}; training run (train.py) during it: ${meta.training || '?'}`);
lines.push(`${meta.cpus || '?'} × ${meta.cpu || '?'}; medians of ${meta.runs || '?'} runs after warm-up, ms (min–max); model: seeded torchvision ${archName} (1000 classes), input 224×224; our engine: ${meta.engine || 'simd'}`);
if (meta.load) lines.push(`load average (1, 5, 15 min): ${meta.load}`);
lines.push(...lines0);
let last = '';
for (const r of rows) {
  if (r.group !== last) { lines.push('', r.group); last = r.group; }
  const verdict = r.met == null ? '' : r.met ? '  ✓' : '  ✗';
  const speed = r.label.startsWith('speed-up') || r.group.includes('speed-up');
  const ratio = r.ratio == null ? '—' : speed ? `${(r.ratio).toFixed(2)}×` : `${r.ratio.toFixed(2)}×`;
  lines.push(`  ${r.label}`);
  lines.push(`      ours ${fs_(r.ours).padEnd(24)} ${(r.peer_name || '').padEnd(22)} ${fs_(r.peer).padEnd(24)} ratio ${ratio}${r.target ? `  (target ${r.target})` : ''}${verdict}`);
}
// memory
const mem = {};
if (br && br.memory) for (const [k, v] of Object.entries(br.memory)) if (v.wasm_heap) mem[`browser ${k} wasm heap`] = v.wasm_heap;
if (tv && tv.memory) {
  for (const [k, v] of Object.entries(tv.memory)) if (v && v.wasm_heap) { mem[`node ${k} wasm heap`] = v.wasm_heap; mem[`node ${k} max RSS`] = v.max_rss; }
  if (tv.memory.torch_max_rss) mem['PyTorch process max RSS'] = tv.memory.torch_max_rss;
}
if (rss) for (const [k, v] of Object.entries(rss)) mem[k] = v;
lines.push('', `Memory (peak wasm heap = HEAPU8.length after the runs; memory only grows)${T_HEAP ? ` — target: wasm heap ≤ ${T_HEAP} MB` : ''}; the file: F32`);
for (const [k, v] of Object.entries(mem)) {
  const verdict = T_HEAP && /wasm heap/.test(k) ? (v <= T_HEAP * 1048576 ? '  ✓' : '  ✗') : '';
  lines.push(`  ${k.padEnd(56)} ${(v / 1048576).toFixed(0).padStart(6)} MB${verdict}`);
}
if (heap && heap.rows) {
  const { table } = await import('./heap.js');
  lines.push('', `bench/heap.js: a fresh engine per row${T_HEAP ? `; target: peak ≤ ${T_HEAP} MB with the F16 file at 224×224` : ''}`);
  lines.push(...table(heap.rows, heap.meta).map((l) => `  ${l}`));
}
if (br && br.cold) {
  const mb = br.model_bytes ? (br.model_bytes / 1e6).toFixed(0) : '47'; // older browser.json: the ResNet-18's
  lines.push('', `Cold start, fresh browser profile: navigation → first heatmap (engine + .wasm + worker pool + ${mb} MB model from localhost, forward, backward to layer4, CAM, overlay)`);
  for (const [k, v] of Object.entries(br.cold)) lines.push(`  ${k.padEnd(10)} ${v.error ? v.error : `${f(v.first_heatmap_ms)} ms`}`);
}
const page = fs.existsSync(path.join(dir, 'page.txt')) ? fs.readFileSync(path.join(dir, 'page.txt'), 'utf8') : null;
if (page) lines.push('', 'The page itself (tests/browser/bench.mjs, the web engineer\'s):', ...page.trim().split('\n').map((l) => `  ${l}`));
if (prof) {
  lines.push('', 'Profile (C core timers, GC_PROFILE=1, Node): median ms per operator' + Object.keys(prof).map((t) => `, ${t} thread(s)`).join(''));
  const Ts = Object.keys(prof);
  for (const pass of ['forward', 'backward']) {
    const names = Object.keys((prof[Ts[0]][pass] || {}).ops || {});
    const agg = {}; // forward: group by block to keep the table short
    for (const n of names) {
      const key = pass === 'forward' ? n.replace(/\.(conv1|conv2|downsample|add|relu)$/, (m, op) => (op === 'add' || op === 'relu' ? '.add+relu' : `.${op}`)) : n;
      agg[key] ||= Ts.map(() => 0);
      Ts.forEach((t, i) => { agg[key][i] += (prof[t][pass].ops[n] || 0); });
    }
    lines.push(`  ${pass}: ${'operator'.padEnd(24)} ${Ts.map((t) => `${t}t`.padStart(8)).join('')}   speed-up`);
    for (const [k, v] of Object.entries(agg)) lines.push(`  ${''.padEnd(pass.length + 1)} ${k.padEnd(24)} ${v.map((x) => x.toFixed(2).padStart(8)).join('')}   ${v[0] && v[v.length - 1] ? (v[0] / v[v.length - 1]).toFixed(2) : '—'}`);
    lines.push(`  ${''.padEnd(pass.length + 1)} ${'total'.padEnd(24)} ${Ts.map((t) => (prof[t][pass] ? prof[t][pass].total : 0).toFixed(1).padStart(8)).join('')}`);
  }
}
if (br && br.errors && br.errors.length) lines.push('', `browser errors: ${br.errors.join(' | ')}`);
console.log(lines.join('\n'));
fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ meta, rows, memory: mem, heap, cold: br && br.cold, profile: prof, page_output: page, raw: { browser: br, torch: tv } }, null, 1));
console.log(`\nwrote ${path.join(dir, 'results.json')}`);
