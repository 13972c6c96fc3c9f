"""FIX tag=value encoding and stream framing for FIX.4.2 and FIX.4.4.

A message on the wire is ``8=BeginString|9=BodyLength|35=MsgType|...|10=CheckSum|``
with SOH (0x01) as ``|``. BodyLength counts the bytes after the SOH that ends the
BodyLength field up to and including the SOH before ``10=``; CheckSum is the sum of
every byte before ``10=``, modulo 256, written as exactly three digits.

- ``encode(begin_string, msg_type, fields)`` writes one message and computes 9 and 10.
- ``parse(data)`` reads exactly one message and raises ``FixError`` naming the fault.
- ``FixFramer.feed(data)`` cuts a TCP byte stream into messages. It copes with
  messages split across reads and several in one read. A garbled message (the FIX
  session layer's definition: the first three tags are not 8, 9, 35 in that order,
  BodyLength does not reach the CheckSum field, CheckSum wrong or not three digits)
  is dropped, its reason appended to ``garbled``, and the framer resynchronises on the
  next ``8=FIX``; ``feed`` never raises. The session layer ignores garbled messages
  (no reject, no sequence number consumed), so dropping them is the spec's behaviour.
  A field that is not ``tag=value`` with a numeric tag also makes the message garbled
  here: without a reliable MsgSeqNum there is nothing it could be rejected against.
  A tag with an empty value (``58=|``) parses; the session rejects it (373=4).
  A BodyLength that is too long is noticed as soon as the next message's start follows
  a trailer (``...|10=nnn|8=FIX``) inside the claimed body, so a live session does not
  stall waiting for bytes that will never come.
- A data field (the value of a Length field, e.g. RawDataLength 95 before RawData 96)
  may contain SOH; the parser reads it by the announced length (``DATA_FIELDS``).

``FixMessage`` keeps every field in wire order as ``(tag, value bytes)`` pairs, so
repeating groups survive as ordered pairs; ``get`` returns the first occurrence.
"""

from __future__ import annotations

import operator
import re

__all__ = ["SOH", "FixError", "FixMessage", "FixFramer", "encode", "parse", "checksum", "BEGIN_STRINGS",
           "DATA_FIELDS"]

SOH = b"\x01"
BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4")
# Length field -> the data field it announces (FIX 4.2 / 4.4 data types).
DATA_FIELDS = {90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353, 354: 355, 356: 357,
               358: 359, 360: 361, 362: 363, 364: 365, 445: 446, 618: 619, 621: 622}
_DATA_TAGS = set(DATA_FIELDS.values())
MAX_BODY = 1 << 20            # a BodyLength above this is treated as garbled, not awaited
_MAX_BEGIN = 16               # "8=FIX.4.4|" and friends are short
_NEXT = re.compile(rb"\x0110=[0-9]{3}\x018=FIX")   # a trailer followed by the next message


class FixError(ValueError):
    """A FIX message cannot be encoded, parsed, or a field read as asked."""


def checksum(data: bytes) -> bytes:
    """CheckSum (10) of the bytes before ``10=``: byte sum modulo 256, three digits."""
    return b"%03d" % (sum(data) % 256)


def _value(tag: int, value) -> bytes:
    if isinstance(value, bool):
        raise FixError(f"tag {tag}: a bool is not a FIX value (use 'Y'/'N')")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise FixError(f"tag {tag}: {value!r} is not ASCII") from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise FixError(f"tag {tag}: value {value!r} must be str, bytes or int")
    if not raw:
        raise FixError(f"tag {tag}: empty value (FIX has no empty fields)")
    if SOH in raw and tag not in _DATA_TAGS:
        raise FixError(f"tag {tag}: value contains SOH")
    return raw


def _tag(tag) -> int:
    try:
        t = operator.index(tag)
    except TypeError:
        raise FixError(f"tag {tag!r} is not an integer") from None
    if isinstance(tag, bool) or t <= 0:
        raise FixError(f"tag {tag!r} must be a positive integer")
    return t


