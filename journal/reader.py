"""JournalReader (random access and whole-journal iteration) and JournalTailer (follow a
live writer). Both only read: segment files are mapped read-only and LMDB is only read.

A bad frame where a writer may still be writing (the end of the last, unsealed segment,
with nothing valid after it) is the end of the data, not an error: a reader never returns
a half-written frame and never raises on one. A bad frame anywhere else raises
CorruptJournal naming its seq.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import kernels as K
from .errors import CorruptJournal, JournalError
from .format import (
    KIND_INPUT, KIND_NAMES, SEGMENT_HEADER, SealInfo, SegmentHeader, frame_size,
    list_segments, load_header, read_seal_file,
)
from .meta import MetaHolder, open_meta
from .segment import Mapped, bad_frame_seq, valid_frame_after

_MAX_SEQ = (1 << 63) - 1  # kernels take int64 bounds
_ALL = 1 << 62


class _Seg:
    """One segment file: its header, its seal once sealed, a lazy read-only mapping."""

    def __init__(self, directory: Path, index: int, path: Path, header: SegmentHeader):
        self.directory = directory
        self.index = index
        self.path = path
        self.header = header
        self.seal: SealInfo | None = read_seal_file(directory, index)
        self._m: Mapped | None = None

    @property
    def buf(self) -> np.ndarray:
        if self._m is None:
            self._m = Mapped(self.path)
        return self._m.buf

    def limit(self) -> int:
        """Where frames may end: the sealed end, or the file size while still written."""
        if self.seal is not None:
            return self.seal.end
        self.buf
        return self._m.size

    def reseal(self) -> bool:
        """Pick up a seal the writer wrote since we last looked."""
        if self.seal is None:
            self.seal = read_seal_file(self.directory, self.index)
        return self.seal is not None

    def close(self) -> None:
        if self._m is not None:
            self._m.close()
            self._m = None


class JournalReader(MetaHolder):
    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise JournalError(f"{self.path}: no such journal directory")
        self._segs: list[_Seg] = []
        self._meta = open_meta(self.path, create=False)
        self._kind = None
        self.record_size = None
        try:
            self.refresh()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ structure
    @property
    def kind(self) -> str:
        return KIND_NAMES[self._kind]

    def _list(self) -> None:
        """(Re)list segment files, keeping mappings of the ones already known."""
        known = {s.index: s for s in self._segs}
        listed = list_segments(self.path)
        if not listed:
            raise JournalError(f"{self.path}: no journal segments")
        segs = []
        for idx, p in listed:
            s = known.pop(idx, None)
            if s is None:
                hdr = load_header(p, self._kind, self.record_size, idx)
                if self._kind is None:
                    self._kind, self.record_size = hdr.kind, hdr.record_size
                    self._fsize = frame_size(hdr.record_size)
                s = _Seg(self.path, idx, p, hdr)
            segs.append(s)
        for s in known.values():  # deleted by truncation
            s.close()
        self._segs = segs

    def refresh(self) -> None:
        """Re-read the journal's extent (new segments, new frames)."""
        self._list()
        for s in self._segs:
            s.reseal()
        # sealed segments say their first and last seq; only an open one is scanned
        self.first_seq, self.last_seq = None, 0
        for s in self._segs:
            if self._seg_end(s) > SEGMENT_HEADER:
                self.first_seq = s.seal.first_seq if s.seal else self._seq_at(s, SEGMENT_HEADER)
                break
        for s in reversed(self._segs):
            end = self._seg_end(s)
            if end > SEGMENT_HEADER:
                self.last_seq = s.seal.last_seq if s.seal else self._seq_at(s, end - self._fsize)
                break

    def _seq_at(self, seg: _Seg, off: int) -> int:
        return int(seg.buf[off + 8:off + 16].view("<u8")[0])

    def _seg_end(self, seg: _Seg) -> int:
        """Offset after the last valid frame of a segment."""
        if seg.seal is not None:
            return seg.seal.end
        start = SEGMENT_HEADER
        ent = self._meta.index_floor(_ALL) if self._meta is not None else None
        if ent is not None and ent[1] == seg.index and self._entry_ok(seg, ent):
            start = ent[2]  # scan only the frames after the last index entry
        buf, limit = seg.buf, seg.limit()
        _, end, status = K.scan_frames(buf, start, limit, self._fsize, _ALL)
        if status == K.BAD:
            self._check_bad(seg, end)
        return end

    def _entry_ok(self, seg: _Seg, ent) -> bool:
        off = ent[2]
        return (SEGMENT_HEADER <= off and off + self._fsize <= seg.limit()
                and self._seq_at(seg, off) == ent[0])

    def _check_bad(self, seg: _Seg, off: int) -> None:
        """A bad frame at ``off``: fine at the live end of the journal, else corruption."""
        last = seg is self._segs[-1]
        if not seg.reseal() and last:
            if valid_frame_after(seg.buf, off, seg.limit(), self._fsize) < 0:
                return  # being written, or a torn tail the writer's recovery will drop
            # Frames after it are complete. If the writer finished this one meanwhile
            # (it writes in order), it was only in flight: the next read picks it up.
            if K.frame_ok(seg.buf, off, self._fsize):
                return
        have = off > SEGMENT_HEADER
        prev = self._seq_at(seg, off - self._fsize) if have else 0
        seq = bad_frame_seq(self._kind, seg.buf, off, self._fsize, have, prev,
                            seg.header.first_seq)
        raise CorruptJournal(f"{seg.path}: damaged frame at offset {off} (seq {seq})",
                             seq=seq, offset=off, segment=seg.index)

    def _seek(self, from_seq: int) -> tuple[int, int]:
        """Position (segment number, offset) at or before the first frame with
        seq >= from_seq, from segment headers refined by the sparse index."""
        gapless = self._kind == KIND_INPUT
        pos = (0, SEGMENT_HEADER)
        for i, s in enumerate(self._segs):
            f = s.header.first_seq
            # an output segment's first_seq is a lower bound that the previous segment's
            # last frames may share, so only a strictly lower one lets us skip them
            if f <= from_seq if gapless else f < from_seq:
                pos = (i, SEGMENT_HEADER)
        if self._meta is not None:
            ent = self._meta.index_floor(from_seq)
            if ent is not None:
                for i, s in enumerate(self._segs):
                    if s.index == ent[1] and (i, ent[2]) > pos and self._entry_ok(s, ent):
                        pos = (i, ent[2])
        return self._segs[pos[0]].index, pos[1]

    # ------------------------------------------------------------- reading
    def _pump(self, pos, lo, hi, out, n, cap):
        """Copy frames with lo <= seq <= hi from ``pos`` (segment number, offset) into
        ``out`` (records n..cap). Returns (records in out, new position, FULL/PAST/END)."""
        number, off = pos
        i = next((k for k, s in enumerate(self._segs) if s.index == number), None)
        if i is None:
            raise JournalError(f"{self.path}: segment {number} is gone (truncated?)")
        fs = self._fsize
        while True:
            seg = self._segs[i]
            n, off, st = K.copy_frames(seg.buf, off, seg.limit(), fs, lo, hi, out, n, cap)
            if st in (K.FULL, K.PAST):
                return n, (seg.index, off), st
            if st == K.BAD:
                self._check_bad(seg, off)
                return n, (seg.index, off), K.END
            if seg.seal is None:
                if seg.reseal():
                    continue  # sealed meanwhile: its last frames are all there now
                # the writer seals a segment before it creates the next one
                if i + 1 < len(self._segs):
                    raise CorruptJournal(f"{seg.path}: segment {seg.index} is not sealed but "
                                         f"segment {seg.index + 1} follows", segment=seg.index)
                return n, (seg.index, off), K.END
            if off != seg.seal.end:
                raise CorruptJournal(f"{seg.path}: frames end at offset {off} but the seal "
                                     f"says {seg.seal.end}", offset=off, segment=seg.index)
            if i + 1 >= len(self._segs):
                self._list()  # the writer may have started the next segment since
                i = next(k for k, s in enumerate(self._segs) if s.index == seg.index)
                if i + 1 >= len(self._segs):
                    return n, (seg.index, off), K.END
            seg.close()  # done with it: do not keep a whole journal mapped
            i, off = i + 1, SEGMENT_HEADER

    def _records(self, out: np.ndarray, n: int) -> np.ndarray:
        return out[:n * self.record_size].view(np.dtype((np.void, self.record_size)))

    def iter_batches(self, from_seq: int = 1, to_seq: int | None = None,
                     batch_records: int = 65536):
        """Yield the frames with from_seq <= seq <= to_seq (to the current end if None)
        in order, as arrays of at most ``batch_records`` records, checking every hash."""
        self._list()
        hi = _MAX_SEQ if to_seq is None else to_seq
        if hi < from_seq:
            return
        pos = self._seek(from_seq)
        while True:
            out = np.empty(batch_records * self.record_size, np.uint8)
            n, pos, st = self._pump(pos, from_seq, hi, out, 0, batch_records)
            if n:
                yield self._records(out, n)
            if st != K.FULL:
                return

    def read(self, from_seq: int, to_seq: int) -> np.ndarray:
        """The records with from_seq <= seq <= to_seq (a copy); clipped to what exists."""
        batch = 65536
        if self._kind == KIND_INPUT:  # gapless: the size is known, allocate just that
            batch = max(1, min(batch, to_seq - from_seq + 1))
        parts = list(self.iter_batches(from_seq, to_seq, batch))
        if not parts:
            return np.empty(0, np.dtype((np.void, self.record_size)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def frame_count(self) -> int:
        """Frames in the journal now."""
        self._list()
        total = 0
        for s in self._segs:
            s.reseal()
            total += s.seal.frames if s.seal is not None else \
                (self._seg_end(s) - SEGMENT_HEADER) // self._fsize
        return total

    def close(self) -> None:
        for s in self._segs:
            s.close()
        self._segs = []
        super().close()


class JournalTailer:
    """Follow a journal as it is written: each ``poll`` returns the complete frames
    appended since the previous one, across segment rollovers."""

    def __init__(self, path, from_seq: int = 1):
        self._r = JournalReader(path)
        self.from_seq = from_seq
        self._pos = None
        self.record_size = self._r.record_size
        self.kind = self._r.kind

    def poll(self, max_records: int = 65536) -> np.ndarray:
        r = self._r
        if self._pos is None:
            r._list()
            self._pos = r._seek(self.from_seq)
        out = np.empty(max_records * r.record_size, np.uint8)
        n, self._pos, _ = r._pump(self._pos, self.from_seq, _MAX_SEQ, out, 0, max_records)
        recs = r._records(out, n)
        # a small result is copied so it does not pin the whole max_records buffer
        return recs.copy() if n < max_records // 2 else recs

    def close(self) -> None:
        self._r.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def batches_if_any(path, batch_records: int = 65536):
    """Every record of a journal in batches, or nothing if there is no journal there yet
    (a process starting before the day's first record: nothing to recover)."""
    path = Path(path)
    if not path.is_dir():
        return
    try:
        reader = JournalReader(path)
    except JournalError:
        return
    with reader:
        yield from reader.iter_batches(batch_records=batch_records)
