"""Minimal safetensors reader/writer, standard library only.

A tensor is a tuple (dtype, shape, data): dtype a safetensors dtype string ("F32", "F16", ...),
shape a list of ints, data the raw little-endian bytes in row-major order.

    save(path, {"fc.bias": ("F32", [8], raw)}, metadata={"format": "pt"})
    tensors, metadata = load(path)
"""

import json
import os
import struct

DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}


class SafetensorsError(ValueError):
    """A malformed file, or tensors that cannot be written."""


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _check_tensor(name, dtype, shape, nbytes):
    if dtype not in DTYPE_SIZES:
        raise SafetensorsError(f"{name}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise SafetensorsError(f"{name}: shape must be a list of non-negative ints, got {shape!r}")
    want = _numel(shape) * DTYPE_SIZES[dtype]
    if nbytes != want:
        raise SafetensorsError(f"{name}: {nbytes} bytes for {dtype} {shape} (expected {want})")


def save(path, tensors, metadata=None):
    """Write tensors (dict name -> (dtype, shape, bytes)) to path, atomically via a temp file."""
    header, offset = {}, 0
    for name, (dtype, shape, data) in tensors.items():
        shape = list(shape)
        _check_tensor(name, dtype, shape, len(data))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # pad so that the data section starts 8-byte aligned
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for _, _, data in tensors.values():
                f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise SafetensorsError("duplicate key in header")
    return dict(pairs)


def load(path):
    """Read path; returns (dict name -> (dtype, shape, bytes), metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: too short for a safetensors header")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > len(raw) - 8:
        raise SafetensorsError(f"{path}: header length {hlen} exceeds the file size")
    try:
        header = json.loads(raw[8:8 + hlen].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: bad header: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    blob = memoryview(raw)[8 + hlen:]
    tensors = {}
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise SafetensorsError(f"{name}: malformed header entry") from None
        if type(begin) is not int or type(end) is not int or not 0 <= begin <= end <= len(blob):
            raise SafetensorsError(f"{name}: data_offsets [{begin}, {end}] outside the data section")
        _check_tensor(name, dtype, shape, end - begin)
        tensors[name] = (dtype, shape, bytes(blob[begin:end]))
    return tensors, metadata