def encode(begin_string: str, msg_type: str | bytes, fields) -> bytes:
    """One message: ``8``, ``9`` (computed), ``35``, ``fields`` in order, ``10`` (computed).

    ``fields`` is an ordered iterable of ``(tag, value)``, value ``str``/``bytes``/``int``;
    tags 8, 9, 35 and 10 are written by ``encode`` and refused in ``fields``.
    """
    body = [b"35=" + _value(35, msg_type) + SOH]
    for tag, value in fields:
        t = _tag(tag)
        if t in (8, 9, 35, 10):
            raise FixError(f"tag {t} is written by encode, not passed in fields")
        body.append(b"%d=" % t + _value(t, value) + SOH)
    body = b"".join(body)
    head = b"8=" + _value(8, begin_string) + SOH + b"9=%d" % len(body) + SOH
    msg = head + body
    return msg + b"10=" + checksum(msg) + SOH


class FixMessage:
    """A parsed message: ``fields`` is every ``(tag, value)`` in wire order, header and
    trailer included; ``raw`` the exact bytes it came from."""

    __slots__ = ("fields", "raw", "_first")

    def __init__(self, fields: list[tuple[int, bytes]], raw: bytes = b"") -> None:
        self.fields = fields
        self.raw = raw
        self._first: dict[int, bytes] = {}
        for t, v in fields:
            self._first.setdefault(t, v)

    @property
    def begin_string(self) -> str:
        return self._first[8].decode("ascii", "replace")

    @property
    def msg_type(self) -> str:
        return self._first[35].decode("ascii", "replace")

    def __contains__(self, tag: int) -> bool:
        return tag in self._first

    def get(self, tag: int, default=None) -> bytes | None:
        """The value of the first occurrence of ``tag``."""
        return self._first.get(tag, default)

    def get_all(self, tag: int) -> list[bytes]:
        return [v for t, v in self.fields if t == tag]

    def get_str(self, tag: int, default: str | None = None) -> str | None:
        v = self._first.get(tag)
        return default if v is None else v.decode("ascii", "replace")

    def get_int(self, tag: int, default: int | None = None) -> int | None:
        """An int field; ``FixError`` if present but not an unsigned/signed integer."""
        v = self._first.get(tag)
        if v is None:
            return default
        s = v[1:] if v[:1] == b"-" else v
        if not s.isdigit():
            raise FixError(f"tag {tag}: {v!r} is not an integer")
        return int(v)

    def empty_tag(self) -> int | None:
        """The first tag sent without a value (the session rejects it), if any."""
        return next((t for t, v in self.fields if not v), None)

    def body(self) -> list[tuple[int, bytes]]:
        """The fields between the standard header and the trailer (tag 10)."""
        return [(t, v) for t, v in self.fields if t not in _HEADER_TAGS and t != 10]

    def __repr__(self) -> str:
        return "FixMessage(" + "|".join(f"{t}={v.decode('ascii', 'replace')}" for t, v in self.fields) + ")"


# standard header tags (FIX 4.2/4.4) that a resend rewrites or keeps from the session
_HEADER_TAGS = {8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43, 97, 52,
                122, 212, 213, 347, 369, 627, 628, 629, 630}


