#!/usr/bin/python3
"""Seed corpus for the .pth fuzzers: small real torch.save files, written to DIR (default
tests/out/fuzz-pth/corpus, which git ignores). Needs torch (Debian's /usr/bin/python3 has it).

    make_corpus.py [DIR]

Covers what the readers must handle (dtypes, strides, offsets, shared storages, wrappers, parameters,
pickle protocols 2-5, big-endian byte order) and what they must refuse cleanly (legacy format, non-float
tensors, a global that would run code, a deflated archive).
"""
import os
import pickle
import sys
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(out):
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    base = r(6, 8)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    files = {
        "tiny": {"w": r(3)},
        "net": net.state_dict(),
        "params": net.state_dict(keep_vars=True),
        "views": {"t": r(3, 4).t(), "slice": base[::2, 1:5], "view": base[1], "scalar": torch.tensor(2.5),
                  "empty": torch.zeros(0, 3), "expand": r(4, 1).expand(4, 3)},
        "dtypes": {"h": r(5).half(), "bf": r(2, 3).bfloat16(), "d": r(4).double()},
        "wrapped": {"state_dict": {"a.weight": r(2, 2)}, "epoch": 3, "lr": 0.1, "ok": True, "name": "x",
                    "big": 2 ** 70, "neg": -5, "none": None, "tup": (1, 2.5, "s"), "lst": [1, 2]},
        "model": {"model": {"fc.bias": r(2)}},
        "list": [r(2)],
        "ints": {"w": torch.arange(6)},
    }
    n = 0
    for name, obj in files.items():
        for proto in (2, 4):
            torch.save(obj, os.path.join(out, f"{name}-p{proto}.pth"), pickle_protocol=proto)
            n += 1
    torch.save(files["views"], os.path.join(out, "views-p5.pth"), pickle_protocol=5)
    torch.save(files["tiny"], os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    n += 2

    def rezip(src, dst, rename=None, method=zipfile.ZIP_STORED, edit=None):
        with zipfile.ZipFile(os.path.join(out, src)) as zi, zipfile.ZipFile(os.path.join(out, dst), "w", method) as zo:
            for info in zi.infolist():
                data = zi.read(info)
                if edit:
                    data = edit(info.filename, data)
                zo.writestr(rename(info.filename) if rename else info.filename, data)

    rezip("net-p2.pth", "deflated.pth", method=zipfile.ZIP_DEFLATED)
    rezip("views-p2.pth", "prefix.pth", rename=lambda f: "other_name/" + f.split("/", 1)[1])
    rezip("dtypes-p2.pth", "bigendian.pth",  # byte order marked big (the values are then garbage, which is fine here)
          edit=lambda f, d: b"big" if f.endswith("/byteorder") else d)

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with zipfile.ZipFile(os.path.join(out, "evil.pth"), "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    # a global a fuzzer may mutate towards: the sentinel module the Python harness watches
    with zipfile.ZipFile(os.path.join(out, "sentinel.pth"), "w") as z:
        z.writestr("s/data.pkl", b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01cfuzz_sentinel\nboom\nq\x02)Rq\x03s.")
    n += 5
    return n


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "out", "fuzz-pth", "corpus")
    print(f"{main(d)} seed files in {d}")
