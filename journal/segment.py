"""Helpers shared by the writer, readers and verify: mapping segment files and naming
what is wrong with the bytes after the last valid frame."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

from .errors import FormatError
from .format import FRAME_HEADER, KIND_INPUT, SEGMENT_HEADER
from .kernels import find_valid_frame


class Mapped:
    """A whole segment file memory-mapped as a uint8 array (read-only unless writable)."""

    def __init__(self, path: Path, writable: bool = False):
        self.path = path
        self.fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        try:
            self.size = os.fstat(self.fd).st_size
            if self.size < SEGMENT_HEADER:
                raise FormatError(f"{path}: {self.size} bytes, too short for a segment")
            prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
            self.mm = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED, prot)
        except BaseException:
            os.close(self.fd)
            raise
        if not writable:
            # the mmap holds its own duplicate; only a writer needs ours (for fdatasync),
            # and a reader that is never closed then leaks no descriptor
            os.close(self.fd)
            self.fd = None
        self.buf = np.frombuffer(self.mm, np.uint8)

    def close(self) -> None:
        if self.mm is None:
            return
        self.buf = None  # numpy views pin the mmap: drop ours before closing it
        try:
            self.mm.close()
        except BufferError:
            pass  # someone still holds a view (e.g. a traceback): unmapped when it goes
        self.mm = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def frame_columns(buf: np.ndarray, off: int, n: int, fsize: int):
    """Copies of the seq, ts and type of ``n`` frames at ``off`` (no view of ``buf`` kept)."""
    frames = buf[off:off + n * fsize].reshape(n, fsize)
    return (frames[:, 8:16].copy().view("<u8").ravel(),
            frames[:, 16:24].copy().view("<i8").ravel(),
            frames[:, 4:6].copy().view("<u2").ravel())


def last_nonzero(buf: np.ndarray, start: int, stop: int) -> int:
    """Offset of the last non-zero byte in [start, stop), -1 if all zero."""
    region = buf[start:stop]
    if not region.any():
        return -1
    return start + int(np.flatnonzero(region)[-1])


def valid_frame_after(buf: np.ndarray, end: int, limit: int, fsize: int) -> int:
    """First valid frame in a later frame slot than the bad one at ``end``, or -1."""
    return int(find_valid_frame(buf, end + fsize, limit, fsize))


def bad_frame_seq(kind: int, buf: np.ndarray, off: int, fsize: int, have_prev: bool,
                  last_seq: int, first_seq: int) -> int:
    """The seq a damaged frame at ``off`` holds or should hold.

    Input journals are gapless, so it is the previous seq + 1. An output journal's seq
    can repeat or jump, so it is read from the frame, preferring a value that the frame
    header and the record's own header agree on and that keeps the order.
    """
    floor = last_seq if have_prev else first_seq
    if kind == KIND_INPUT:
        return last_seq + 1 if have_prev else first_seq
    cands = []
    for p in (off + 8, off + FRAME_HEADER + 16):
        if p + 8 <= buf.shape[0]:
            cands.append(int(buf[p:p + 8].view("<u8")[0]))
    if len(cands) == 2 and cands[0] == cands[1] and cands[0] >= floor:
        return cands[0]
    ok = [c for c in cands if c >= floor]
    return min(ok) if ok else floor


def order_violation(seqs, tss, have, last_seq, last_ts, gapless):
    """First frame that breaks the journal order, as (index, "gap"|"order", text), or None.

    Input journals (``gapless``) need seq + 1 each frame, output journals a non-decreasing
    seq; ts never goes backwards. ``have`` says whether (last_seq, last_ts) precede.
    """
    if len(seqs) == 0:
        return None
    s = seqs.astype(np.int64)
    prev_s = np.concatenate(([last_seq], s[:-1])) if have else s[:-1]
    prev_t = np.concatenate(([last_ts], tss[:-1])) if have else tss[:-1]
    cur_s = s if have else s[1:]
    cur_t = tss if have else tss[1:]
    shift = 0 if have else 1
    bad_s = (cur_s != prev_s + 1) if gapless else (cur_s < prev_s)
    bad_t = cur_t < prev_t
    bad = np.flatnonzero(bad_s | bad_t)
    if len(bad) == 0:
        return None
    k = int(bad[0])
    i = k + shift
    if bad_s[k]:
        if gapless:
            return i, "gap", f"has seq {int(s[i])}, expected {int(prev_s[k]) + 1}"
        return i, "order", f"has seq {int(s[i])}, below the previous seq {int(prev_s[k])}"
    return i, "order", (f"(seq {int(s[i])}) has ts {int(tss[i])}, before the previous ts "
                        f"{int(prev_t[k])}")
