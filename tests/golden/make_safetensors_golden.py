#!/usr/bin/env python3
"""Writes tests/golden/small.safetensors with an independent writer (stdlib only).

It follows the public safetensors format (https://github.com/huggingface/safetensors):
an 8-byte little-endian header length N, N bytes of JSON header (padded with spaces so
that the data starts 8-byte aligned), then the little-endian tensor bytes; data_offsets
are relative to the start of the data section.

Deliberately unlike snnc's own writer: the JSON uses Python's default separators and
\\u escapes for non-ASCII text (ensure_ascii), "__metadata__" comes last, and the header
order differs from the data order (data sorted by element size, then name, as the
reference writer does). test_safetensors.c checks the values listed here.

Usage: python3 tests/golden/make_safetensors_golden.py [output path]
"""
import json
import os
import struct
import sys

SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "U8": 1, "I8": 1, "BOOL": 1}


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def pack(dtype, values):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F64":
        return struct.pack("<%dd" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    if dtype == "BF16":  # the upper 16 bits of the float32 (values chosen to be exact)
        return b"".join(struct.pack("<H", f32_bits(v) >> 16) for v in values)
    if dtype == "I64":
        return struct.pack("<%dq" % len(values), *values)
    if dtype == "I32":
        return struct.pack("<%di" % len(values), *values)
    if dtype == "I8":
        return struct.pack("<%db" % len(values), *values)
    if dtype in ("U8", "BOOL"):
        return bytes(values)
    raise ValueError(dtype)


TENSORS = {
    "conv.weight": ("F32", [2, 3], [0.5, -1.25, 3.0, 1e-3, -0.0, 100.0]),
    "half": ("F16", [7], [1.0, -2.5, 65504.0, 2.0**-24, 2.0**-14, float("inf"), float("nan")]),
    "bf16": ("BF16", [2, 2], [1.0, -3.5, 0.15625, 2.0**100]),
    "bn.num_batches_tracked": ("I64", [], [12345678901]),
    "f64": ("F64", [3], [0.1, 2.5, -7.0]),
    "i32": ("I32", [2], [-7, 2147483647]),
    "i8": ("I8", [2], [-128, 127]),
    "u8": ("U8", [1, 1, 3], [0, 128, 255]),
    "mask": ("BOOL", [2], [1, 0]),
    "empty": ("F32", [0, 4], []),
    "gewicht.\u03bc": ("F32", [1], [-2.0]),
}
METADATA = {"format": "pt", "note": "smile \U0001F642"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "small.safetensors")
    order = sorted(TENSORS, key=lambda k: (-SIZES[TENSORS[k][0]], k))
    data = b""
    entries = {}
    for name in order:
        dtype, shape, values = TENSORS[name]
        raw = pack(dtype, values)
        n = 1
        for d in shape:
            n *= d
        assert len(raw) == n * SIZES[dtype], name
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header = {name: entries[name] for name in sorted(entries, reverse=True)}
    header["__metadata__"] = METADATA
    text = json.dumps(header).encode("ascii")
    text += b" " * (-(8 + len(text)) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main()
