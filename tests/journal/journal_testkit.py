"""Helpers for the journal tests: raw records with a valid header, frame arithmetic."""

from __future__ import annotations

import numpy as np

SMALL_SEGMENT = 64 << 10
HEADER = 128  # segment header bytes


def records(seqs, size=128, types=1, ts=None, seed=0) -> np.ndarray:
    """Raw records (np.void of ``size``) with the given seqs; ts defaults to 1000 + seq.

    Payload bytes after the header are pseudo-random but never zero, so a torn frame's tail
    is always distinguishable from the zeros after it.
    """
    seqs = np.asarray(seqs, np.uint64)
    n = len(seqs)
    out = np.zeros(n, np.dtype((np.void, size)))
    u = out.view(np.uint8).reshape(n, size)
    u[:, 0:2] = np.array(np.broadcast_to(np.asarray(types, "<u2"), n)).view(np.uint8).reshape(n, 2)
    u[:, 2:4] = np.frombuffer(np.uint16(1).tobytes(), np.uint8)
    u[:, 4:8] = np.frombuffer(np.uint32(7).tobytes(), np.uint8)  # source_id
    u[:, 8:16] = seqs.astype("<u8").view(np.uint8).reshape(n, 8)  # source_seq
    u[:, 16:24] = seqs.astype("<u8").view(np.uint8).reshape(n, 8)
    t = (1000 + seqs.astype(np.int64)) if ts is None else np.broadcast_to(np.asarray(ts, "<i8"), n)
    u[:, 24:32] = np.array(t, "<i8").view(np.uint8).reshape(n, 8)
    # a function of (seq, position): the same seq always gets the same payload
    k = np.arange(size - 32, dtype=np.uint64)
    mix = (seqs[:, None] + np.uint64(seed)) * np.uint64(0x9E3779B1) + k * np.uint64(0x85EBCA77)
    u[:, 32:] = ((mix >> np.uint64(13)) % np.uint64(255) + np.uint64(1)).astype(np.uint8)
    return out


def seq_range(first, n, **kw) -> np.ndarray:
    return records(np.arange(first, first + n), **kw)


def seqs_of(recs: np.ndarray) -> np.ndarray:
    n = len(recs)
    size = recs.dtype.itemsize
    return recs.view(np.uint8).reshape(n, size)[:, 16:24].copy().view("<u8").ravel()


def frames_per_segment(segment_bytes=SMALL_SEGMENT, record_size=128) -> int:
    return (segment_bytes - HEADER) // (record_size + 32)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bytes(a.view(np.uint8)) == bytes(b.view(np.uint8))
