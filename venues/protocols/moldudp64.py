"""MoldUDP64 framing: downstream packets, request packets and gap tracking.

Downstream packet: a 20-byte header -- Session (10 bytes, Alpha, space padded),
Sequence Number (u64 BE: the sequence number of the first message in the packet; for a
heartbeat or end-of-session packet, the next expected sequence number), Message Count
(u16 BE) -- then Message Count message blocks, each a u16 BE length and that many bytes.
A Message Count of 0 is a heartbeat; 0xFFFF marks the end of the session (no blocks).

Request packet (listener -> re-request server): Session (10), Sequence Number (u64 BE,
the first message wanted) and Requested Message Count (u16 BE): 20 bytes.

``GapTracker`` consumes downstream packets in any order and hands out messages in
sequence order, drops duplicates and reports the missing ranges to re-request.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SESSION_LEN = 10
HEADER_LEN = 20
REQUEST_LEN = 20
HEARTBEAT_COUNT = 0
END_OF_SESSION_COUNT = 0xFFFF
MAX_MESSAGES = 0xFFFE        # a data packet's largest Message Count
_HEADER = struct.Struct(">10sQH")
_REQUEST = struct.Struct(">10sQH")
_BLOCK_LEN = struct.Struct(">H")

KIND_DATA, KIND_HEARTBEAT, KIND_END_OF_SESSION = "data", "heartbeat", "end_of_session"


class MoldError(ValueError):
    """Malformed MoldUDP64 input, or a value that does not fit the wire format."""


def _session(session: str | bytes) -> bytes:
    raw = session.encode("ascii") if isinstance(session, str) else bytes(session)
    if len(raw) > SESSION_LEN or any(b < 0x20 or b > 0x7E for b in raw):
        raise MoldError(f"session {session!r} is not printable ASCII of at most {SESSION_LEN} chars")
    return raw.ljust(SESSION_LEN, b" ")


def _seq(seq: int) -> int:
    if not 0 <= seq < 1 << 64:
        raise MoldError(f"sequence number {seq} does not fit a u64")
    return seq


@dataclass(frozen=True)
class Packet:
    session: bytes   # 10 bytes as on the wire (space padded)
    seq: int         # first message's sequence number (heartbeat / EOS: next expected)
    count: int       # Message Count as on the wire (0 heartbeat, 0xFFFF end of session)
    messages: tuple[bytes, ...] = ()

    @property
    def kind(self) -> str:
        if self.count == END_OF_SESSION_COUNT:
            return KIND_END_OF_SESSION
        return KIND_HEARTBEAT if self.count == 0 else KIND_DATA

    @property
    def next_seq(self) -> int:
        """The sequence number after this packet's messages."""
        return self.seq + len(self.messages)


@dataclass(frozen=True)
class Request:
    session: bytes
    seq: int
    count: int


def encode_packet(session: str | bytes, seq: int, messages=()) -> bytes:
    """A downstream packet carrying ``messages`` (an empty list gives a heartbeat)."""
    messages = list(messages)
    if len(messages) > MAX_MESSAGES:
        raise MoldError(f"{len(messages)} messages do not fit one packet (max {MAX_MESSAGES})")
    _seq(seq)
    if seq + len(messages) > 1 << 64:
        raise MoldError("sequence numbers overflow a u64")
    out = [_HEADER.pack(_session(session), seq, len(messages))]
    for m in messages:
        if len(m) > 0xFFFF:
            raise MoldError(f"message of {len(m)} bytes does not fit a u16 length")
        out.append(_BLOCK_LEN.pack(len(m)))
        out.append(bytes(m))
    return b"".join(out)


def encode_heartbeat(session: str | bytes, next_seq: int) -> bytes:
    return _HEADER.pack(_session(session), _seq(next_seq), HEARTBEAT_COUNT)


def encode_end_of_session(session: str | bytes, next_seq: int) -> bytes:
    return _HEADER.pack(_session(session), _seq(next_seq), END_OF_SESSION_COUNT)


