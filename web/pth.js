// pth.js: a torch.save()d state dict (.pth, torch's zip format) → safetensors bytes, in the browser.
//
//   import { pthToSafetensors, isZip } from './pth.js';
//   const st = pthToSafetensors(new Uint8Array(await file.arrayBuffer()));   // Uint8Array, or throws
//
// The JavaScript twin of models/convert (read that for the reference behaviour): the checkpoint's
// data.pkl is run by a tiny pickle VM that knows only the opcodes torch.save emits and only the
// globals a state dict needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, torch.*Storage); anything else is refused, so nothing in the file gets to run.
// Names are kept in order, every floating-point tensor (F32, F16, F64, BF16) is written as F32, as
// models/convert does without --f16 (so the two give byte-identical files),
// num_batches_tracked counters are dropped, and {"state_dict": ...} / {"model": ...} wrappers are
// unwrapped. Errors are thrown as Error with one line of text.

const STORAGES = {
  FloatStorage: 'F32', HalfStorage: 'F16', DoubleStorage: 'F64', BFloat16Storage: 'BF16',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8',
  ByteStorage: 'U8', BoolStorage: 'BOOL',
};
const SIZES = { F32: 4, F16: 2, F64: 8, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_NUMEL = 2 ** 30;
// Limits for files from strangers (tests/fuzz/pth/hostile.py makes one file per limit). Real checkpoints
// are far inside them: ResNet-152 has ~1000 tensors, a 7B LLM ~300, data.pkl is tens of KB.
const MAX_ENTRIES = 2 ** 17;     // zip entries: each costs a Map slot before anything else is checked
const MAX_TENSORS = 2 ** 15;     // _rebuild_tensor_v2 calls in data.pkl
const MAX_DIMS = 64;             // torch's own limit
const MAX_PICKLE = 2 ** 24;      // bytes of data.pkl (16 MiB)
// Objects the pickle makes (dicts, lists, tuples, memo entries, calls: ~9 per tensor) and values on its
// stack: a 16 MiB data.pkl of one-byte opcodes could otherwise ask for gigabytes of JS objects.
const MAX_OBJECTS = 2 ** 19;
const MAX_STACK = 2 ** 20;
const OBJECT_OPS = new Uint8Array(256);
for (const op of [0x7d, 0x5d, 0x29, 0x64, 0x6c, 0x74, 0x85, 0x86, 0x87, 0x71, 0x72, 0x94, 0x52, 0x51]) OBJECT_OPS[op] = 1;
// The safetensors we write may outgrow the file only by F16/BF16 widening and storages shared by
// several tensors; zero strides (expand()) are what could blow 4 bytes up to gigabytes.
const outputBudget = (fileSize) => 8 * fileSize + 2 ** 24;

class PthError extends Error {}
const bad = (msg) => { throw new PthError(msg); };
// Names quoted from the file: a crafted one may be megabytes long.
const clip = (s, n = 60) => { s = String(s); return s.length > n ? `${s.slice(0, n - 3)}...` : s; };

export function isZip(bytes) {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

// ---- zip (stored entries only: torch.save never compresses) ----------------------------------------

function readZip(b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) bad('truncated or corrupt zip archive (no end of central directory)');
  let count = dv.getUint16(eocd + 10, true);
  let cdOff = dv.getUint32(eocd + 16, true);
  if (cdOff === 0xffffffff || count === 0xffff) {
    // zip64: torch writes it for archives over 4 GiB; the locator sits just before the EOCD.
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) bad('corrupt zip64 archive');
    const z = Number(dv.getBigUint64(loc + 8, true));
    if (z + 56 > b.length || dv.getUint32(z, true) !== 0x06064b50) bad('corrupt zip64 archive');
    count = Number(dv.getBigUint64(z + 32, true));
    cdOff = Number(dv.getBigUint64(z + 48, true));
  }
  if (count > MAX_ENTRIES) bad(`the zip archive lists ${count} entries, more than ${MAX_ENTRIES} supported`);
  const entries = new Map();
  let p = cdOff;
  for (let i = 0; i < count; i++) {
    if (p + 46 > b.length || dv.getUint32(p, true) !== 0x02014b50) bad('truncated or corrupt zip archive (central directory)');
    const method = dv.getUint16(p + 10, true);
    let size = dv.getUint32(p + 20, true), usize = dv.getUint32(p + 24, true);
    const nlen = dv.getUint16(p + 28, true), xlen = dv.getUint16(p + 30, true), clen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    if (p + 46 + nlen + xlen + clen > b.length) bad('truncated or corrupt zip archive (central directory)');
    const name = new TextDecoder().decode(b.subarray(p + 46, p + 46 + nlen));
    // zip64 extra field (id 1): the 0xffffffff fields, in order usize, size, local offset
    for (let x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
      const id = dv.getUint16(x, true), len = dv.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        const u64 = () => { if (q + 8 > Math.min(x + 4 + len, b.length)) bad('corrupt zip64 extra field'); q += 8; return Number(dv.getBigUint64(q - 8, true)); };
        if (usize === 0xffffffff) usize = u64();
        if (size === 0xffffffff) size = u64();
        if (local === 0xffffffff) local = u64();
      }
      x += 4 + len;
    }
    entries.set(name, { method, size, usize, local });
    p += 46 + nlen + xlen + clen;
  }
  return {
    names: [...entries.keys()],
    has: (n) => entries.has(n),
    read(n) {
      const e = entries.get(n);
      if (!e) return null;
      if (e.method !== 0) bad(`zip entry ${clip(n)} is compressed (method ${e.method}); torch.save writes stored entries only — re-save the file with torch.save`);
      if (e.local + 30 > b.length || dv.getUint32(e.local, true) !== 0x04034b50) bad(`truncated or corrupt zip archive (entry ${clip(n)})`);
      const start = e.local + 30 + dv.getUint16(e.local + 26, true) + dv.getUint16(e.local + 28, true);
      if (start + e.size > b.length) bad(`truncated zip archive (entry ${clip(n)} is cut short)`);
      return b.subarray(start, start + e.size);
    },
  };
}

