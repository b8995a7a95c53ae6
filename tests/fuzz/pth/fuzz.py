#!/usr/bin/python3
"""Mutation fuzzing of models/convert's reader (read_checkpoint: zip + restricted unpickler).

    /usr/bin/python3 tests/fuzz/pth/fuzz.py [--seconds 600] [--seed N] [--corpus DIR] [--out DIR]
    /usr/bin/python3 tests/fuzz/pth/fuzz.py --replay FILE...   (one line per file; exit 1 on a finding)

The same seed corpus as fuzz.mjs (make_corpus.py); mutations at the byte, zip-entry and pickle-opcode
level, the zip rewritten with correct CRCs so that mutants get past zipfile's checks. Findings, written
to OUT/crashes (exit status 1):
  crash   any exception but ConvertError (the converter's one-line refusals), or a refusal over 400 chars
  exec    an audit event that runs code or touches the system (os.system, exec, compile, subprocess, ...)
  import  a module imported while reading that was not loaded before (the sentinel module
          fuzz_sentinel, importable from this folder, is one a mutant can name)
  memory  tracemalloc's peak above 3 x the converter's own output budget for the file + 16 MiB
  hang    one input running longer than --hang-s (SIGALRM)
  output  a returned tensor whose bytes do not match its dtype and shape
"""
import argparse
import builtins
import hashlib
import importlib.machinery
import importlib.util
import io
import os
import random
import re
import signal
import sys
import time
import tracemalloc
import traceback
import warnings
import zipfile

warnings.simplefilter("ignore")  # zipfile warns about the duplicate names the mutations make
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)  # makes fuzz_sentinel importable: a reader that imported what a file names would


