#!/usr/bin/python3
"""Hostile weight files, made on the fly (nothing large is committed): each aims at one resource a
reader could be made to spend. tests/test_hostile_files.py runs every reader on every file.

    hostile.py DIR      writes the files into DIR and prints their names and sizes

Standard library only: the pickles are written opcode by opcode, the zips entry by entry.
"""
import json
import os
import struct
import sys
import zipfile


def ustr(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def pint(n):
    return b"J" + struct.pack("<i", n) if n < 2 ** 31 else b"\x8a\x08" + struct.pack("<q", n)


def ituple(xs):
    return b"(" + b"".join(pint(x) for x in xs) + b"t"


GLOBALS = (b"ctorch._utils\n_rebuild_tensor_v2\nq\x000"    # memo 0: the rebuild function (then POP)
           b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nq\x01X\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ\x01\x00\x00\x00t"
           b"Qq\x020"                                      # memo 1: FloatStorage, memo 2: storage '0' (1 element)
           b"ccollections\nOrderedDict\nq\x030")             # memo 3


def tensor(size, stride, offset=0):
    """REDUCE of _rebuild_tensor_v2(storage '0', offset, size, stride, False, OrderedDict())."""
    return (b"h\x00(h\x02" + pint(offset) + ituple(size) + ituple(stride) + b"\x89h\x03)Rt" + b"R")


def state_dict(items):
    """{'name': tensor, ...} as a pickle: items is a list of (name, pickled value)."""
    return (b"\x80\x02" + GLOBALS + b"}(" + b"".join(ustr(k) + v for k, v in items) + b"u.")


def zip_entries(path, entries, method=zipfile.ZIP_STORED):
    """entries: [(name, bytes or (declared_size, chunk iterator))], written with zipfile."""
    with zipfile.ZipFile(path, "w", method, allowZip64=True) as z:
        for name, data in entries:
            if isinstance(data, bytes):
                z.writestr(name, data)
            else:
                size, chunks = data
                info = zipfile.ZipInfo(name)
                info.compress_type = method
                info.file_size = size
                with z.open(info, "w", force_zip64=size >= 1 << 31) as f:
                    for c in chunks:
                        f.write(c)


def pth(path, pkl, storage=b"\0\0\x80?", method=zipfile.ZIP_STORED, extra=()):
    zip_entries(path, [("archive/data.pkl", pkl), ("archive/byteorder", b"little"),
                       ("archive/data/0", storage), *extra], method)


def zeros(total, chunk=1 << 22):
    block = bytes(chunk)
    for i in range(0, total, chunk):
        yield block[:min(chunk, total - i)]


def safetensors_file(path, header, data=b""):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def make(d):
    """Write every hostile file into d; returns {file name: what it attacks}."""
    os.makedirs(d, exist_ok=True)
    j = lambda n: os.path.join(d, n)  # noqa: E731
    made = {}

    # tensors whose headers claim more than the file holds
    pth(j("huge-shape.pth"), state_dict([("w", tensor([1 << 20, 1 << 20], [1 << 20, 1]))]))
    made["huge-shape.pth"] = "a 2^40-element tensor on a 4-byte storage"
    pth(j("expanded.pth"), state_dict([("w", tensor([1 << 28], [0]))]))
    made["expanded.pth"] = "a 2^28-element zero-stride view of one float (1 GiB as F32)"
    safetensors_file(j("huge-shape.safetensors"),
                     {"w": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 1 << 42]}}, bytes(8))
    made["huge-shape.safetensors"] = "a 4 TiB tensor in a 100-byte file"
    with open(j("header-length.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", (1 << 63) - 1) + b"{}")
    made["header-length.safetensors"] = "an 8 EiB header length"

    # zip bombs: tiny compressed, huge uncompressed
    pth(j("zip-bomb-storage.pth"), state_dict([("w", tensor([1 << 28], [1]))]),
        storage=(1 << 30, zeros(1 << 30)), method=zipfile.ZIP_DEFLATED)
    made["zip-bomb-storage.pth"] = "a storage deflated from 1 GiB of zeros to ~1 MB"
    big = b"\x80\x02}X\x01\x00\x00\x00w\x8e" + struct.pack("<Q", 1 << 28)
    pkl_bomb = (len(big) + (1 << 28) + 2, iter([big, *zeros(1 << 28), b"s."]))
    zip_entries(j("zip-bomb-pickle.pth"), [("archive/data.pkl", pkl_bomb)], zipfile.ZIP_DEFLATED)
    made["zip-bomb-pickle.pth"] = "data.pkl deflated from 256 MiB to ~256 KB"

    # deeply nested pickles
    n = 10 ** 6
    pth(j("deep-lists.pth"), b"\x80\x02}X\x01\x00\x00\x00w" + b"]" * (2 * n) + b"a" * (2 * n - 1) + b"s.")
    made["deep-lists.pth"] = "a list nested 2x10^6 deep (4 MB)"
    pth(j("deep-tuples.pth"), b"\x80\x02}X\x01\x00\x00\x00w" + b"(" * (n // 2) + b"t" * (n // 2) + b"Qs.")
    made["deep-tuples.pth"] = "500,000 nested tuples as a persistent id (1 MB)"
    safetensors_file(j("deep-nest.safetensors"), b'{"__metadata__":' + b"[" * n + b"]" * n + b"}")
    made["deep-nest.safetensors"] = "JSON arrays nested 10^6 deep"

    # many tiny tensors
    one = tensor([1], [1])
    pth(j("many-tensors.pth"), state_dict([(f"t{i}", one) for i in range(10 ** 6)]))
    made["many-tensors.pth"] = "10^6 one-element tensors on one storage (data.pkl ~37 MB)"
    pth(j("70k-tensors.pth"), state_dict([(f"t{i}", one) for i in range(70000)]))
    made["70k-tensors.pth"] = "70,000 one-element tensors (data.pkl ~2.5 MB)"
    entry = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    safetensors_file(j("many-tensors.safetensors"), {f"t{i}": entry for i in range(10 ** 6)}, bytes(4))
    made["many-tensors.safetensors"] = "10^6 one-element tensors (header ~55 MB)"
    with open(j("many-entries.pth"), "wb") as f:  # a zip64 central directory and nothing else
        n = 200000
        cd = b"".join(b"PK\x01\x02" + bytes(24) + struct.pack("<HHH", 2, 0, 0) + bytes(12) + b"%02d" % (i % 100)
                      for i in range(n))
        f.write(b"PK\x03\x04" + bytes(26))  # one empty local header, so that the file starts as a zip does
        cd_off, end = 30, 30 + len(cd)
        eocd64 = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, n, n, len(cd), cd_off)
        locator = b"PK\x06\x07" + struct.pack("<IQI", 0, end, 1)
        f.write(cd + eocd64 + locator + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                                                                     0xFFFFFFFF, 0))
    made["many-entries.pth"] = "a zip64 central directory of 200,000 entries and nothing else (9.6 MB)"

    # pickle opcodes that claim memory
    pth(j("memo-bomb.pth"), b"\x80\x02}r\x00\x00\x00\x10.")
    made["memo-bomb.pth"] = "LONG_BINPUT 2^28 (pickle's C memo table would take 2 GiB)"
    pth(j("bytes-bomb.pth"), b"\x80\x02}X\x01\x00\x00\x00w\x8e" + struct.pack("<Q", 1 << 40) + b"s.")
    made["bytes-bomb.pth"] = "BINBYTES8 claiming 1 TiB"
    return made


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "hostile"
    for name, what in make(out).items():
        print(f"{os.path.getsize(os.path.join(out, name)):>10}  {name}: {what}")
