"""On-disk layout of journal frames, segment files and seal files.

Frame (all little-endian, 8-byte aligned because record sizes are multiples of 8)::

    0  length  u4   whole frame, = record_size + FRAME_OVERHEAD
    4  type    u2   \\
    6  version u2    | copies of the record header, so a scan needs no record dtype
    8  seq     u8    |
   16  ts      i8   /
   24  payload      the record bytes, unchanged
 24+R  xxh64   u8   XXH64 (seed 0) of bytes 0 .. 24+R

Segment file ``NNNNNNNNNN.seg`` (segment index from 1), preallocated to a fixed size and
memory-mapped; a 128-byte header, then frames back to back, then zeros. A frame whose
length field is 0 (or the end of the file) ends the segment.

Segment header::

    0   magic           8s  b"TANDEMJ1"
    8   format version  u2
   10   schema version  u2  sequencer.records.SCHEMA_VERSION of the writer
   12   kind            u1  1 input journal, 2 output journal
   16   record size     u4
   20   segment index   u4
   24   first seq       u8  input: seq of the first frame; output: no frame in the
                            segment has a lower seq (the last seq before it)
   32   prev seal       32s seal of the previous segment (zeros for segment 1)
   64   reserved        zeros
  120   xxh64           u8  of bytes 0 .. 120

Seal of a segment: BLAKE2b-256 (keyed if a seal key is given) over the previous seal
followed by the segment bytes from 0 to the end of its last frame. It is written to the
sidecar ``NNNNNNNNNN.seal`` (JSON), to LMDB, and into the next segment's header.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sequencer.records import SCHEMA_VERSION

from .errors import CorruptJournal, FormatError, JournalError
from .xxh64 import xxh64

MAGIC = b"TANDEMJ1"
FORMAT_VERSION = 1
KIND_INPUT = 1
KIND_OUTPUT = 2
KINDS = {"input": KIND_INPUT, "output": KIND_OUTPUT}
KIND_NAMES = {v: k for k, v in KINDS.items()}

FRAME_HEADER = 24
FRAME_OVERHEAD = 32  # header + trailing hash
SEGMENT_HEADER = 128
_HEADER_STRUCT = struct.Struct("<8sHHB3xIIQ32s")
_HASH_AT = 120
ZERO_SEAL = bytes(32)

DEFAULT_SEGMENT_BYTES = 64 << 20

_SEG_RE = re.compile(r"^(\d{10})\.seg$")


def frame_size(record_size: int) -> int:
    return record_size + FRAME_OVERHEAD


def segment_path(directory: Path, index: int) -> Path:
    return directory / f"{index:010d}.seg"


def seal_path(directory: Path, index: int) -> Path:
    return directory / f"{index:010d}.seal"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """Segment files of a journal directory, by index."""
    out = []
    for name in os.listdir(directory):
        m = _SEG_RE.match(name)
        if m:
            out.append((int(m.group(1)), directory / name))
    out.sort()
    return out


@dataclass(frozen=True)
class SegmentHeader:
    kind: int
    record_size: int
    index: int
    first_seq: int
    prev_seal: bytes
    format_version: int = FORMAT_VERSION
    schema_version: int = SCHEMA_VERSION

    def pack(self) -> bytes:
        raw = bytearray(SEGMENT_HEADER)
        _HEADER_STRUCT.pack_into(raw, 0, MAGIC, self.format_version, self.schema_version,
                                 self.kind, self.record_size, self.index, self.first_seq,
                                 self.prev_seal)
        h = xxh64(np.frombuffer(bytes(raw), np.uint8), 0, _HASH_AT, 0)
        struct.pack_into("<Q", raw, _HASH_AT, h)
        return bytes(raw)


def parse_header(raw: bytes, where: str) -> SegmentHeader:
    """Decode a segment header, refusing other formats (FormatError) and damaged
    headers (CorruptJournal). ``where`` names the file in messages."""
    if len(raw) < SEGMENT_HEADER:
        raise FormatError(f"{where}: file is shorter than a segment header ({len(raw)} bytes)")
    magic, fmt, schema, kind, rsize, index, first, prev = _HEADER_STRUCT.unpack_from(raw, 0)
    if magic != MAGIC:
        raise FormatError(f"{where}: not a Tandem journal segment (magic {magic!r}, "
                          f"expected {MAGIC!r})")
    stored = struct.unpack_from("<Q", raw, _HASH_AT)[0]
    if int(xxh64(np.frombuffer(raw[:SEGMENT_HEADER], np.uint8), 0, _HASH_AT, 0)) != stored:
        raise CorruptJournal(f"{where}: segment header checksum mismatch", offset=0)
    if fmt != FORMAT_VERSION:
        raise FormatError(f"{where}: journal format version {fmt}, this build reads "
                          f"version {FORMAT_VERSION}")
    if schema > SCHEMA_VERSION:
        raise FormatError(f"{where}: written with record schema version {schema}, newer "
                          f"than this build's {SCHEMA_VERSION}")
    if kind not in KIND_NAMES:
        raise FormatError(f"{where}: unknown journal kind {kind}")
    return SegmentHeader(kind, rsize, index, first, prev, fmt, schema)


def unpack_header_unchecked(raw: bytes) -> SegmentHeader | None:
    """The header's fields without any check (to keep verifying past a damaged header);
    None if the bytes are not even a Tandem segment header."""
    if len(raw) < SEGMENT_HEADER or raw[:8] != MAGIC:
        return None
    magic, fmt, schema, kind, rsize, index, first, prev = _HEADER_STRUCT.unpack_from(raw, 0)
    return SegmentHeader(kind, rsize, index, first, prev, fmt, schema)


def check_header(hdr: SegmentHeader, where: str, kind: int | None, record_size: int | None,
                 index: int) -> None:
    """Refuse a header that does not belong where it was found."""
    if kind is not None and hdr.kind != kind:
        raise FormatError(f"{where}: this is an {KIND_NAMES[hdr.kind]} journal, "
                          f"not an {KIND_NAMES[kind]} journal")
    if record_size is not None and hdr.record_size != record_size:
        raise FormatError(f"{where}: records are {hdr.record_size} bytes, "
                          f"expected {record_size}")
    if hdr.index != index:
        raise CorruptJournal(f"{where}: header says segment {hdr.index}", offset=0,
                             segment=index)


def read_header_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(SEGMENT_HEADER)


def load_header(path: Path, kind: int | None, record_size: int | None, index: int) -> SegmentHeader:
    """Read, parse and check segment ``index``'s header; a bad one names the segment."""
    try:
        hdr = parse_header(read_header_bytes(path), str(path))
        check_header(hdr, str(path), kind, record_size, index)
    except CorruptJournal as e:
        e.segment = index
        raise
    return hdr