def load_convert():
    loader = importlib.machinery.SourceFileLoader("convert", os.path.join(ROOT, "models", "convert"))
    spec = importlib.util.spec_from_loader("convert", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


convert = load_convert()

# ---- the watchdogs ----

ARMED = [False]
EVENTS = []
BAD_EVENTS = re.compile(r"^(os\.(system|exec|spawn|posix_spawn|fork|kill|remove|rename|rmdir|mkdir|chmod|putenv)"
                        r"|subprocess\.|exec$|compile$|ctypes\.|socket\.|urllib\.|shutil\.|pickle\.find_class"
                        r"|import$|open$|builtins\.input|code\.|cpython\.run_)")


def audit(event, args):
    if ARMED[0] and BAD_EVENTS.match(event):
        EVENTS.append(f"{event} {str(args)[:80]}")


sys.addaudithook(audit)
import encodings.cp437  # noqa: E402,F401 - zipfile's codec for non-UTF-8 names, loaded lazily: load it now
_real_import = builtins.__import__


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if ARMED[0] and (name not in sys.modules or name.startswith("fuzz_sentinel")):
        EVENTS.append(f"import {name}")
    return _real_import(name, globals, locals, fromlist, level)


builtins.__import__ = guarded_import


MAX_PEAK = [0]  # the largest per-input peak seen, for the summary


class Hang(BaseException):
    pass


def on_alarm(signum, frame):
    raise Hang()


signal.signal(signal.SIGALRM, on_alarm)


def judge(data, hang_s=5.0):
    """(None if the reader behaved, else a one-line finding; the outcome: "accepted" or the refusal)"""
    EVENTS.clear()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    signal.setitimer(signal.ITIMER_REAL, hang_s)
    ARMED[0] = True
    outcome = "accepted"
    try:
        tensors = convert.read_checkpoint(io.BytesIO(data), len(data))
        bad = None
    except convert.ConvertError as e:
        ARMED[0] = False
        outcome = str(e)
        tensors, bad = None, (f"crash: refusal of {len(str(e))} chars" if len(str(e)) > 400 else None)
    except Hang:
        tensors, bad = None, f"hang: no result within {hang_s} s"
    except BaseException as e:  # noqa: BLE001 - any other exception is the finding
        ARMED[0] = False  # traceback reads source files
        tb = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith("convert")]
        where = f"convert:{tb[-1].lineno}" if tb else "?"
        tensors, bad = None, f"crash: {type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''} @ {where}"
    finally:
        ARMED[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
    peak = tracemalloc.get_traced_memory()[1] - base
    MAX_PEAK[0] = max(MAX_PEAK[0], peak)
    if getattr(builtins, "FUZZ_SENTINEL_IMPORTED", False) or getattr(builtins, "FUZZ_SENTINEL_CALLED", False):
        return "import: fuzz_sentinel ran", outcome
    if EVENTS:
        return f"{'import' if EVENTS[0].startswith('import') else 'exec'}: {EVENTS[0]}", outcome
    if peak > 3 * convert._budget(len(data)) + (1 << 24):
        return f"memory: peak {peak >> 20} MiB for a {len(data)}-byte file", outcome
    if bad:
        return bad, outcome
    for name, (dtype, shape, raw) in (tensors or {}).items():
        try:
            convert.safetensors._check_tensor(name, dtype, list(shape), len(raw))
        except Exception as e:  # noqa: BLE001
            return f"output: {str(e)[:100]}", outcome
    return None, outcome


# ---- mutations ----

INTERESTING = [0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 1 << 28, 1 << 40]
OPS = b"\x80\x95.(}])dlt\x85\x86\x87N\x88\x89KMJ\x8aGX\x8c\x8dUTCBqr\x94hjc\x93RQbsuae012\x81io\x8e\x96pgIL"
TOKENS = [b"storage", b"FloatStorage", b"HalfStorage", b"BFloat16Storage", b"DoubleStorage", b"LongStorage",
          b"torch", b"torch._utils", b"_rebuild_tensor_v2", b"_rebuild_parameter", b"collections",
          b"OrderedDict", b"cpu", b"state_dict", b"num_batches_tracked", b"0", b"os", b"system",
          b"fuzz_sentinel", b"boom", b"builtins", b"eval", b"__import__", b"subprocess", b"Popen"]
FIXED = {0x80: 1, 0x4B: 1, 0x71: 1, 0x68: 1, 0x4D: 2, 0x4A: 4, 0x72: 4, 0x6A: 4, 0x95: 8, 0x47: 8}
COUNTED = {0x8A: 1, 0x8C: 1, 0x55: 1, 0x43: 1, 0x58: 4, 0x54: 4, 0x42: 4, 0x8B: 4, 0x8D: 8, 0x8E: 8, 0x96: 8}
LINES = {0x63: 2, 0x69: 2, 0x49: 1, 0x4C: 1, 0x46: 1, 0x53: 1, 0x56: 1, 0x50: 1, 0x70: 1, 0x67: 1}


def pickle_ops(b):
    ops, p = [], 0
    while p < len(b) and len(ops) < 4000:  # the first opcodes are enough to mutate; nests run long
        start, op = p, b[p]
        p += 1 + FIXED.get(op, 0)
        if op in COUNTED:
            w = COUNTED[op]
            p += w + int.from_bytes(b[p:p + w], "little")
        for _ in range(LINES.get(op, 0)):
            e = b.find(b"\n", p)
            p = e + 1 if e >= 0 else len(b)
        if p > len(b):
            break
        ops.append((start, p))
    return ops


def new_op(r, corpus_ops):
    if corpus_ops and r.random() < 0.5:
        return r.choice(corpus_ops)
    op = r.choice(OPS)
    if op in FIXED:
        v = r.choice(INTERESTING) if r.random() < 0.7 else r.randrange(256)
        return bytes([op]) + (v % (1 << (8 * FIXED[op]))).to_bytes(FIXED[op], "little")
    if op in COUNTED:
        s = r.choice(TOKENS)
        n = len(s) if r.random() < 0.85 else r.choice(INTERESTING)
        return bytes([op]) + (n % (1 << (8 * COUNTED[op]))).to_bytes(COUNTED[op], "little") + s
    if op in LINES:
        return bytes([op]) + b"".join(r.choice(TOKENS) + b"\n" for _ in range(LINES[op]))
    return bytes([op])


def mutate_pickle(b, r, corpus_ops):
    ops = pickle_ops(b)
    if not ops:
        return mutate_bytes(b, r, [])
    s, e = r.choice(ops)
    s2, e2 = r.choice(ops)
    head, body, tail = b[:s], b[s:e], b[e:]
    k = r.randrange(8)
    if k == 0:
        return head + tail
    if k == 1:
        return head + body + body + tail
    if k == 2:
        return head + new_op(r, corpus_ops) + body + tail
    if k == 3:
        return head + b[s2:e2] + tail
    if k == 4:
        return head + bytes([r.choice(OPS)]) + body[1:] + tail
    if k == 5 and len(body) > 1:
        w = min(len(body) - 1, r.choice([1, 2, 4, 8]))
        i = 1 + r.randrange(len(body) - w)
        v = r.choice(INTERESTING) % (1 << (8 * w))
        return head + body[:i] + v.to_bytes(w, "little") + body[i + w:] + tail
    if k == 6:
        return head + bytes([r.choice(b"(])}")]) * r.choice([2, 16, 1000, 20000]) + body + tail
    return mutate_bytes(b, r, [])


def mutate_bytes(b, r, others):
    x, n = bytearray(b), len(b)
    p = r.randrange(n + 1)
    k = r.randrange(9)
    if k == 0 and n:
        x[r.randrange(n)] ^= 1 << r.randrange(8)
    elif k == 1 and n:
        x[r.randrange(n)] = r.choice(INTERESTING) & 255
    elif k == 2 and n >= 4:
        i = r.randrange(n - 3)
        x[i:i + 4] = (r.choice(INTERESTING) & 0xFFFFFFFF).to_bytes(4, "little")
    elif k == 3:
        x[p:p] = bytes(r.randrange(256) for _ in range(1 + r.randrange(16)))
    elif k == 4:
        del x[p:p + 1 + r.randrange(32)]
    elif k == 5:
        q = r.randrange(n + 1)
        x[p:p] = b[min(p, q):max(p, q)]
    elif k == 6 and others:
        o = r.choice(others)
        q = r.randrange(len(o) + 1)
        x[p:p] = o[q:q + r.randrange(256)]
    elif k == 7:
        del x[p:]
    else:
        for _ in range(8 if n else 0):
            x[r.randrange(n)] = r.randrange(256)
    return bytes(x)


def unzip(b):
    try:
        with zipfile.ZipFile(io.BytesIO(b)) as z:
            return [(i.filename, z.read(i), i.compress_type) for i in z.infolist()]
    except Exception:  # noqa: BLE001 - not a zip we can take apart: byte mutations only
        return None


def rezip(entries):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data, method in entries:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def poke_header(b, r):
    """One central-directory or local-header field of a valid zip set to an interesting value."""
    x = bytearray(b)
    sig = r.choice([b"PK\x01\x02", b"PK\x03\x04", b"PK\x05\x06"])
    spots = [m.start() for m in re.finditer(re.escape(sig), b)]
    if not spots:
        return b
    at = r.choice(spots)
    fields = {b"PK\x01\x02": [(10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (42, 4)],
              b"PK\x03\x04": [(8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)],
              b"PK\x05\x06": [(8, 2), (10, 2), (12, 4), (16, 4)]}[sig]
    off, w = r.choice(fields)
    if at + off + w <= len(x):
        x[at + off:at + off + w] = (r.choice(INTERESTING) % (1 << (8 * w))).to_bytes(w, "little")
    return bytes(x)


def mutate(b, r, others, corpus_ops):
    entries = unzip(b) if r.random() < 0.67 else None
    if not entries:
        return mutate_bytes(b, r, others)
    i = r.randrange(len(entries))
    name, data, method = entries[i]
    k = r.randrange(6)
    if k <= 2:
        for _ in range(1 + r.randrange(3)):
            data = mutate_pickle(data, r, corpus_ops) if name.endswith("data.pkl") and r.random() < 0.75 \
                else mutate_bytes(data, r, others)
        entries[i] = (name, data, method)
        return rezip(entries)
    if k == 3:
        return poke_header(b, r)
    if k == 4:
        j = r.randrange(4)
        if j == 0:
            del entries[i]
        elif j == 1:
            entries.insert(i, entries[i])
        elif j == 2:
            entries[i] = (r.choice([name + "x", name.replace("data", "dat"), "a/" + name, name.upper()]), data, method)
        else:
            entries[i] = (name, data, zipfile.ZIP_DEFLATED if method == zipfile.ZIP_STORED else zipfile.ZIP_STORED)
        return rezip(entries) if entries else b
    return mutate_bytes(b, r, others)


# ---- line coverage of models/convert (stdlib only: sys.settrace on its frames; --coverage, ~3x slower) ----

HIT = set()


def _local(frame, event, arg):
    if event == "line":
        HIT.add(frame.f_lineno)
    return _local


def _global(frame, event, arg):
    return _local if frame.f_code.co_filename == convert.__file__ else None


def coverage_report():
    """(lines run, lines with code) in the functions models/convert defines (module-level lines ran at
    import, before tracing; main() and convert() are the command line around read_checkpoint)."""
    top = compile(open(convert.__file__).read(), convert.__file__, "exec")
    lines, todo = set(), [c for c in top.co_consts if hasattr(c, "co_lines") and c.co_name not in ("main", "convert")]
    while todo:
        code = todo.pop()
        lines.update(ln for _, _, ln in code.co_lines() if ln)
        todo.extend(c for c in code.co_consts if hasattr(c, "co_lines"))
    return len(HIT & lines), len(lines)


# ---- the loop ----

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--hang-s", type=float, default=5.0)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "out", "fuzz-pth", "corpus"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "out", "fuzz-pth", "python"))
    ap.add_argument("--replay", nargs="+")
    ap.add_argument("--coverage", action="store_true", help="report line coverage of models/convert")
    a = ap.parse_args()
    if a.coverage:
        sys.settrace(_global)
    tracemalloc.start()
    if a.replay:
        bad = 0
        for f in a.replay:
            with open(f, "rb") as fh:
                msg = judge(fh.read(), a.hang_s)[0]
            print(f"{os.path.basename(f)}: {msg or 'ok'}")
            bad += msg is not None
        return 1 if bad else 0
    if not os.path.isdir(a.corpus):
        import subprocess
        subprocess.run([sys.executable, os.path.join(HERE, "make_corpus.py"), a.corpus], check=True)
    queue = []
    for f in sorted(os.listdir(a.corpus)):
        with open(os.path.join(a.corpus, f), "rb") as fh:
            queue.append(fh.read())
    corpus_ops = []
    for q in queue:
        for name, data, _ in unzip(q) or []:
            if name.endswith("data.pkl"):
                corpus_ops += [data[s:e] for s, e in pickle_ops(data)]
    crash_dir = os.path.join(a.out, "crashes")
    os.makedirs(crash_dir, exist_ok=True)
    r = random.Random(a.seed)
    findings, execs, accepted, refusals = {}, 0, 0, set()
    t0 = time.monotonic()
    slowest = (0.0, b"")
    while time.monotonic() - t0 < a.seconds:
        m = r.choice(queue)
        for _ in range(1 + r.randrange(4)):
            m = mutate(m, r, queue, corpus_ops)
        m = m[:1 << 20]
        t = time.monotonic()
        msg, outcome = judge(m, a.hang_s)
        dt = time.monotonic() - t
        slowest = max(slowest, (dt, m))
        execs += 1
        if msg:
            k = re.sub(r"\d+", "N", msg)
            if k not in findings:
                path = os.path.join(crash_dir, f"{msg.split(':')[0]}-{hashlib.sha1(m).hexdigest()[:12]}.pth")
                with open(path, "wb") as fh:
                    fh.write(m)
                findings[k] = [msg, path, 0]
                print(f"FINDING {msg} -> {os.path.relpath(path, ROOT)}", flush=True)
            findings[k][2] += 1
        else:
            # no coverage feedback here: keep mutants that reach a refusal not seen before (a cheap proxy
            # for a new path through the reader) or that convert, so that later mutations start deeper
            accepted += outcome == "accepted"
            key = re.sub(r"\d+|'[^']*'", "N", outcome)[:60]
            if key not in refusals:
                refusals.add(key)
                queue.append(m)
    el = time.monotonic() - t0
    print(f"convert fuzz: {execs} executions in {el:.0f} s ({execs / el:.0f}/s), {len(refusals)} distinct "
          f"outcomes kept, {accepted} mutants accepted, queue {len(queue)}, slowest input {slowest[0] * 1000:.0f} ms, "
          f"largest per-input peak {MAX_PEAK[0] / 2**20:.1f} MiB (tracemalloc), {len(findings)} distinct findings")
    if a.coverage:
        sys.settrace(None)
        hit, total = coverage_report()
        print(f"models/convert line coverage: {hit}/{total} lines in its functions ({100 * hit / total:.1f}%)")
    for msg, path, n in findings.values():
        print(f"  {n}x {msg}  ({os.path.relpath(path, ROOT)})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
