// mutate.mjs: structure-aware mutations of torch.save zip files for fuzz.mjs. A third of the time the
// bytes are mutated blindly (bit flips, inserts, deletes, splices); otherwise the zip is taken apart,
// one entry (usually data.pkl, at the pickle-opcode level) or one header field is changed, and the zip
// is written back with correct sizes and CRCs, so that the mutant gets past the container checks.
import zlib from 'node:zlib';

// A tiny seeded PRNG (xorshift32): runs are reproducible from --seed.
export function rng(seed) {
  let s = seed >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  const r = (n) => (n <= 0 ? 0 : next() % n);
  r.pick = (a) => a[r(a.length)];
  return r;
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff,
  0x80000000, 0xfffffffe, 0xffffffff];
// Opcodes pth.js knows, and some it must refuse; tokens torch pickles are made of.
const OPS = [0x80, 0x95, 0x2e, 0x28, 0x7d, 0x5d, 0x29, 0x64, 0x6c, 0x74, 0x85, 0x86, 0x87, 0x4e, 0x88, 0x89,
  0x4b, 0x4d, 0x4a, 0x8a, 0x47, 0x58, 0x8c, 0x8d, 0x55, 0x54, 0x43, 0x42, 0x71, 0x72, 0x94, 0x68, 0x6a,
  0x63, 0x93, 0x52, 0x51, 0x62, 0x73, 0x75, 0x61, 0x65, 0x30, 0x31, 0x32, 0x81, 0x69, 0x6f, 0x8e, 0x96];
const TOKENS = ['storage', 'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage',
  'torch', 'torch._utils', '_rebuild_tensor_v2', '_rebuild_parameter', 'collections', 'OrderedDict',
  'cpu', 'state_dict', 'model', 'num_batches_tracked', '0', '1', 'os', 'system', 'fuzz_sentinel', 'boom',
  'builtins', 'eval', '__import__', '\n'];

// Argument sizes: [fixed, counted-length width, lines]
function argOf(op) {
  switch (op) {
    case 0x80: case 0x4b: case 0x71: case 0x68: return [1, 0, 0];
    case 0x4d: return [2, 0, 0];
    case 0x4a: case 0x72: case 0x6a: return [4, 0, 0];
    case 0x95: case 0x47: return [8, 0, 0];
    case 0x8a: case 0x8c: case 0x55: case 0x43: return [0, 1, 0];
    case 0x58: case 0x54: case 0x42: case 0x8b: return [0, 4, 0];
    case 0x8d: case 0x8e: case 0x96: return [0, 8, 0];
    case 0x63: case 0x69: return [0, 0, 2];
    case 0x49: case 0x4c: case 0x46: case 0x53: case 0x56: case 0x50: case 0x70: case 0x67: return [0, 0, 1];
    default: return [0, 0, 0];
  }
}

// Opcode boundaries of a pickle: [{start, end}], stopping where it stops making sense.
export function pickleOps(b) {
  const ops = [];
  let p = 0;
  while (p < b.length && ops.length < 100000) {
    const start = p, [fixed, counted, lines] = argOf(b[p++]);
    p += fixed;
    if (counted) {
      let n = 0;
      for (let i = counted - 1; i >= 0; i--) n = n * 256 + (b[p + i] ?? 0);
      p += counted + n;
    }
    for (let i = 0; i < lines; i++) { const e = b.indexOf(10, p); p = e < 0 ? b.length : e + 1; }
    if (p > b.length) break;
    ops.push({ start, end: p });
  }
  return ops;
}

function le(n, width) {
  const o = new Uint8Array(width);
  for (let i = 0; i < width; i++) { o[i] = n % 256; n = Math.floor(n / 256); }
  return o;
}
const cat = (...parts) => { const o = new Uint8Array(parts.reduce((a, x) => a + x.length, 0)); let p = 0; for (const x of parts) { o.set(x, p); p += x.length; } return o; };
const enc = (s) => new TextEncoder().encode(s);

function pickleOp(r, corpusOps) {
  const op = r.pick(OPS), [fixed, counted, lines] = argOf(op);
  if (corpusOps.length && r(2)) return r.pick(corpusOps);
  if (fixed) return cat([op], le(r(3) ? r.pick(INTERESTING) : r(256), fixed));
  if (counted) { const s = enc(r.pick(TOKENS)); return cat([op], le(r(8) ? s.length : r.pick(INTERESTING), counted), s); }
  if (lines === 2) return cat([op], enc(`${r.pick(TOKENS)}\n${r.pick(TOKENS)}\n`));
  if (lines) return cat([op], enc(`${r.pick(TOKENS)}\n`));
  return new Uint8Array([op]);
}

export function mutatePickle(b, r, corpusOps = []) {
  const ops = pickleOps(b);
  if (!ops.length) return mutateBytes(b, r, []);
  const i = r(ops.length), o = ops[i], j = ops[r(ops.length)];
  const head = b.subarray(0, o.start), body = b.subarray(o.start, o.end), tail = b.subarray(o.end);
  switch (r(8)) {
    case 0: return cat(head, tail);                                     // drop an opcode
    case 1: return cat(head, body, body, tail);                          // repeat one
    case 2: return cat(head, pickleOp(r, corpusOps), body, tail);        // insert one
    case 3: return cat(head, b.subarray(j.start, j.end), tail);          // replace with another
    case 4: { const x = body.slice(); x[0] = r.pick(OPS); return cat(head, x, tail); } // change the opcode
    case 5: {                                                            // an interesting argument
      const x = body.slice();
      if (x.length > 1) { const w = Math.min(x.length - 1, r.pick([1, 2, 4, 8])), k = 1 + r(x.length - w); x.set(le(r.pick(INTERESTING), w), k); }
      return cat(head, x, tail);
    }
    case 6: {                                                            // nest: many marks / lists
      const n = r.pick([2, 16, 1000, 20000]);
      return cat(head, new Uint8Array(n).fill(r.pick([0x28, 0x5d, 0x7d, 0x29])), body, tail);
    }
    default: return mutateBytes(b, r, []);
  }
}

