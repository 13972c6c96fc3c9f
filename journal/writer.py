"""JournalWriter: append batches of fixed-size records to memory-mapped segment files.

One process writes a journal (an flock on ``writer.lock`` enforces it); any number of
readers and tailers follow it from other processes. ``open()`` recovers whatever a
crash left: a torn last frame is zeroed and reported, anything worse raises.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sequencer.records import COMMAND_SIZE

from . import kernels as K
from .errors import CorruptJournal, JournalError
from .format import (
    DEFAULT_SEGMENT_BYTES, KIND_INPUT, KIND_NAMES, SEGMENT_HEADER, ZERO_SEAL, SealInfo,
    SegmentHeader, fsync_dir, frame_size, kind_code, list_segments, load_header,
    new_sealer, read_header_bytes, read_seal_file, segment_path,
    write_seal_file,
)
from .meta import open_meta
from .segment import (
    Mapped, bad_frame_seq, frame_columns, last_nonzero, order_violation, valid_frame_after,
)

log = logging.getLogger(__name__)

FSYNC_POLICIES = ("none", "batch", "always")
FLUSH_INTERVAL = 0.005  # s between background rounds (seal hashing, fsync="batch" flushes)
HASH_CHUNK = 4 << 20    # bytes hashed per lock hold, so a rollover never waits long
_ALL = 1 << 62          # "no limit" for frame counts


@dataclass
class RecoveryReport:
    last_seq: int
    last_ts: int
    truncated_bytes: int
    torn_at_seq: int | None
    segments: int
    message: str


class JournalWriter:
    def __init__(self, path, kind: str = "input", record_size: int = COMMAND_SIZE,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, fsync: str = "batch",
                 index_every: int = 1024, seal_key: bytes | None = None):
        self.path = Path(path)
        self.kind = kind
        self._kind = kind_code(kind)
        if record_size < 32 or record_size % 8:
            raise JournalError(f"record_size must be a multiple of 8, at least 32: {record_size}")
        self.record_size = record_size
        self._fsize = frame_size(record_size)
        if segment_bytes % 8 or segment_bytes < SEGMENT_HEADER + self._fsize:
            raise JournalError(f"segment_bytes must be a multiple of 8 holding at least one "
                               f"frame ({SEGMENT_HEADER + self._fsize} bytes): {segment_bytes}")
        self.segment_bytes = segment_bytes
        if fsync not in FSYNC_POLICIES:
            raise JournalError(f"fsync must be one of {FSYNC_POLICIES}, not {fsync!r}")
        self.fsync = fsync
        if index_every < 1:
            raise JournalError("index_every must be >= 1")
        self.index_every = index_every
        self.seal_key = seal_key
        self._gapless = self._kind == KIND_INPUT
        self._open = False
        self._seg: Mapped | None = None
        # The background thread hashes new frames into the running seal and (fsync="batch")
        # flushes; the lock keeps it off a segment that is being sealed or unmapped.
        self._lock = threading.RLock()
        self._rolling = False  # asks the background thread to let go of the lock
        self._dirty = False
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._meta = None
        self.last_seq = 0
        self.last_ts = 0
        self.count = 0

    # ------------------------------------------------------------------ open
    def open(self) -> RecoveryReport:
        if self._open:
            raise JournalError(f"{self.path}: writer already open")
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.path / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise JournalError(f"{self.path}: another writer has this journal open") from None
        try:
            self._meta = open_meta(self.path, create=True)
            report = self._recover()
        except BaseException:
            self._release()
            raise
        self._open = True
        self._stop.clear()
        self._worker = threading.Thread(target=self._background, daemon=True,
                                        name=f"journal-writer:{self.path.name}")
        self._worker.start()
        log.info("journal %s: %s", self.path, report.message)
        return report

    def __enter__(self):
        if not self._open:
            self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def _recover(self) -> RecoveryReport:
        d = self.path
        notes = []
        segs = list_segments(d)
        # a last segment created without fsync whose header never reached the disk:
        # nothing was in it (removed below, once the rest is known to be ours)
        empty_last = segs.pop() if segs and self._all_zero(segs[-1][1]) else None

        headers = []
        for i, (idx, p) in enumerate(segs):
            if i and idx != segs[i - 1][0] + 1:
                raise CorruptJournal(f"{d}: segment {segs[i - 1][0] + 1} is missing",
                                     segment=segs[i - 1][0] + 1)
            hdr = load_header(p, self._kind, self.record_size, idx)
            headers.append(hdr)
        if empty_last is not None:
            empty_last[1].unlink()
            notes.append(f"removed empty segment file {empty_last[1].name}")
        for stray in d.glob("*.tmp"):  # a segment or seal file whose creation was cut short
            stray.unlink()
            notes.append(f"removed unfinished {stray.name}")
        seals = [read_seal_file(d, idx) for idx, _ in segs]
        for (idx, p), info in zip(segs[:-1], seals[:-1]):
            if info is None:
                raise CorruptJournal(f"{p}: segment {idx} has no seal but segment {idx + 1} "
                                     f"follows it", segment=idx)
        for info in seals:
            if info is not None and self._meta.get_seal(info.segment) is None:
                self._meta.put_seal(info)  # crashed between the seal file and LMDB
        sealed_frames = sum(s.frames for s in seals if s is not None)

        truncated, torn = 0, None
        if not segs:
            self._have_prev, self.last_seq, self.last_ts = False, 0, 0
            self._start_segment(1, 1 if self._gapless else 0, ZERO_SEAL)
            notes.append("new journal")
            self.count = 0
        elif seals[-1] is not None:
            info = seals[-1]
            self._have_prev, self.last_seq = True, info.last_seq
            self.last_ts = self._frame_ts(segs[-1][1], info.end - self._fsize)
            self._start_segment(segs[-1][0] + 1, self._next_first_seq(), info.seal)
            notes.append(f"segment {segs[-1][0]} was sealed; started segment {segs[-1][0] + 1}")
            self.count = sealed_frames
        else:
            idx, p = segs[-1]
            prev = seals[-2] if len(segs) > 1 else None
            truncated, torn = self._recover_open_segment(idx, p, headers[-1], prev,
                                                         None if prev is None else segs[-2][1])
            self.count = sealed_frames + self._seg_frames
            if truncated:
                notes.append(f"truncated a torn tail of {truncated} bytes at seq {torn} "
                             f"in segment {idx}")
        self._repair_index(segs, seals)
        n_segs = len(list_segments(d))
        notes.append(f"last seq {self.last_seq}, {self.count} frames in {n_segs} segment(s)")
        return RecoveryReport(self.last_seq, self.last_ts, truncated, torn, n_segs,
                              "; ".join(notes))

    def _recover_open_segment(self, idx, p, hdr, prev: SealInfo | None, prev_path):
        """Adopt the unsealed last segment: find its end, zero a torn tail."""
        expected_prev = prev.seal if prev is not None else (ZERO_SEAL if idx == 1 else None)
        if idx > 1 and prev is None:
            lm = self._meta.get_seal(idx - 1)  # earlier segments were deleted; LMDB remembers
            expected_prev = lm.seal if lm is not None else None
        if expected_prev is not None and hdr.prev_seal != expected_prev:
            raise CorruptJournal(f"{p}: header does not carry the seal of segment {idx - 1}",
                                 offset=0, segment=idx)
        if prev is not None:
            have, last_seq = True, prev.last_seq
            last_ts = self._frame_ts(prev_path, prev.end - self._fsize)
        else:
            have, last_seq, last_ts = False, max(hdr.first_seq - 1, 0), 0

        m = Mapped(p, writable=True)
        try:
            fs = self._fsize
            n, end, status = K.scan_frames(m.buf, SEGMENT_HEADER, m.size, fs, _ALL)
            seqs, tss, _ = frame_columns(m.buf, SEGMENT_HEADER, n, fs)
            if n and (seqs[0] != hdr.first_seq if self._gapless else seqs[0] < hdr.first_seq):
                raise CorruptJournal(f"{p}: first frame has seq {seqs[0]}, header says "
                                     f"{hdr.first_seq}", seq=int(seqs[0]),
                                     offset=SEGMENT_HEADER, segment=idx)
            bad = order_violation(seqs, tss, have, last_seq, last_ts, self._gapless)
            if bad is not None:
                i, _, what = bad
                raise CorruptJournal(f"{p}: frame at offset {SEGMENT_HEADER + i * fs} {what}",
                                     seq=int(seqs[i]), offset=SEGMENT_HEADER + i * fs,
                                     segment=idx)
            if n:
                have, last_seq, last_ts = True, int(seqs[-1]), int(tss[-1])
            truncated, torn = 0, None
            lnz = last_nonzero(m.buf, end, m.size)
            if status == K.BAD or lnz >= 0:
                seq = bad_frame_seq(self._kind, m.buf, end, fs, have, last_seq, hdr.first_seq)
                later = valid_frame_after(m.buf, end, m.size, fs)
                if later >= 0:
                    raise CorruptJournal(
                        f"{p}: frame at offset {end} (seq {seq}) is damaged but a valid frame "
                        f"follows at offset {later}; not a torn tail, refusing to truncate",
                        seq=seq, offset=end, segment=idx)
                truncated, torn = lnz + 1 - end, seq
                m.buf[end:lnz + 1] = 0
                m.mm.flush()
        except BaseException:
            m.close()
            raise
        self._have_prev, self.last_seq, self.last_ts = have, last_seq, last_ts
        self._adopt_segment(idx, m, hdr.prev_seal, end, n,
                            int(seqs[0]) if n else None)
        return truncated, torn

    def _repair_index(self, segs, seals) -> None:
        """Drop index entries past the recovered end; add the tail's missing ones."""
        meta = self._meta
        meta.drop_index_after(self.last_seq if self._have_prev else -1, self._seg_index,
                              self._off)
        known = dict(segs)
        seal_of = {idx: s for (idx, _), s in zip(segs, seals)}
        ent = meta.index_floor(_ALL)
        if ent is not None and ent[1] in known:
            start_seg, off, since = ent[1], ent[2], 0  # the entry's frame is indexed already
        elif segs:
            start_seg, off, since = segs[0][0], SEGMENT_HEADER, self.index_every
        else:
            start_seg = None
        entries = []
        have, prev = False, 0
        if start_seg is not None:
            for idx in range(start_seg, self._seg_index + 1):
                if idx != start_seg:
                    off, since = SEGMENT_HEADER, self.index_every
                if idx == self._seg_index:
                    buf, end, m = self._seg.buf, self._off, None
                else:
                    m = Mapped(known[idx])
                    buf, end = m.buf, seal_of[idx].end
                try:
                    cap = (end - off) // self._fsize + 1
                    out_seq, out_off = np.empty(cap, np.uint64), np.empty(cap, np.int64)
                    n_idx, since, prev = K.index_frames(buf, off, end, self._fsize, since,
                                                        have, prev, self.index_every,
                                                        out_seq, out_off)
                    have = have or end > off
                    entries.append((idx, out_seq[:n_idx], out_off[:n_idx]))
                finally:
                    buf = None  # a live view would keep the mmap from closing
                    if m is not None:
                        m.close()
        if self._seg_frames == 0:
            since = self.index_every  # a fresh segment indexes its first frame
        self._since_index = since
        meta.put_index(entries)

    # --------------------------------------------------------------- segments
    def _next_first_seq(self) -> int:
        return self.last_seq + 1 if self._gapless else self.last_seq

    def _start_segment(self, index: int, first_seq: int, prev_seal: bytes) -> None:
        """Create a segment file (atomically, header first) and make it current."""
        header = SegmentHeader(self._kind, self.record_size, index, first_seq, prev_seal).pack()
        final = segment_path(self.path, index)
        tmp = final.with_name(final.name + ".tmp")
        durable = self.fsync != "none"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.pwrite(fd, header, 0)
            try:
                os.posix_fallocate(fd, 0, self.segment_bytes)  # reserve the blocks now
            except OSError:
                os.ftruncate(fd, self.segment_bytes)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        if durable:
            fsync_dir(self.path)
        self._adopt_segment(index, Mapped(final, writable=True), prev_seal, SEGMENT_HEADER, 0,
                            None)
        self._since_index = self.index_every

    def _adopt_segment(self, index, m: Mapped, prev_seal, end, frames, first_frame_seq):
        with self._lock:
            self._seg = m
            self._seg_index = index
            self._off = end
            self._seg_frames = frames
            self._seg_first = first_frame_seq
            # the seal is BLAKE2b over prev seal + segment bytes; fed as frames are written
            self._sealer = new_sealer(prev_seal, self.seal_key)
            self._hashed = 0
            self._hash_upto(end)

    def _hash_upto(self, end: int, chunk: int = 1 << 62) -> None:
        """Feed segment bytes up to ``end`` (at most ``chunk`` of them) to the running
        seal. hashlib releases the GIL for large updates, so in the background thread
        this runs beside the appends on another core."""
        with self._lock:
            stop = min(end, self._hashed + chunk)
            if stop > self._hashed:
                self._sealer.update(self._seg.buf[self._hashed:stop])
                self._hashed = stop

    def _seal_segment(self) -> SealInfo:
        """Seal the current segment: sidecar file, then LMDB."""
        durable = self.fsync != "none"
        self._hash_upto(self._off)
        if durable:
            os.fdatasync(self._seg.fd)  # the bytes a seal vouches for are on disk first
        info = SealInfo(self._seg_index, self._sealer.digest(), self._off, self._seg_first,
                        self.last_seq, self._seg_frames, self.seal_key is not None)
        write_seal_file(self.path, info, durable)
        self._meta.put_seal(info)
        if durable:
            self._meta.sync()
        return info

    def _roll(self) -> None:
        self._rolling = True  # Python locks are not fair: without this we could wait long
        with self._lock:
            self._rolling = False
            info = self._seal_segment()
            self._seg.close()
            self._seg = None
        self._start_segment(self._seg_index + 1, self._next_first_seq(), info.seal)

    def _frame_ts(self, path: Path, off: int) -> int:
        with open(path, "rb") as f:
            f.seek(off + 16)
            return int(np.frombuffer(f.read(8), "<i8")[0])

    @staticmethod
    def _all_zero(path: Path) -> bool:
        head = read_header_bytes(path)
        if any(head):
            return False
        if len(head) < SEGMENT_HEADER:  # even the file's size never reached the disk
            return True
        m = Mapped(path)
        try:
            return not m.buf.any()
        finally:
            m.close()

    # ---------------------------------------------------------------- append
    def append(self, records: np.ndarray) -> None:
        """Journal a batch of records; seq/ts come from each record's header.

        The whole batch is checked first: a gap (input journal), a seq going backwards
        (output journal) or ts going backwards raises JournalError with nothing written.
        """
        if not self._open:
            raise JournalError(f"{self.path}: writer is not open")
        a = np.asarray(records)
        if a.ndim != 1 or a.dtype.itemsize != self.record_size:
            raise JournalError(f"append takes a 1-D array of {self.record_size}-byte records, "
                               f"got shape {a.shape} of {a.dtype.itemsize}-byte items")
        n = a.shape[0]
        if n == 0:
            return
        flat = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
        rs = self.record_size
        i, what = K.check_order(flat, rs, self._have_prev, self.last_seq, self.last_ts,
                                self._gapless)
        if i >= 0:
            raise JournalError(self._order_message(flat, int(i), what))

        i = 0
        entries = []
        while True:
            cap = (n - i) // self.index_every + 2
            idx_seq, idx_off = np.empty(cap, np.uint64), np.empty(cap, np.int64)
            start = self._off
            j, off, self._since_index, n_idx = K.encode_frames(
                flat, rs, i, self._seg.buf, start, self._seg.size, self._since_index,
                self._have_prev, self.last_seq, self.index_every, idx_seq, idx_off)
            if j > i:
                if self._seg_frames == 0:
                    self._seg_first = int(flat[i * rs + 16:i * rs + 24].view("<u8")[0])
                last = (j - 1) * rs
                self.last_seq = int(flat[last + 16:last + 24].view("<u8")[0])
                self.last_ts = int(flat[last + 24:last + 32].view("<i8")[0])
                self._have_prev = True
                self._seg_frames += j - i
                self.count += j - i
                self._off = off
                if n_idx:
                    entries.append((self._seg_index, idx_seq[:n_idx], idx_off[:n_idx]))
            i = j
            if i >= n:
                break
            self._roll()  # the next frame does not fit: seal and start the next segment
        if entries:
            self._meta.put_index(entries)
        if self.fsync == "always":
            os.fdatasync(self._seg.fd)
        else:
            self._dirty = True

    def _order_message(self, flat, i, what) -> str:
        rs = self.record_size
        seq = int(flat[i * rs + 16:i * rs + 24].view("<u8")[0])
        ts = int(flat[i * rs + 24:i * rs + 32].view("<i8")[0])
        if i:
            pseq = int(flat[(i - 1) * rs + 16:(i - 1) * rs + 24].view("<u8")[0])
            pts = int(flat[(i - 1) * rs + 24:(i - 1) * rs + 32].view("<i8")[0])
        else:
            pseq, pts = self.last_seq, self.last_ts
        where = f"record {i} of the batch"
        if what == K.ORDER_GAP:
            return (f"{where}: seq {seq} breaks the gapless order (expected {pseq + 1}); "
                    f"nothing written")
        if what == K.ORDER_SEQ:
            return f"{where}: seq {seq} is below the previous seq {pseq}; nothing written"
        return f"{where} (seq {seq}): ts {ts} is before the previous ts {pts}; nothing written"

    # ------------------------------------------------------------ durability
    def flush(self) -> None:
        """Force the current segment (and LMDB) to disk."""
        if not self._open:
            return
        with self._lock:
            self._dirty = False
            os.fdatasync(self._seg.fd)  # covers pages dirtied through the mmap (as msync)
        self._meta.sync()

    def _background(self) -> None:
        """Off the append path: hash new frames into the seal; with fsync="batch",
        flush every FLUSH_INTERVAL (fdatasync releases the GIL)."""
        while not self._stop.wait(FLUSH_INTERVAL):
            while not self._rolling:
                with self._lock:
                    if self._seg is None:
                        break
                    self._hash_upto(self._off, HASH_CHUNK)
                    behind = self._hashed < self._off
                if not behind:
                    break
            if self.fsync == "batch" and self._dirty:
                with self._lock:
                    self._dirty = False
                    fd = os.dup(self._seg.fd) if self._seg is not None else None
                if fd is not None:  # a private fd: a rollover need not wait for this flush
                    try:
                        os.fdatasync(fd)
                    finally:
                        os.close(fd)

    def close(self, seal: bool = True) -> None:
        """Close the journal; with ``seal`` the current segment is sealed (unless empty)
        and the next open starts a new segment."""
        if not self._open:
            return
        self._open = False
        self._stop.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        try:
            if seal and self._seg_frames:
                self._seal_segment()
            elif self.fsync != "none":
                os.fdatasync(self._seg.fd)
                self._meta.sync()
        finally:
            self._release()

    def _release(self) -> None:
        if self._seg is not None:
            self._seg.close()
            self._seg = None
        if self._meta is not None:
            self._meta.close()
            self._meta = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # drops the flock
            self._lock_fd = None

    def __repr__(self) -> str:
        return (f"JournalWriter({str(self.path)!r}, kind={KIND_NAMES[self._kind]!r}, "
                f"last_seq={self.last_seq}, count={self.count})")