// ---- the restricted unpickler -----------------------------------------------------------------------

const MARK = Symbol('mark');
class Global { constructor(name) { this.name = name; } }
class StorageType { constructor(dtype) { this.dtype = dtype; } }
class Storage { constructor(dtype, key) { this.dtype = dtype; this.key = key; } }
class Tensor { constructor(storage, offset, size, stride) { Object.assign(this, { storage, offset, size, stride }); } }
class Dict extends Map {} // OrderedDict and {} alike: insertion order is what matters

function findClass(module, name) {
  if (module === 'collections' && name === 'OrderedDict') return new Global('OrderedDict');
  if (module === 'torch._utils' && (name === '_rebuild_tensor_v2' || name === '_rebuild_parameter')) return new Global(name);
  if (module === 'torch' && STORAGES[name]) return new StorageType(STORAGES[name]);
  bad(`the pickle refers to ${clip(`${module}.${name}`, 100)}, which is not allowed (only tensors and OrderedDict can be loaded)`);
}

const isInts = (x) => Array.isArray(x) && x.every((v) => Number.isInteger(v) && v >= 0);

function call(fn, args, counts) {
  if (!(fn instanceof Global) || !Array.isArray(args)) bad('the pickle calls something that is not allowed');
  if (fn.name === 'OrderedDict') {
    const d = new Dict();
    const items = args.length ? args[0] : [];
    if (!Array.isArray(items) || !items.every((kv) => Array.isArray(kv) && kv.length === 2)) bad('bad OrderedDict arguments in the pickle');
    for (const [k, v] of items) d.set(k, v);
    return d;
  }
  if (fn.name === '_rebuild_tensor_v2') {
    if (++counts.tensors > MAX_TENSORS) bad(`the pickle builds more than ${MAX_TENSORS} tensors`);
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof Storage) || !Number.isInteger(offset) || offset < 0) bad('bad tensor storage in the pickle');
    if (!isInts(size) || !isInts(stride)) bad('bad tensor size or stride in the pickle');
    if (size.length !== stride.length) bad('tensor size and stride differ in rank');
    if (size.length > MAX_DIMS) bad(`a tensor has ${size.length} dimensions, more than ${MAX_DIMS}`);
    return new Tensor(storage, offset, size, stride);
  }
  if (!(args[0] instanceof Tensor)) bad('bad parameter in the pickle'); // _rebuild_parameter
  return args[0];
}

