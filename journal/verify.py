"""verify: check a whole journal directory, frame by frame and seal by seal.

Checks every segment header, every frame's length and xxh64, that each frame header
agrees with its record, the order (input: gapless seq; output: non-decreasing seq; ts
never backwards), zeros after the last frame, and the seal chain: each sealed segment's
BLAKE2b seal recomputed and compared with its seal file, with the LMDB copy and with the
next segment's header.

Verify reads only; run it on a journal that is not being written (at a live writer's tail
a half-written frame is reported as a torn tail).

The reported problem is the one at the lowest seq; reasons start with a category word:
``checksum:`` (a frame fails its hash or length), ``chain:`` (seals), ``gap:`` (missing
seqs in an input journal), ``order:`` (seq or ts going backwards), ``format:`` (headers,
frame/record disagreement). A seal mismatch in a segment that also has a damaged frame
is a consequence of that frame (or of frames out of order), so the frame is what gets
reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sequencer.records import TYPE_NAMES

from . import kernels as K
from .errors import CorruptJournal, FormatError
from .format import (
    KIND_INPUT, KIND_NAMES, SEGMENT_HEADER, ZERO_SEAL, check_header, frame_size,
    list_segments, parse_header, read_header_bytes, read_seal_file, seal_path,
    unpack_header_unchecked,
)
from .meta import open_meta
from .segment import Mapped, bad_frame_seq, last_nonzero, order_violation

_ALL = 1 << 62


@dataclass
class VerifyResult:
    ok: bool
    first_bad_seq: int | None
    reason: str | None
    final_seq: int
    records: int
    segments: int
    counts: dict[str, int]
    kind: str | None
    problems: list[str] = field(default_factory=list)  # everything found, in order

    def to_json(self) -> dict:
        return {"ok": self.ok, "first_bad_seq": self.first_bad_seq, "reason": self.reason,
                "final_seq": self.final_seq, "records": self.records,
                "segments": self.segments, "counts": dict(self.counts), "kind": self.kind}


class _Problems:
    def __init__(self):
        self.items = []  # (seq, n, text, secondary)

    def add(self, seq: int, text: str, secondary: bool = False) -> None:
        self.items.append((int(seq), len(self.items), text, secondary))

    def first(self):
        primary = [p for p in self.items if not p[3]] or self.items
        return min(primary) if primary else None


def verify(path, seal_key: bytes | None = None, progress: bool = False) -> VerifyResult:
    d = Path(path)
    probs = _Problems()
    segs = list_segments(d) if d.is_dir() else []
    if not segs:
        what = "no journal segments in" if d.is_dir() else "no such journal directory"
        return VerifyResult(False, None, f"format: {what} {d}", 0, 0, 0, {}, None)
    meta = open_meta(d, create=False)
    st = _State()
    _establish_format(segs, st)
    try:
        bar = tqdm(total=sum(p.stat().st_size for _, p in segs), unit="B", unit_scale=True,
                   desc="verify", disable=not progress)
        prev_info, prev_idx = None, None
        for pos, (idx, p) in enumerate(segs):
            if prev_idx is not None and idx != prev_idx + 1:
                probs.add(st.next_seq(0), f"chain: segment {prev_idx + 1} is missing")
                prev_info = None
            info, ok = _segment(d, idx, p, pos == len(segs) - 1, prev_info, meta, seal_key,
                                st, probs)
            if not ok:
                break  # the journal's record size is unknown: nothing more can be read
            prev_info, prev_idx = info, idx
            bar.update(p.stat().st_size)
        bar.close()
    finally:
        if meta is not None:
            meta.close()

    counts = {TYPE_NAMES.get(int(t), f"type{int(t)}"): int(st.counts[t])
              for t in np.flatnonzero(st.counts)}
    first = probs.first()
    return VerifyResult(
        ok=first is None, first_bad_seq=None if first is None else first[0],
        reason=None if first is None else first[2], final_seq=st.last_seq if st.have else 0,
        records=st.records, segments=len(segs), counts=counts,
        kind=None if st.kind is None else KIND_NAMES[st.kind],
        problems=[p[2] for p in probs.items])


def _establish_format(segs, st) -> None:
    """Kind and record size from the first header that checks out, so one damaged
    header does not stop the frames behind it from being verified."""
    for idx, p in segs:
        try:
            hdr = parse_header(read_header_bytes(p), str(p))
        except (FormatError, CorruptJournal):
            continue
        if hdr.record_size >= 32 and hdr.record_size % 8 == 0:
            st.kind, st.record_size = hdr.kind, hdr.record_size
            st.fsize = frame_size(hdr.record_size)
            return


class _State:
    """What verification has established so far, across segments."""

    def __init__(self):
        self.kind = None
        self.fsize = None
        self.record_size = None
        self.have = False
        self.last_seq = 0
        self.last_ts = 0
        self.records = 0
        self.counts = np.zeros(1 << 16, np.int64)

    @property
    def gapless(self) -> bool:
        return self.kind == KIND_INPUT

    def next_seq(self, header_first: int) -> int:
        """The seq the next frame should carry (for naming a problem)."""
        if not self.have:
            return header_first
        return self.last_seq + 1 if self.gapless else self.last_seq


def _segment(d, idx, p, is_last, prev_info, meta, key, st: _State, probs: _Problems):
    """Verify one segment; returns (its SealInfo or None, False if verification must stop)."""
    where = str(p)
    raw = read_header_bytes(p)
    hdr, header_problem = None, None
    try:
        hdr = parse_header(raw, where)
        check_header(hdr, where, st.kind, st.record_size, idx)
    except (FormatError, CorruptJournal) as e:
        header_problem = f"format: segment {idx}: {e}"
        hdr = None
    fields = hdr or unpack_header_unchecked(raw)
    if st.kind is None:
        if fields is None or fields.kind not in KIND_NAMES or fields.record_size < 32 \
                or fields.record_size % 8:
            probs.add(0, header_problem or f"format: {where}: unreadable segment header")
            return None, False
        st.kind, st.record_size = fields.kind, fields.record_size
        st.fsize = frame_size(fields.record_size)
    header_first = fields.first_seq if fields is not None else st.next_seq(0)
    fs = st.fsize

    try:
        m = Mapped(p)
    except FormatError as e:
        probs.add(st.next_seq(header_first), f"format: {e}")
        return None, True
    try:
        buf = m.buf
        seg_first = None  # seq of the segment's first frame, for naming segment problems
        before = len(probs.items)
        frames_seen = 0
        off = SEGMENT_HEADER
        first_chunk = True
        while True:
            n, end, status = K.scan_frames(buf, off, m.size, fs, _ALL)
            if n:
                if seg_first is None:
                    seg_first = int(buf[off + 8:off + 16].view("<u8")[0])
                _frames(buf, off, n, idx, hdr if first_chunk and off == SEGMENT_HEADER else None,
                        st, probs)
                frames_seen += n
            first_chunk = False
            lnz = last_nonzero(buf, end, m.size)
            if status != K.BAD and lnz < 0:
                break
            # a damaged frame (or stray bytes after the last one)
            seq = bad_frame_seq(st.kind, buf, end, fs, st.have, st.last_seq, header_first)
            if seg_first is None:
                seg_first = seq
            later = int(K.find_valid_frame(buf, end + fs, m.size, fs))
            if status == K.BAD:
                length = int(buf[end:end + 4].view("<u4")[0]) if end + 4 <= m.size else 0
                what = (f"frame at offset {end} of segment {idx} has length {length}, "
                        f"expected {fs}" if length != fs else
                        f"frame at offset {end} of segment {idx} fails its xxh64")
            else:
                what = f"non-zero bytes after the last frame of segment {idx} (offset {lnz})"
            if later >= 0:
                what += f"; valid frames follow at offset {later}"
            elif is_last:
                what += " (a torn tail: the writer's recovery truncates it)"
            probs.add(seq, f"checksum: {what} (seq {seq})")
            if later < 0:
                break
            if st.gapless:
                st.have, st.last_seq = True, seq  # the damaged slot held this seq
            off = later
        if seg_first is None:
            seg_first = st.next_seq(header_first)
        # a seal mismatch is then a consequence of the frame problem, not news
        frame_problem = len(probs.items) > before
        if header_problem:
            probs.add(seg_first, f"{header_problem} (first seq {seg_first})")
        info = _seal(d, idx, p, is_last, prev_info, meta, key, buf, end, frames_seen, hdr,
                     fields, seg_first, frame_problem, probs)
    finally:
        buf = None
        m.close()
    return info, True


def _frames(buf, off, n, idx, hdr, st: _State, probs: _Problems) -> None:
    """Order, header/record agreement and type counts of ``n`` valid frames at ``off``."""
    fs = st.fsize
    frames = buf[off:off + n * fs].reshape(n, fs)
    seqs = frames[:, 8:16].copy().view("<u8").ravel()
    tss = frames[:, 16:24].copy().view("<i8").ravel()
    types = frames[:, 4:6].copy().view("<u2").ravel()
    if hdr is not None:
        if st.gapless and st.have and hdr.first_seq != st.last_seq + 1:
            probs.add(st.last_seq + 1, f"gap: segment {idx} starts at seq {hdr.first_seq} but "
                                       f"the previous segment ended at seq {st.last_seq}")
        if seqs[0] != hdr.first_seq if st.gapless else seqs[0] < hdr.first_seq:
            probs.add(int(seqs[0]), f"format: segment {idx} header says first seq "
                                    f"{hdr.first_seq} but its first frame has seq {seqs[0]}")
    # the frame header repeats the record's type/version and seq/ts: they must agree
    differ = ((frames[:, 4:8] != frames[:, 24:28]).any(axis=1)
              | (frames[:, 8:24] != frames[:, 40:56]).any(axis=1))
    if differ.any():
        k = int(np.flatnonzero(differ)[0])
        probs.add(int(seqs[k]), f"format: frame at offset {off + k * fs} of segment {idx} "
                                f"(seq {seqs[k]}) disagrees with its record's header")
    bad = order_violation(seqs, tss, st.have, st.last_seq, st.last_ts, st.gapless)
    if bad is not None:
        i, cat, text = bad
        prev = st.last_seq if i == 0 else int(seqs[i - 1])
        seq = prev + 1 if cat == "gap" else int(seqs[i])
        probs.add(seq, f"{cat}: frame at offset {off + i * fs} of segment {idx} {text}")
    st.counts += np.bincount(types, minlength=1 << 16)
    st.records += n
    st.have, st.last_seq, st.last_ts = True, int(seqs[-1]), int(tss[-1])


def _seal(d, idx, p, is_last, prev_info, meta, key, buf, end, frames, hdr, fields, seg_first,
          frame_problem, probs: _Problems):
    """Seal checks of one segment; returns its SealInfo (None if not sealed)."""
    # the link from the previous segment
    if idx == 1:
        expected_prev = ZERO_SEAL
    elif prev_info is not None:
        expected_prev = prev_info.seal
    else:
        lm = meta.get_seal(idx - 1) if meta is not None else None  # earlier ones deleted
        expected_prev = None if lm is None else lm.seal
    if hdr is not None and expected_prev is not None and hdr.prev_seal != expected_prev:
        probs.add(seg_first, f"chain: segment {idx} header does not carry the seal of "
                             f"segment {idx - 1}")
    try:
        info = read_seal_file(d, idx)
    except CorruptJournal as e:
        probs.add(seg_first, f"chain: {e}")
        return None
    if info is not None and seal_path(d, idx).read_text() != info.to_json():
        probs.add(seg_first, f"chain: seal file of segment {idx} was altered")
    if info is None:
        if not is_last:
            probs.add(seg_first, f"chain: segment {idx} is not sealed but segment {idx + 1} "
                                 f"follows it")
        return None
    # with a damaged frame in the segment these mismatches follow from it: secondary
    if info.end != end or info.frames != frames:
        probs.add(seg_first, f"chain: seal file of segment {idx} describes {info.frames} "
                             f"frames ending at offset {info.end}; found {frames} ending at "
                             f"{end}", frame_problem)
    prev_seal = fields.prev_seal if fields is not None else ZERO_SEAL
    h = hashlib.blake2b(digest_size=32, key=key or b"")
    h.update(prev_seal)
    h.update(buf[:min(info.end, buf.shape[0])])
    if h.digest() != info.seal:
        hint = ""
        if info.keyed and key is None:
            hint = " (it was sealed with a key: pass seal_key)"
        elif key is not None and not info.keyed:
            hint = " (it was sealed without a key)"
        probs.add(seg_first, f"chain: segment {idx} does not match its seal{hint}",
                  frame_problem)
    if meta is not None:
        lm = meta.get_seal(idx)
        if lm is None:
            probs.add(seg_first, f"chain: the seal of segment {idx} is missing from LMDB")
        elif lm != info:
            probs.add(seg_first, f"chain: the LMDB seal of segment {idx} differs from its "
                                 f"seal file")
    return info
