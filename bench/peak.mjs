#!/usr/bin/env node
// bench/peak.mjs [--browser] [--seconds S]: the machine's wasm SIMD arithmetic ceiling, and what it means
// for ResNet-18's forward. A hand-assembled loop (no toolchain: the bytes are below) of 12 independent
// 4-lane accumulators, enough to keep every multiply-add unit of a core busy:
//   acc_i = relaxed_madd(acc_i, y, x) = acc_i * y + x   (one fused instruction where the CPU has FMA)
// The product involves the accumulator, so no compiler can hoist it out of the loop (with x * y + acc it
// could, leaving adds alone), and an unfused mul + add would show as a longer chain, ~3/4 of this.
// Each iteration is 12 x 4 lanes x 2 = 96 flops. Prints GFLOP/s (median of 5 timed runs of
// ~S/5 seconds each), then the floor of our forward: the multiply-adds our algorithm must do for
// ResNet-18 at 224x224 (Winograd F(2x2,3x3) for the stride-1 3x3 convs, direct for the rest) at that
// peak, i.e. the time if every instruction were a multiply-add on every cycle. Figures only.
// In Node (relaxed SIMD needs V8's flag, set here); --browser runs the same in Debian's Chromium.
import { createRequire } from 'module';
import os from 'os';
import path from 'path';
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const seconds = Number(args.includes('--seconds') ? args[args.indexOf('--seconds') + 1] : 5);

// ---- the module: (func (param $n i32) (result f32)), the loop body by kind ----------------------------
function moduleBytes() {
  const X = 13, Y = 14; // locals 1..12: accumulators; 13, 14: the constant operands
  const f32 = (v) => [...new Uint8Array(new Float32Array([v]).buffer)];
  const simd = (op) => [0xfd, ...leb(op)];
  const body = [];
  body.push(0x43, ...f32(1.0001), ...simd(19), 0x21, X); // x = f32x4.splat(1.0001)
  body.push(0x43, ...f32(0.9999), ...simd(19), 0x21, Y);
  body.push(0x03, 0x40); // loop
  for (let a = 1; a <= 12; a++) {
    body.push(0x20, a, 0x20, Y, 0x20, X, ...simd(261), 0x21, a); // relaxed_madd(acc, y, x) = acc * y + x
  }
  body.push(0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b); // n -= 1; br_if n != 0; end
  body.push(0x20, 1);
  for (let a = 2; a <= 12; a++) body.push(0x20, a, ...simd(228)); // sum of the accumulators
  body.push(...simd(31), 0, 0x0b); // lane 0; end
  const code = [1, 0x0e, 0x7b, ...body]; // one local group: 14 x v128
  const sec = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...sec(1, [1, 0x60, 1, 0x7f, 1, 0x7d]), ...sec(3, [1, 0]),
    ...sec(7, [1, 3, ...Buffer.from('run'), 0, 0]),
    ...sec(10, [1, ...leb(code.length), ...code])]);
}
function leb(n) { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; }

// ---- ResNet-18 at 224x224: the multiply-adds of our forward ---------------------------------------------
function forwardMacs() {
  let direct = 0, wino = 0;
  const conv = (h, w, c, k, kh, kw) => { direct += h * w * c * k * kh * kw; };
  const winograd = (h, w, c, k) => { wino += Math.ceil(h / 2) * Math.ceil(w / 2) * 16 * c * k; };
  conv(112, 112, 3, 64, 7, 7); // stem
  let c = 64, s = 56;
  for (const [k, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    const o = s / stride;
    if (stride === 1) winograd(o, o, c, k); else { conv(o, o, c, k, 3, 3); conv(o, o, c, k, 1, 1); } // conv1, down
    winograd(o, o, k, k); winograd(o, o, k, k); winograd(o, o, k, k); // conv2, block 2's conv1 and conv2
    c = k; s = o;
  }
  direct += 512 * 1000; // fc
  return { direct, wino, total: direct + wino };
}

// ---- timing: self-contained (no outer names), so that the page runs the same function ----------------------
async function timeLoops({ mods, seconds }) {
  const out = {};
  for (const [kind, bytes] of Object.entries(mods)) {
    const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes));
    const run = instance.exports.run, now = () => performance.now();
    let n = 1 << 20;
    for (;;) { const t = now(); run(n); if (now() - t > 200) break; n *= 2; } // warm-up, sizing
    n = Math.max(1, Math.round(n * (seconds * 1000 / 5) / 200 / 2));
    const g = [];
    for (let r = 0; r < 5; r++) { const t = now(); run(n); g.push((n * 96) / ((now() - t) * 1e6)); }
    g.sort((a, b) => a - b);
    out[kind] = g[2];
  }
  return out;
}
const mods = { fma: [...moduleBytes()] };

function report(where, g) {
  const m = forwardMacs();
  console.log(`${where}: relaxed madd ${g.fma.toFixed(1)} GFLOP/s (one thread, 128-bit wasm SIMD)`);
  console.log(`ResNet-18 224x224, our forward's multiply-adds: ${(m.total / 1e9).toFixed(3)} G (Winograd ${(m.wino / 1e9).toFixed(3)} G, direct ${(m.direct / 1e9).toFixed(3)} G)`);
  console.log(`floor at the fma peak: ${((2 * m.total) / g.fma / 1e6).toFixed(1)} ms at 1 thread (transforms, loads, stores, pools: not counted)`);
}

if (!args.includes('--browser')) {
  require('v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
  report(`Node ${process.version}, ${os.cpus()[0].model}`, await timeLoops({ mods, seconds }));
} else {
  const { chromium } = require(path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules', 'playwright-core'));
  const dir = await (await import('fs/promises')).mkdtemp(path.join(os.tmpdir(), 'gc-peak-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await ctx.newPage();
  report(`Chromium ${ctx.browser()?.version() ?? ''}`, await page.evaluate(timeLoops, { mods, seconds }));
  await ctx.close();
}
