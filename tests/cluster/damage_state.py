#!/usr/bin/env python3
"""Damages the state records of one key in an LMDB data file in place, as a
bad sector would: one bit flipped in the value of each stage's record of
the key, written byte by byte (os.pwrite), so a node running on the file
sees it through its memory map and nothing else of the file changes.

A state record in an LMDB leaf page: a node header (data size u32, flags u16,
key size u16, little-endian), the key (stage id u32 big-endian, then the
key), then the value (version u64, KeyState, checksum). Prints how many
records it damaged; exit 1 when none was found.

usage: damage_state.py DATA_MDB KEY
"""
import os
import struct
import sys

PAGE = 4096  # LMDB's page size here (the OS page size)
P_LEAF = 0x02  # a page header's flags (u16 at offset 10): a leaf page


def main():
    path, key = sys.argv[1], sys.argv[2].encode()
    with open(path, "rb") as f:
        data = f.read()
    at = data.find(key)
    offsets = []
    while at >= 0:
        start = at - 4
        page = start - start % PAGE
        # Leaf pages only: a branch page holds the same key as the first of
        # a child page (its node header is a page number), and a bit
        # flipped there breaks LMDB's lookups, not one value.
        leaf = struct.unpack_from("<H", data, page + 10)[0] & P_LEAF
        if start >= 8 and leaf and data[start:start + 3] == b"\0\0\0":
            size, flags, ksize = struct.unpack_from("<IHH", data, start - 8)
            if ksize == len(key) + 4 and flags == 0 and 16 < size < 4096:
                offsets.append(at + len(key) + 12)
        at = data.find(key, at + 1)
    if not offsets:
        print("no state record of %s in %s" % (key.decode(), path))
        return 1
    fd = os.open(path, os.O_WRONLY)
    try:
        for o in offsets:
            os.pwrite(fd, bytes([data[o] ^ 0x01]), o)
        os.fsync(fd)
    finally:
        os.close(fd)
    print(len(offsets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