def _fields(body: bytes) -> list[tuple[int, bytes]]:
    """tag=value pairs of a body that ends with SOH; data fields read by their length."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(body)
    data_len: dict[int, int] = {}
    while i < n:
        eq = body.find(b"=", i)
        if eq < 0:
            raise FixError(f"field at body offset {i} has no '='")
        tag_s = body[i:eq]
        if not tag_s.isdigit() or tag_s[:1] == b"0":
            raise FixError(f"field at body offset {i}: tag {tag_s!r} is not a positive integer")
        tag = int(tag_s)
        if tag in data_len:
            end = eq + 1 + data_len.pop(tag)
            if end >= n or body[end:end + 1] != SOH:
                raise FixError(f"data field {tag}: its length field does not match")
        else:
            end = body.find(SOH, eq + 1)
            if end < 0:
                raise FixError(f"field {tag} is not terminated by SOH")
        value = body[eq + 1:end]
        if tag in DATA_FIELDS:
            if not value.isdigit():
                raise FixError(f"length field {tag}: {value!r} is not a number")
            data_len[DATA_FIELDS[tag]] = int(value)
        out.append((tag, value))
        i = end + 1
    return out


class _Need(Exception):
    """More bytes are needed to decide."""


def _frame(buf: bytes | bytearray, start: int) -> int:
    """End offset of the message starting at ``start`` (which holds ``8=FIX``).
    Raises ``_Need`` if incomplete, ``FixError`` if garbled."""
    n = len(buf)
    soh1 = buf.find(SOH, start, start + _MAX_BEGIN)
    if soh1 < 0:
        if n - start < _MAX_BEGIN:
            raise _Need
        raise FixError("BeginString (8) is not terminated")
    p = soh1 + 1
    if n - p < 2:
        raise _Need
    if buf[p:p + 2] != b"9=":
        raise FixError("second field is not BodyLength (9)")
    soh2 = buf.find(SOH, p + 2, p + 2 + 9)
    if soh2 < 0:
        if n - (p + 2) < 9:
            raise _Need
        raise FixError("BodyLength (9) is not terminated")
    length_s = bytes(buf[p + 2:soh2])
    if not length_s.isdigit():
        raise FixError(f"BodyLength {length_s!r} is not a number")
    length = int(length_s)
    if length > MAX_BODY:
        raise FixError(f"BodyLength {length} is above {MAX_BODY}")
    body = soh2 + 1
    if n - body < 3:
        raise _Need
    if buf[body:body + 3] != b"35=":
        raise FixError("third field is not MsgType (35)")
    trailer = body + length
    end = trailer + 7
    if n < end:
        if _NEXT.search(buf, body, n):  # the next message has begun: this length is too long
            raise FixError(f"BodyLength {length} runs past the next message")
        raise _Need
    if buf[trailer:trailer + 3] != b"10=" or buf[trailer - 1:trailer] != SOH or buf[end - 1:end] != SOH:
        raise FixError(f"BodyLength {length} does not end at the CheckSum (10) field")
    got = bytes(buf[trailer + 3:end - 1])
    if not got.isdigit():
        raise FixError(f"CheckSum {got!r} is not three digits")
    want = checksum(bytes(buf[start:trailer]))
    if got != want:
        raise FixError(f"CheckSum {got.decode()} wrong, computed {want.decode()}")
    return end


def parse(data: bytes) -> FixMessage:
    """Exactly one message (nothing before or after it); ``FixError`` names the fault."""
    data = bytes(data)
    if not data.startswith(b"8=FIX"):
        raise FixError("message does not start with 8=FIX")
    try:
        end = _frame(data, 0)
    except _Need:
        raise FixError(f"message truncated at {len(data)} bytes") from None
    if end != len(data):
        raise FixError(f"{len(data) - end} bytes after the CheckSum field")
    return _parsed(data)


def _parsed(raw: bytes) -> FixMessage:
    fields = _fields(raw)
    if not fields[-1][1].isdigit() or fields[-1][0] != 10:  # guaranteed by _frame; cheap to keep
        raise FixError("last field is not CheckSum (10)")
    return FixMessage(fields, raw)


class FixFramer:
    """Cuts a byte stream into ``FixMessage``s; garbled input is dropped and reported.

    ``garbled`` lists one reason per dropped message or stretch of junk (capped at
    ``keep`` entries; ``garbled_count`` counts them all).
    """

    def __init__(self, keep: int = 100) -> None:
        self._buf = bytearray()
        self.garbled: list[str] = []
        self.garbled_count = 0
        self._keep = keep
        self._resync = False

    def _drop(self, why: str) -> None:
        self.garbled_count += 1
        if len(self.garbled) < self._keep:
            self.garbled.append(why)

    def feed(self, data: bytes) -> list[FixMessage]:
        buf = self._buf
        buf += data
        out: list[FixMessage] = []
        pos = 0
        while True:
            start = buf.find(b"8=FIX", pos)
            junk_end = (max(pos, len(buf) - 4) if start < 0 else start)  # a split "8=FI" may start the next
            if junk_end > pos and not self._resync and buf[pos:junk_end].strip(b"\r\n\x00 "):
                self._drop(f"{junk_end - pos} bytes without 8=FIX")
            if start < 0:
                pos = junk_end
                break
            try:
                end = _frame(buf, start)
            except _Need:
                pos = start
                break
            except FixError as e:  # the rest of it, up to the next 8=FIX, is not reported again
                self._drop(str(e))
                self._resync = True
                pos = start + 1
                continue
            self._resync = False
            try:
                out.append(_parsed(bytes(buf[start:end])))
            except FixError as e:  # framed and summed right, but not tag=value inside
                self._drop(str(e))
            pos = end
        del buf[:pos]
        return out

    def take_buffer(self) -> bytes:
        """The bytes held back (an incomplete message), removed from the framer: a batch
        reader frames them itself with what comes next and hands back what it cannot."""
        out = bytes(self._buf)
        self._buf.clear()
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)