# ------------------------------------------------------------------------ seals

def new_sealer(prev_seal: bytes, key: bytes | None):
    """A running BLAKE2b-256 for a segment, already fed the previous seal."""
    h = hashlib.blake2b(digest_size=32, key=key or b"")
    h.update(prev_seal)
    return h


@dataclass(frozen=True)
class SealInfo:
    segment: int
    seal: bytes
    end: int          # offset just after the last frame
    first_seq: int    # of the first frame
    last_seq: int     # of the last frame
    frames: int
    keyed: bool

    _LMDB = struct.Struct("<32sQQQQ?")

    def to_lmdb(self) -> bytes:
        return self._LMDB.pack(self.seal, self.end, self.first_seq, self.last_seq,
                               self.frames, self.keyed)

    @classmethod
    def from_lmdb(cls, segment: int, raw: bytes) -> "SealInfo":
        seal, end, first, last, frames, keyed = cls._LMDB.unpack(bytes(raw))
        return cls(segment, seal, end, first, last, frames, keyed)

    def to_json(self) -> str:
        return json.dumps({
            "segment": self.segment, "seal": self.seal.hex(), "end": self.end,
            "first_seq": self.first_seq, "last_seq": self.last_seq, "frames": self.frames,
            "keyed": self.keyed, "algorithm": "blake2b-256",
        }, indent=1) + "\n"


def write_seal_file(directory: Path, info: SealInfo, durable: bool) -> None:
    """Write the sidecar atomically: readers see either no seal file or a whole one."""
    final = seal_path(directory, info.segment)
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(info.to_json())
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, final)
    if durable:
        fsync_dir(directory)


def read_seal_file(directory: Path, index: int) -> SealInfo | None:
    """The sidecar of segment ``index``, None if the segment is not sealed."""
    p = seal_path(directory, index)
    try:
        text = p.read_text()
    except FileNotFoundError:
        return None
    try:
        d = json.loads(text)
        info = SealInfo(int(d["segment"]), bytes.fromhex(d["seal"]), int(d["end"]),
                        int(d["first_seq"]), int(d["last_seq"]), int(d["frames"]),
                        bool(d["keyed"]))
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptJournal(f"{p}: unreadable seal file ({e})", segment=index) from None
    if info.segment != index or len(info.seal) != 32:
        raise CorruptJournal(f"{p}: seal file does not describe segment {index}",
                             segment=index)
    return info


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def kind_code(kind: str) -> int:
    try:
        return KINDS[kind]
    except KeyError:
        raise JournalError(f"kind must be 'input' or 'output', not {kind!r}") from None
