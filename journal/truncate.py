"""Cut a journal back to a seq: the one way records ever leave a journal.

Only a node rejoining as standby does this, for records the new primary never had
(the unacknowledged tail a dead primary journaled but never processed, or what an
isolated old primary wrote after the new epoch began). A writer must not have the
journal open; the cut takes the writer lock itself. Segments after the cut are
deleted, the segment holding it loses its seal and is zeroed from the cut on (so
the next ``JournalWriter.open`` adopts it as the open segment), and index entries and
snapshots past the cut are dropped. The removed records are first copied to
``<journal>/truncated-<after_seq>.bin`` (raw records) so an auditor can see them.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np

from . import kernels as K
from .errors import JournalError
from .format import SEGMENT_HEADER, frame_size, list_segments, load_header, seal_path
from .meta import open_meta, seq_key
from .reader import JournalReader
from .segment import Mapped, frame_columns
from .snapshots import SnapshotStore

_ALL = 1 << 62


def truncate(path, after_seq: int) -> int:
    """Remove every frame with seq > ``after_seq``; returns how many were removed."""
    d = Path(path)
    lock_fd = os.open(d / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalError(f"{d}: a writer has this journal open; close it before truncating") from None
        return _truncate(d, after_seq)
    finally:
        os.close(lock_fd)


def _truncate(d: Path, after_seq: int) -> int:
    segs = list_segments(d)
    if not segs:
        return 0
    with JournalReader(d) as r:
        tail = [b.copy() for b in r.iter_batches(from_seq=after_seq + 1)]
    removed = sum(len(b) for b in tail)
    if removed == 0:
        return 0
    (d / f"truncated-{after_seq}.bin").write_bytes(b"".join(b.tobytes() for b in tail))

    # The first segment holding a frame past the cut; everything after it goes.
    cut_at = None
    for idx, p in segs:
        hdr = load_header(p, None, None, idx)
        fsize = frame_size(hdr.record_size)
        m = Mapped(p, writable=True)
        try:
            n, end, _ = K.scan_frames(m.buf, SEGMENT_HEADER, m.size, fsize, _ALL)
            seqs, _, _ = frame_columns(m.buf, SEGMENT_HEADER, n, fsize)
            past = np.flatnonzero(seqs > after_seq)
            if len(past):
                off = SEGMENT_HEADER + int(past[0]) * fsize
                m.buf[off:end] = 0
                m.mm.flush()
                cut_at = idx
        finally:
            m.close()
        if cut_at is not None:
            break
    if cut_at is None:
        raise JournalError(f"{d}: no frame past seq {after_seq} found to cut")
    meta = open_meta(d, create=True)
    try:
        with meta.env.begin(write=True, db=meta.dbs[b"seals"]) as txn:
            for idx, p in segs:
                if idx >= cut_at:
                    txn.delete(seq_key(idx))
        for idx, p in segs:
            if idx >= cut_at:
                seal_path(d, idx).unlink(missing_ok=True)
            if idx > cut_at:
                p.unlink()
        meta.sync()
    finally:
        meta.close()
    # Index entries past the cut are dropped by the next writer's recovery.
    with SnapshotStore(d) as store:
        for seq in store.list():
            if seq > after_seq:
                store.delete(seq)
    return removed