function unpickle(b) {
  if (b.length > MAX_PICKLE) bad(`data.pkl is ${b.length} bytes, more than ${MAX_PICKLE} supported`);
  const counts = { tensors: 0 };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const stack = [], memo = new Map();
  let p = 0;
  const need = (n) => { if (p + n > b.length) bad('cannot unpickle data.pkl: unexpected end of data'); };
  const u8 = () => { need(1); return b[p++]; };
  const u16 = () => { need(2); p += 2; return dv.getUint16(p - 2, true); };
  const i32 = () => { need(4); p += 4; return dv.getInt32(p - 4, true); };
  const u32 = () => { need(4); p += 4; return dv.getUint32(p - 4, true); };
  const bytes = (n) => { need(n); p += n; return b.subarray(p - n, p); };
  const str = (n) => { try { return text.decode(bytes(n)); } catch { bad('cannot unpickle data.pkl: bad UTF-8 string'); } };
  const line = () => { const e = b.indexOf(10, p); if (e < 0) bad('cannot unpickle data.pkl: unterminated line'); const s = new TextDecoder().decode(b.subarray(p, e)); p = e + 1; return s; };
  const pop = () => { if (!stack.length || stack[stack.length - 1] === MARK) bad('cannot unpickle data.pkl: stack underflow'); return stack.pop(); };
  const top = () => { if (!stack.length) bad('cannot unpickle data.pkl: stack underflow'); return stack[stack.length - 1]; };
  const popMark = () => { const i = stack.lastIndexOf(MARK); if (i < 0) bad('cannot unpickle data.pkl: no mark'); const items = stack.splice(i); items.shift(); return items; };
  const setItems = (d, items) => {
    if (!(d instanceof Dict)) bad('cannot unpickle data.pkl: SETITEMS on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  let objects = 0;
  for (;;) {
    const op = u8();
    if (OBJECT_OPS[op] && ++objects > MAX_OBJECTS) bad(`cannot unpickle data.pkl: it makes more than ${MAX_OBJECTS} objects`);
    if (stack.length > MAX_STACK) bad(`cannot unpickle data.pkl: more than ${MAX_STACK} values on its stack`);
    switch (op) {
      case 0x80: u8(); break;                                  // PROTO
      case 0x95: bytes(8); break;                              // FRAME (protocol 4)
      case 0x2e: if (stack.length !== 1) bad('cannot unpickle data.pkl: bad stack at STOP'); return stack[0]; // STOP
      case 0x28: stack.push(MARK); break;                      // MARK
      case 0x7d: stack.push(new Dict()); break;                // EMPTY_DICT
      case 0x5d: case 0x29: stack.push([]); break;             // EMPTY_LIST, EMPTY_TUPLE
      case 0x64: { const it = popMark(); const d = new Dict(); setItems(d, it); stack.push(d); break; } // DICT
      case 0x6c: case 0x74: stack.push(popMark()); break;      // LIST, TUPLE
      case 0x85: stack.push([pop()]); break;                   // TUPLE1
      case 0x86: { const y = pop(), x = pop(); stack.push([x, y]); break; } // TUPLE2
      case 0x87: { const z = pop(), y = pop(), x = pop(); stack.push([x, y, z]); break; } // TUPLE3
      case 0x4e: stack.push(null); break;                      // NONE
      case 0x88: stack.push(true); break;                      // NEWTRUE
      case 0x89: stack.push(false); break;                     // NEWFALSE
      case 0x4b: stack.push(u8()); break;                      // BININT1
      case 0x4d: stack.push(u16()); break;                     // BININT2
      case 0x4a: stack.push(i32()); break;                     // BININT
      case 0x8a: {                                              // LONG1
        const n = u8(), d = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(d[i]);
        if (n && d[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; } // BINFLOAT
      case 0x58: stack.push(str(u32())); break;                // BINUNICODE
      case 0x8c: stack.push(str(u8())); break;                 // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(dv.getBigUint64(p, true)); p += 8; stack.push(str(n)); break; } // BINUNICODE8
      case 0x55: stack.push(str(u8())); break;                 // SHORT_BINSTRING
      case 0x54: stack.push(str(u32())); break;                // BINSTRING
      case 0x43: stack.push(bytes(u8())); break;               // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32())); break;              // BINBYTES
      case 0x71: memo.set(u8(), top()); break;                 // BINPUT
      case 0x72: memo.set(u32(), top()); break;                // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break;            // MEMOIZE
      case 0x68: case 0x6a: {                                   // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) bad('cannot unpickle data.pkl: bad memo reference');
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const m = line(), n = line(); stack.push(findClass(m, n)); break; } // GLOBAL
      case 0x93: {                                              // STACK_GLOBAL
        const n = pop(), m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') bad('cannot unpickle data.pkl: STACK_GLOBAL needs two strings');
        stack.push(findClass(m, n));
        break;
      }
      case 0x52: { const args = pop(), fn = pop(); stack.push(call(fn, args, counts)); break; } // REDUCE
      case 0x51: {                                              // BINPERSID
        const pid = pop();
        // torch's zip format: ('storage', storage type, key, location, numel)
        if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage' || !(pid[1] instanceof StorageType) ||
            typeof pid[2] !== 'string' || !/^\w+$/.test(pid[2])) bad('unknown persistent id in the pickle');
        stack.push(new Storage(pid[1].dtype, pid[2]));
        break;
      }
      case 0x62: pop(); break;          // BUILD: the OrderedDict's _metadata (module versions); not needed
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }  // SETITEM
      case 0x75: { const it = popMark(); setItems(top(), it); break; }           // SETITEMS
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) bad('cannot unpickle data.pkl: APPEND on a non-list'); l.push(v); break; }
      case 0x65: { const it = popMark(); const l = top(); if (!Array.isArray(l)) bad('cannot unpickle data.pkl: APPENDS on a non-list'); for (const v of it) l.push(v); break; }
      case 0x30: pop(); break;          // POP
      case 0x31: popMark(); break;      // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        bad(`cannot unpickle data.pkl: opcode 0x${op.toString(16)} at byte ${p - 1} is not one torch.save emits for a state dict`);
    }
  }
}

