"""Numba kernels over segment bytes: encode a batch into frames, scan and copy frames.

A frame is ``length u4, type u2, version u2, seq u8, ts i8, payload, xxh64 u8`` (see
``format.py``). Buffers are 1-D uint8 arrays (a segment's mmap or a flat batch of
records). Indices are converted to unsigned before use: Numba then emits no
negative-index wraparound check, which lets LLVM turn byte loops into wide loads/stores.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .xxh64 import read_u32, read_u64, xxh64

# scan / copy outcomes
END = 0    # a zero length field, or no room left for a frame before the limit
BAD = 1    # a frame with the wrong length or a hash mismatch starts at the returned offset
FULL = 2   # the output (or max_frames) is full
PAST = 3   # the next frame's seq is above the requested range

# order check outcomes
ORDER_OK = 0
ORDER_GAP = 1      # input journal: seq is not previous + 1
ORDER_SEQ = 2      # output journal: seq went backwards
ORDER_TS = 3       # ts went backwards


@njit(cache=True, inline="always")
def _put_u64(buf, p, v):
    q = np.uint64(p)
    for k in range(8):
        buf[q + np.uint64(k)] = np.uint8((v >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(cache=True, inline="always")
def _put_u32(buf, p, v):
    q = np.uint64(p)
    for k in range(4):
        buf[q + np.uint64(k)] = np.uint8((v >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(cache=True, inline="always")
def _copy(dst, d, src, s, n):
    dq = np.uint64(d)
    sq = np.uint64(s)
    for k in range(n):
        kk = np.uint64(k)
        dst[dq + kk] = src[sq + kk]


@njit(cache=True)
def frame_ok(buf, off, fsize):
    """True if a complete frame with the right length and hash starts at ``off``."""
    if off + fsize > buf.shape[0]:
        return False
    if read_u32(buf, off) != np.uint64(fsize):
        return False
    return xxh64(buf, off, fsize - 8, 0) == read_u64(buf, off + fsize - 8)


@njit(cache=True)
def check_order(recs, rsize, have_prev, prev_seq, prev_ts, gapless):
    """First record of a flat batch that breaks the journal's order, as (index, what);
    (-1, ORDER_OK) if none. Seq and ts are the record header's bytes 16..24 and 24..32."""
    n = recs.shape[0] // rsize
    p_seq = np.uint64(prev_seq)
    p_ts = np.int64(prev_ts)
    have = have_prev
    for i in range(n):
        seq = read_u64(recs, i * rsize + 16)
        ts = np.int64(read_u64(recs, i * rsize + 24))  # int casts wrap: the signed ts
        if have:
            if gapless and seq != p_seq + np.uint64(1):
                return i, ORDER_GAP
            if not gapless and seq < p_seq:
                return i, ORDER_SEQ
            if ts < p_ts:
                return i, ORDER_TS
        elif gapless and seq != np.uint64(1) + p_seq:
            # a fresh input journal starts at prev_seq + 1 (prev_seq is 0 then)
            return i, ORDER_GAP
        have = True
        p_seq = seq
        p_ts = ts
    return -1, ORDER_OK


@njit(cache=True, inline="always")
def _index_step(seq, off, since_index, have, p_seq, index_every, idx_seq, idx_off, n_idx):
    """The sparse-index rule, one place for writer and recovery: a frame gets an entry
    when ``since_index`` has reached ``index_every`` and its seq differs from the
    previous frame's, so every entry points at the first frame of its seq.
    Returns (since_index, n_idx) after this frame."""
    if since_index >= index_every and (not have or seq != p_seq):
        idx_seq[n_idx] = seq
        idx_off[n_idx] = off
        n_idx += 1
        since_index = 0
    return since_index + 1, n_idx