export function mutateBytes(b, r, others) {
  const x = b.slice(), n = x.length, p = r(n + 1);
  switch (r(9)) {
    case 0: if (n) x[r(n)] ^= 1 << r(8); return x;
    case 1: if (n) x[r(n)] = r.pick(INTERESTING) & 255; return x;
    case 2: if (n >= 4) x.set(le(r.pick(INTERESTING), 4), r(n - 3)); return x;
    case 3: return cat(x.subarray(0, p), Uint8Array.from({ length: 1 + r(16) }, () => r(256)), x.subarray(p));
    case 4: return cat(x.subarray(0, p), x.subarray(p + 1 + r(32)));
    case 5: { const q = r(n + 1); return cat(x.subarray(0, p), x.subarray(Math.min(p, q), Math.max(p, q)), x.subarray(p)); }
    case 6: { if (!others.length) return x; const o = r.pick(others), q = r(o.length); return cat(x.subarray(0, p), o.subarray(q, q + r(256)), x.subarray(p)); }
    case 7: return x.subarray(0, p);
    default: for (let k = 0; k < 8 && n; k++) x[r(n)] = r(256); return x;
  }
}

// ---- zip ----

export function unzip(b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength), entries = [];
  let p = 0;
  while (p + 30 <= b.length && dv.getUint32(p, true) === 0x04034b50) {
    const method = dv.getUint16(p + 8, true), size = dv.getUint32(p + 18, true);
    const nlen = dv.getUint16(p + 26, true), xlen = dv.getUint16(p + 28, true);
    const start = p + 30 + nlen + xlen;
    if (start + size > b.length) return null;
    entries.push({ name: b.slice(p + 30, p + 30 + nlen), data: b.slice(start, start + size), method });
    p = start + size;
  }
  return entries.length ? entries : null;
}

// Stored (or deflated, when method is 8) entries with correct sizes and CRCs; fields may be overridden.
export function zip(entries, over = {}) {
  const locals = [], central = [];
  let off = 0;
  for (const [i, e] of entries.entries()) {
    const o = over[i] || {}, data = e.method === 8 && !o.raw ? zlib.deflateRawSync(e.data) : e.data;
    const h = new DataView(new ArrayBuffer(46));
    const fields = { method: e.method, crc: zlib.crc32(e.data), csize: data.length, usize: e.data.length, local: off, ...o };
    h.setUint32(0, 0x02014b50, true); h.setUint16(4, 20, true); h.setUint16(6, 20, true);
    h.setUint16(10, fields.method, true); h.setUint32(16, fields.crc >>> 0, true);
    h.setUint32(20, fields.csize >>> 0, true); h.setUint32(24, fields.usize >>> 0, true);
    h.setUint16(28, e.name.length, true); h.setUint32(42, fields.local >>> 0, true);
    const l = new DataView(new ArrayBuffer(30));
    l.setUint32(0, 0x04034b50, true); l.setUint16(4, 20, true); l.setUint16(8, fields.method, true);
    l.setUint32(14, fields.crc >>> 0, true); l.setUint32(18, fields.csize >>> 0, true);
    l.setUint32(22, fields.usize >>> 0, true); l.setUint16(26, e.name.length, true);
    locals.push(new Uint8Array(l.buffer), e.name, data);
    central.push(new Uint8Array(h.buffer), e.name);
    off += 30 + e.name.length + data.length;
  }
  const cd = cat(...central), end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, over.count ?? entries.length, true); end.setUint16(10, over.count ?? entries.length, true);
  end.setUint32(12, cd.length, true); end.setUint32(16, over.cdOff ?? off, true);
  return cat(...locals, cd, new Uint8Array(end.buffer));
}

const FIELDS = ['method', 'crc', 'csize', 'usize', 'local'];

// One mutant of b; others: the rest of the corpus (for splices), ops: pickle opcodes seen in it.
export function mutate(b, r, others, ops) {
  const entries = r(3) ? unzip(b) : null;
  if (!entries) return mutateBytes(b, r, others);
  const i = r(entries.length), e = entries[i];
  const isPkl = new TextDecoder().decode(e.name).endsWith('data.pkl');
  switch (r(isPkl ? 4 : 6)) {
    case 0: case 1: {                                                    // the entry's content
      let d = e.data;
      for (let k = 1 + r(3); k > 0; k--) d = isPkl && r(4) ? mutatePickle(d, r, ops) : mutateBytes(d, r, others);
      entries[i] = { ...e, data: d };
      return zip(entries);
    }
    case 2: return zip(entries, { [i]: { [r.pick(FIELDS)]: r.pick(INTERESTING) } }); // one header field
    case 3: {                                                            // entries: drop, repeat, rename, deflate
      const k = r(4);
      if (k === 0) entries.splice(i, 1);
      else if (k === 1) entries.splice(i, 0, e);
      else if (k === 2) entries[i] = { ...e, name: mutateBytes(e.name, r, []) };
      else entries[i] = { ...e, method: 8 };
      return entries.length ? zip(entries, r(8) ? {} : { count: r.pick(INTERESTING) & 0xffff }) : b;
    }
    default: { const d = mutateBytes(e.data, r, others); entries[i] = { ...e, data: d }; return zip(entries); }
  }
}
