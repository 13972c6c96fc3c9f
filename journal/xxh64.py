"""XXH64 as a Numba kernel, so frame hashes are computed inside the encode/scan kernels.

This follows the published XXH64 algorithm (xxHash specification, "XXH64 algorithm
description"); ``tests/journal/test_xxh64.py`` checks it against the ``xxhash`` library.
All arithmetic is on ``np.uint64`` on purpose: in Numba, mixing uint64 with a signed
int promotes to float64, which would silently break the hash.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PRIME64_1 = np.uint64(0x9E3779B185EBCA87)
PRIME64_2 = np.uint64(0xC2B2AE3D27D4EB4F)
PRIME64_3 = np.uint64(0x165667B19E3779F9)
PRIME64_4 = np.uint64(0x85EBCA77C2B2AE63)
PRIME64_5 = np.uint64(0x27D4EB2F165667C5)


@njit(cache=True, inline="always")
def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@njit(cache=True, inline="always")
def read_u64(buf, p):
    """Little-endian u64 at any byte offset.

    The index is made unsigned so Numba emits no negative-index wraparound check;
    without that check LLVM folds the eight byte loads into one (about 8x faster).
    """
    q = np.uint64(p)
    v = np.uint64(0)
    for k in range(8):
        v |= np.uint64(buf[q + np.uint64(k)]) << np.uint64(8 * k)
    return v


@njit(cache=True, inline="always")
def read_u32(buf, p):
    q = np.uint64(p)
    v = np.uint64(0)
    for k in range(4):
        v |= np.uint64(buf[q + np.uint64(k)]) << np.uint64(8 * k)
    return v


@njit(cache=True, inline="always")
def _round(acc, lane):
    acc = acc + lane * PRIME64_2
    acc = _rotl(acc, 31)
    return acc * PRIME64_1


@njit(cache=True, inline="always")
def _merge(acc, v):
    acc = acc ^ _round(np.uint64(0), v)
    return acc * PRIME64_1 + PRIME64_4


@njit(cache=True)
def xxh64(buf, start, length, seed=0):
    """XXH64 of ``buf[start:start+length]`` (``buf`` a 1-D uint8 array)."""
    seed = np.uint64(seed)
    p = start
    end = start + length
    if length >= 32:
        v1 = seed + PRIME64_1 + PRIME64_2
        v2 = seed + PRIME64_2
        v3 = seed
        v4 = seed - PRIME64_1
        limit = end - 32
        while p <= limit:
            v1 = _round(v1, read_u64(buf, p))
            v2 = _round(v2, read_u64(buf, p + 8))
            v3 = _round(v3, read_u64(buf, p + 16))
            v4 = _round(v4, read_u64(buf, p + 24))
            p += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = seed + PRIME64_5
    h = h + np.uint64(length)
    while p + 8 <= end:
        h = h ^ _round(np.uint64(0), read_u64(buf, p))
        h = _rotl(h, 27) * PRIME64_1 + PRIME64_4
        p += 8
    if p + 4 <= end:
        h = h ^ (read_u32(buf, p) * PRIME64_1)
        h = _rotl(h, 23) * PRIME64_2 + PRIME64_3
        p += 4
    while p < end:
        h = h ^ (np.uint64(buf[p]) * PRIME64_5)
        h = _rotl(h, 11) * PRIME64_1
        p += 1
    # avalanche
    h = h ^ (h >> np.uint64(33))
    h = h * PRIME64_2
    h = h ^ (h >> np.uint64(29))
    h = h * PRIME64_3
    h = h ^ (h >> np.uint64(32))
    return h