def decode_packet(data: bytes) -> Packet:
    """Parse one downstream packet; trailing bytes after the last block are an error."""
    data = bytes(data)
    if len(data) < HEADER_LEN:
        raise MoldError(f"MoldUDP64 packet of {len(data)} bytes is shorter than the "
                        f"{HEADER_LEN}-byte header")
    session, seq, count = _HEADER.unpack_from(data, 0)
    if count == END_OF_SESSION_COUNT or count == 0:
        if len(data) != HEADER_LEN:
            kind = "end-of-session" if count else "heartbeat"
            raise MoldError(f"MoldUDP64 {kind} packet carries {len(data) - HEADER_LEN} extra bytes")
        return Packet(session, seq, count)
    if seq + count > 1 << 64:
        raise MoldError("sequence numbers overflow a u64")
    pos = HEADER_LEN
    messages = []
    for i in range(count):
        if pos + 2 > len(data):
            raise MoldError(f"MoldUDP64 packet seq {seq}: block {i} of {count} truncated at "
                            f"offset {pos} (no length)")
        (n,) = _BLOCK_LEN.unpack_from(data, pos)
        pos += 2
        if pos + n > len(data):
            raise MoldError(f"MoldUDP64 packet seq {seq}: block {i} of {count} at offset "
                            f"{pos - 2}: expected {n} bytes, got {len(data) - pos}")
        messages.append(data[pos:pos + n])
        pos += n
    if pos != len(data):
        raise MoldError(f"MoldUDP64 packet seq {seq}: {len(data) - pos} bytes after the last "
                        f"of {count} blocks")
    return Packet(session, seq, count, tuple(messages))


def encode_request(session: str | bytes, seq: int, count: int) -> bytes:
    if not 0 < count <= MAX_MESSAGES:
        raise MoldError(f"requested message count {count} outside 1..{MAX_MESSAGES}")
    return _REQUEST.pack(_session(session), _seq(seq), count)


def decode_request(data: bytes) -> Request:
    data = bytes(data)
    if len(data) != REQUEST_LEN:
        raise MoldError(f"MoldUDP64 request packet: expected {REQUEST_LEN} bytes, got {len(data)}")
    session, seq, count = _REQUEST.unpack(data)
    return Request(session, seq, count)


@dataclass
class GapTracker:
    """Reassembles a MoldUDP64 stream delivered in any order.

    ``feed`` returns the messages that became deliverable in sequence order (the first
    one has sequence number ``next_seq`` before the call). Messages already delivered or
    already buffered are dropped (``duplicates``); packets of another session than the
    first one seen (or ``session``) are dropped (``foreign``). ``missing`` lists the
    ``(first_seq, count)`` ranges below the highest sequence number announced so far
    (by data, heartbeats or end of session) that have not arrived.
    """
    next_seq: int = 1
    session: bytes | None = None
    high: int = 0                       # one past the highest sequence number known to exist
    ended: bool = False                 # an end-of-session packet was seen
    duplicates: int = 0
    foreign: int = 0
    pending: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self):
        if self.session is not None:
            self.session = _session(self.session)
        self.high = max(self.high, self.next_seq)

    def feed(self, packet: Packet | bytes) -> list[bytes]:
        if not isinstance(packet, Packet):
            packet = decode_packet(packet)
        if self.session is None:
            self.session = packet.session
        elif packet.session != self.session:
            self.foreign += 1
            return []
        if packet.kind == KIND_END_OF_SESSION:
            self.ended = True
        self.high = max(self.high, packet.seq + len(packet.messages))
        for i, m in enumerate(packet.messages):
            s = packet.seq + i
            if s < self.next_seq or s in self.pending:
                self.duplicates += 1
            else:
                self.pending[s] = m
        out = []
        while self.next_seq in self.pending:
            out.append(self.pending.pop(self.next_seq))
            self.next_seq += 1
        return out

    def missing(self, limit: int | None = None) -> list[tuple[int, int]]:
        """Missing ``(first_seq, count)`` ranges in order, each count <= MAX_MESSAGES."""
        gaps = []
        s = self.next_seq
        for p in sorted(self.pending) + [self.high]:
            while s < p:
                n = min(p - s, MAX_MESSAGES)
                gaps.append((s, n))
                if limit is not None and len(gaps) >= limit:
                    return gaps
                s += n
            s = p + 1
        return gaps

    @property
    def complete(self) -> bool:
        """End of session seen and nothing missing."""
        return self.ended and self.next_seq >= self.high

    def requests(self, limit: int | None = None) -> list[bytes]:
        """Request packets for the missing ranges."""
        if self.session is None:
            return []
        return [encode_request(self.session, s, n) for s, n in self.missing(limit)]