// ---- tensors → safetensors --------------------------------------------------------------------------

function stateDict(obj) {
  if (obj instanceof Dict) {
    for (const key of ['state_dict', 'model']) {
      if (obj.get(key) instanceof Dict) { obj = obj.get(key); break; }
    }
  }
  const kind = (x) => (x instanceof Tensor ? 'a tensor' : x instanceof Dict ? 'a dict' : Array.isArray(x) ? 'a list' : `a ${typeof x}`);
  if (!(obj instanceof Dict) || !obj.size) bad(`not a state dict (the file holds ${obj instanceof Dict ? 'an empty dict' : kind(obj)})`);
  for (const [k, v] of obj) {
    if (typeof k !== 'string') bad('not a state dict: a key is not a string');
    if (!(v instanceof Tensor)) bad(`not a state dict: ${clip(k)} is ${kind(v)}, not a tensor`);
  }
  return obj;
}

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// Row-major elements of t from its storage, as little-endian F32 bytes.
function gather(data, t, name, little, budget) {
  const src = t.storage.dtype, size = SIZES[src];
  const numel = t.size.reduce((a, n) => a * n, 1);
  if (numel > MAX_NUMEL) bad(`${name}: ${numel} elements, more than ${MAX_NUMEL} supported`);
  budget.left -= numel * 4; // checked before allocating: a crafted file must not get memory it does not hold
  if (budget.left < 0) bad(`${name}: ${numel} elements would take the output to ${Math.ceil((budget.total - budget.left) / 2 ** 20)} MiB from a ${budget.file}-byte file (expanded, zero-stride tensors?); refusing it`);
  const res = new Uint8Array(numel * 4);
  if (!numel) return { dtype: 'F32', bytes: res };
  const last = t.offset + t.size.reduce((a, n, i) => a + (n - 1) * t.stride[i], 0);
  if ((last + 1) * size > data.length) bad(`${name}: tensor extends past its storage`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength), ov = new DataView(res.buffer);
  let contiguous = true;
  for (let i = t.size.length - 1, expect = 1; i >= 0; i--) {
    if (t.size[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.size[i];
  }
  if (contiguous && little && src === 'F32') { // the usual case: one copy
    res.set(data.subarray(t.offset * size, (t.offset + numel) * size));
    return { dtype: 'F32', bytes: res };
  }
  const read = {
    F32: (o) => dv.getFloat32(o, little), F64: (o) => dv.getFloat64(o, little),
    F16: (o) => f16ToF32(dv.getUint16(o, little)), BF16: (o) => { const v = new DataView(new ArrayBuffer(4)); v.setUint32(0, dv.getUint16(o, little) << 16); return v.getFloat32(0); },
  }[src];
  // Walk the strided index space; elements are written in row-major order.
  const idx = new Array(t.size.length).fill(0);
  for (let n = 0; n < numel; n++) {
    let e = t.offset;
    for (let i = 0; i < idx.length; i++) e += idx[i] * t.stride[i];
    const v = read(e * size);
    ov.setFloat32(n * 4, v, true);
    for (let i = idx.length - 1; i >= 0; i--) { if (++idx[i] < t.size[i]) break; idx[i] = 0; }
  }
  return { dtype: 'F32', bytes: res };
}

export function writeSafetensors(tensors, metadata = { format: 'pt' }) {
  const header = {};
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8); // data starts 8-byte aligned
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const [, t] of tensors) { out.set(t.bytes, p); p += t.bytes.length; }
  return out;
}

