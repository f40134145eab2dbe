#!/usr/bin/env python3
"""Writes the IQ formats' lattice grids from a llama.cpp checkout as one binary resource for qforge.

The grids (ggml-common.h: iq2xxs_grid, iq2xs_grid, iq2s_grid, iq3xxs_grid, iq3s_grid, iq1s_grid) are part of the
IQ formats' definition: every reader of those GGUF types needs the same numbers. They are ggml's (MIT licence,
Copyright (c) 2023-2024 The ggml authors). Output: each table's entries as little-endian integers, in that order,
so that byte j of entry i is the grid's j-th value.

usage: scripts/ggml-iq-grids.py LLAMA_CPP_DIR src/main/resources/dev/qforge/kernel/blocks/iq-grids.bin
"""
import re
import struct
import sys

TABLES = [("iq2xxs_grid", 256, "Q"), ("iq2xs_grid", 512, "Q"), ("iq2s_grid", 1024, "Q"),
          ("iq3xxs_grid", 256, "I"), ("iq3s_grid", 512, "I"), ("iq1s_grid", 2048, "Q")]


def table(source, name, count):
    m = re.search(r"GGML_TABLE_BEGIN\(\s*uint(?:64|32)_t\s*,\s*" + name + r"\s*,[^)]*\)(.*?)GGML_TABLE_END", source, re.S)
    if not m:
        sys.exit(f"{name}: not found")
    values = [int(v, 16) for v in re.findall(r"0x[0-9a-fA-F]+", m.group(1))]
    if len(values) != count:
        sys.exit(f"{name}: {len(values)} entries, expected {count}")
    return values


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source = open(sys.argv[1] + "/ggml/src/ggml-common.h", encoding="utf-8").read()
    out = bytearray()
    for name, count, fmt in TABLES:
        for v in table(source, name, count):
            out += struct.pack("<" + fmt, v)
    open(sys.argv[2], "wb").write(out)
    print(f"wrote {sys.argv[2]}: {len(out)} bytes")


if __name__ == "__main__":
    main()