@njit(cache=True)
def encode_frames(recs, rsize, first, dst, off, limit, since_index, have_prev, prev_seq,
                  index_every, idx_seq, idx_off):
    """Frame records ``first..`` of a flat batch into ``dst`` from ``off`` while they fit
    below ``limit``. Returns (next record, next offset, since_index, index entries).

    Index entries follow ``_index_step`` (a new segment starts with since_index at
    index_every, so its first frame is indexed).
    """
    n = recs.shape[0] // rsize
    fsize = rsize + 32
    body = fsize - 8
    limit = min(limit, dst.shape[0])
    i = first
    n_idx = 0
    p_seq = np.uint64(prev_seq)
    have = have_prev
    while i < n and off + fsize <= limit:
        src = i * rsize
        seq = read_u64(recs, src + 16)
        since_index, n_idx = _index_step(seq, off, since_index, have, p_seq, index_every,
                                         idx_seq, idx_off, n_idx)
        _put_u32(dst, off, np.uint64(fsize))
        _copy(dst, off + 4, recs, src, 4)         # type, version
        _copy(dst, off + 8, recs, src + 16, 16)   # seq, ts
        _copy(dst, off + 24, recs, src, rsize)    # the record itself
        _put_u64(dst, off + body, xxh64(dst, off, body, 0))
        have = True
        p_seq = seq
        off += fsize
        i += 1
    return i, off, since_index, n_idx


@njit(cache=True)
def scan_frames(buf, off, limit, fsize, max_frames):
    """Walk valid frames from ``off``: returns (frames, offset after them, END/BAD/FULL)."""
    limit = min(limit, buf.shape[0])  # Numba does not bounds-check: never trust a limit
    n = 0
    while n < max_frames:
        if off + 4 > limit or read_u32(buf, off) == np.uint64(0):
            return n, off, END
        if off + fsize > limit or not frame_ok(buf, off, fsize):
            return n, off, BAD
        off += fsize
        n += 1
    return n, off, FULL


@njit(cache=True)
def copy_frames(buf, off, limit, fsize, lo, hi, out, pos, cap):
    """Copy payloads of valid frames with lo <= seq <= hi from ``off`` into the flat
    record buffer ``out`` (records ``pos..cap``); frames below ``lo`` are skipped.
    Returns (records in out, offset reached, END/BAD/FULL/PAST)."""
    rsize = fsize - 32
    limit = min(limit, buf.shape[0])
    lo_ = np.uint64(lo)
    hi_ = np.uint64(hi)
    while True:
        if off + 4 > limit or read_u32(buf, off) == np.uint64(0):
            return pos, off, END
        if off + fsize > limit or not frame_ok(buf, off, fsize):
            return pos, off, BAD
        seq = read_u64(buf, off + 8)
        if seq > hi_:
            return pos, off, PAST
        if seq >= lo_:
            if pos >= cap:
                return pos, off, FULL
            _copy(out, pos * rsize, buf, off + 24, rsize)
            pos += 1
        off += fsize


@njit(cache=True)
def find_valid_frame(buf, off, limit, fsize):
    """Offset of the first valid frame at ``off + k * fsize`` (k >= 0), or -1: tells a
    torn tail (nothing valid after it) from corruption (valid frames after it)."""
    limit = min(limit, buf.shape[0])
    while off + fsize <= limit:
        if frame_ok(buf, off, fsize):
            return off
        off += fsize
    return -1


@njit(cache=True)
def index_frames(buf, off, end, fsize, since_index, have_prev, prev_seq, index_every,
                 idx_seq, idx_off):
    """Apply ``_index_step`` over frames already written in [off, end) (recovery)."""
    n_idx = 0
    p_seq = np.uint64(prev_seq)
    have = have_prev
    end = min(end, buf.shape[0])
    while off + fsize <= end:
        seq = read_u64(buf, off + 8)
        since_index, n_idx = _index_step(seq, off, since_index, have, p_seq, index_every,
                                         idx_seq, idx_off, n_idx)
        have = True
        p_seq = seq
        off += fsize
    return n_idx, since_index, p_seq