export function pthToSafetensors(bytes) {
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  try {
    if (!isZip(bytes)) {
      if (bytes[0] === 0x80) bad('legacy (non-zip) torch.save format is not supported; re-save it with torch >= 1.6 and the default serialization');
      if (bytes[0] === 0x50 && bytes[1] === 0x4b) bad('truncated or corrupt zip archive');
      bad('not a torch checkpoint (neither a zip archive nor a pickle)');
    }
    const z = readZip(bytes);
    const pkls = z.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) bad(`expected one */data.pkl in the zip archive, found ${pkls.length}`);
    const prefix = pkls[0].slice(0, -'/data.pkl'.length);
    const sd = stateDict(unpickle(z.read(pkls[0])));
    let little = true;
    if (z.has(`${prefix}/byteorder`)) little = new TextDecoder().decode(z.read(`${prefix}/byteorder`)).trim() === 'little';
    const tensors = new Map();
    const budget = { file: bytes.length, total: outputBudget(bytes.length), left: outputBudget(bytes.length) };
    for (const [key, t] of sd) {
      if (key.endsWith('num_batches_tracked')) continue; // a training counter, not used for inference
      const name = clip(key);
      if (!['F32', 'F16', 'F64', 'BF16'].includes(t.storage.dtype)) bad(`${name}: ${t.storage.dtype} tensor; only floating-point tensors can be converted`);
      const data = z.read(`${prefix}/data/${t.storage.key}`);
      if (!data) bad(`${name}: storage ${clip(t.storage.key)} missing from the archive`);
      const g = gather(data, t, name, little, budget);
      tensors.set(key, { dtype: g.dtype, shape: t.size, bytes: g.bytes });
    }
    if (!tensors.size) bad('the state dict has no floating-point tensors');
    return writeSafetensors(tensors);
  } catch (e) {
    // Names from the file may hold control characters: keep the message on one line.
    if (e instanceof PthError) throw new Error(e.message.replace(/[\x00-\x1f\x7f]/g, '?'));
    // Not one of ours: a bug in this reader (tests/fuzz/pth looks for the cause), still one line for the page.
    throw new Error(`cannot read the .pth file: ${String(e && e.message).split('\n')[0]}`, { cause: e });
  }
}
