#!/usr/bin/env node
// bench/soak-cli.mjs [--images N] [--small K] [--threads T] [--keep]: the CLI's memory over a long batch
// (issue 15). One `build/gradcam explain IMG... --out-dir D` call over N images (default 1000) and one over
// the first K of them (default 30), each under /usr/bin/time -v: a per-image leak shows as a higher peak
// RSS for the long batch. The verdict: the 1000-image peak within 5% of the 30-image one. While the long
// batch runs, the RSS is sampled (VmRSS, every 100 images, from the JSON line the CLI prints per image)
// and printed as CSV: images done, RSS in MiB.
//
// The images: the shared photos (../shared/images) copied as they are, and the PNGs among them also
// written again at other sizes (48..800 px on the long side, box-filtered here: no image tools needed),
// so the batch mixes formats and sizes; named img-0001.png etc. in a temp dir, cycled to N. Figures
// only; exit status 1 when the verdict fails. Run it alone, under nice, e.g.
//   nice -n 19 node bench/soak-cli.mjs
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../tests/browser/helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const N = Number(opt('--images', 1000)), K = Number(opt('--small', 30)), threads = String(opt('--threads', 1));
const cli = path.join(process.env.GC_BUILD || path.join(root, 'build'), 'gradcam');
const shared = path.join(path.dirname(root), 'shared', 'images');
const log = (s) => process.stderr.write(`soak-cli: ${s}\n`);
if (!fs.existsSync(cli)) throw new Error(`no ${cli}: build first`);
if (!fs.existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is needed (apt-get install time)');

// ---- images ---------------------------------------------------------------------------------------------

// 8-bit non-interlaced grey/RGB/RGBA PNGs (the shared photos): the browser tests' decoder, as RGB
function pngRGB(buf) {
  let png;
  try { png = decodePng(buf); } catch { return null; } // 16-bit or interlaced: the caller copies the file as it is
  const { width: w, height: h, channels: ch, data } = png;
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * ch + (ch < 3 ? 0 : c)];
  return { w, h, rgb };
}

function encodePng(w, h, rgb) { // RGB, filter 0
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (kind, body) => {
    const k = Buffer.from(kind, 'latin1'), len = Buffer.alloc(4), c = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    c.writeUInt32BE(crc(Buffer.concat([k, body])));
    return Buffer.concat([len, k, body, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc(h * (w * 3 + 1));
  for (let y = 0; y < h; y++) rgb.copy(raw, y * (w * 3 + 1) + 1, y * w * 3, (y + 1) * w * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function resize({ w, h, rgb }, side) { // box filter (area average), long side → side
  const s = side / Math.max(w, h), W = Math.max(1, Math.round(w * s)), H = Math.max(1, Math.round(h * s));
  const out = Buffer.alloc(W * H * 3);
  for (let Y = 0; Y < H; Y++) {
    const y0 = Math.floor(Y / s), y1 = Math.max(y0 + 1, Math.min(h, Math.floor((Y + 1) / s)));
    for (let X = 0; X < W; X++) {
      const x0 = Math.floor(X / s), x1 = Math.max(x0 + 1, Math.min(w, Math.floor((X + 1) / s)));
      for (let c = 0; c < 3; c++) {
        let sum = 0, n = 0;
        for (let y = y0; y < Math.min(y1, h); y++) for (let x = x0; x < Math.min(x1, w); x++) { sum += rgb[(y * w + x) * 3 + c]; n++; }
        out[(Y * W + X) * 3 + c] = n ? Math.round(sum / n) : 0;
      }
    }
  }
  return encodePng(W, H, out);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-soak-cli-'));
const pool = []; // [extension, bytes]
for (const f of fs.readdirSync(shared).sort()) {
  const file = path.join(shared, f), ext = path.extname(f).toLowerCase();
  if (!['.png', '.jpg', '.jpeg', '.jfif'].includes(ext)) continue;
  const bytes = fs.readFileSync(file);
  pool.push([ext === '.png' ? '.png' : '.jpg', bytes]);
  const img = ext === '.png' ? pngRGB(bytes) : null;
  if (img) for (const side of [48, 160, 224, 333, 512, 800]) pool.push(['.png', resize(img, side)]);
}
if (!pool.length) throw new Error(`no images in ${shared}`);
const files = [];
for (let i = 0; i < N; i++) {
  const [ext, bytes] = pool[i % pool.length];
  const f = path.join(dir, 'in', `img-${String(i).padStart(4, '0')}${ext}`);
  if (!i) fs.mkdirSync(path.dirname(f));
  fs.writeFileSync(f, bytes);
  files.push(f);
}
log(`${N} images (${pool.length} distinct: the shared photos and ${pool.length - fs.readdirSync(shared).filter((f) => /\.(png|jpe?g|jfif)$/i.test(f)).length} resized) in ${dir}`);

// ---- runs -----------------------------------------------------------------------------------------------

const rssOf = (pid) => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch { return NaN; }
};
const childOf = (pid) => {
  try { return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]) || null; } catch { return null; }
};

// One CLI call over `list` → {maxRssMiB, seconds, curve: [[images done, RSS MiB]], explained}
function run(list, every) {
  const out = path.join(dir, `out-${list.length}`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out);
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn('/usr/bin/time', ['-v', process.execPath, cli, 'explain', ...list, '--out-dir', out, '--json', '--threads', threads],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '', err = '', done = 0;
    const curve = [];
    p.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        done++;
        if (every && done % every === 0) {
          curve.push([done, rssOf(childOf(p.pid))]);
          if (done % (every * 2) === 0) log(`${done}/${list.length} images, RSS ${curve.at(-1)[1].toFixed(1)} MiB`);
        }
      }
    });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => {
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`gradcam explain (${list.length} images) exited ${code}: ${err.split('\n').filter((l) => !/^\t/.test(l)).join(' ').slice(0, 400)}`));
      fs.rmSync(out, { recursive: true, force: true });
      resolve({ maxRssMiB: Number(m[1]) / 1024, seconds: (Date.now() - t0) / 1000, curve, explained: done });
    });
  });
}

try {
  const small = await run(files.slice(0, K), 0);
  log(`${K} images: peak RSS ${small.maxRssMiB.toFixed(1)} MiB, ${small.seconds.toFixed(0)} s`);
  const big = await run(files, 100);
  log(`${N} images: peak RSS ${big.maxRssMiB.toFixed(1)} MiB, ${big.seconds.toFixed(0)} s`);
  console.log('images_done,rss_mib');
  for (const [n, r] of big.curve) console.log(`${n},${r.toFixed(1)}`);
  const ratio = big.maxRssMiB / small.maxRssMiB;
  const ok = big.explained === N && small.explained === K && ratio <= 1.05;
  console.log(`peak RSS: ${K} images ${small.maxRssMiB.toFixed(1)} MiB, ${N} images ${big.maxRssMiB.toFixed(1)} MiB ` +
    `(×${ratio.toFixed(3)}; threads ${threads}; ${(big.seconds / N * 1000).toFixed(0)} ms per image)`);
  console.log(`verdict: ${ok ? 'PASS' : 'FAIL'} — ${big.explained}/${N} and ${small.explained}/${K} explained, ` +
    `the long batch's peak ${ratio <= 1.05 ? 'within' : 'NOT within'} 5% of the short one's`);
  process.exitCode = ok ? 0 : 1;
} finally {
  if (!args.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
}
