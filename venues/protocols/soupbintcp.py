"""SoupBinTCP 3.00 packet framing (NASDAQ's session layer under OUCH).

Every logical packet on the TCP stream is::

    length  u2 big-endian   bytes that follow: 1 (type) + len(payload)
    type    1 ASCII byte
    payload length - 1 bytes

Packet types (payload length; ``*`` = variable):

    both    '+' Debug                *   free text
    server  'A' Login Accepted      30   session 10 alpha (right-justified, space padded)
                                         + sequence number 20 numeric
            'J' Login Rejected       1   reject reason code ('A' not authorized,
                                         'S' session not available)
            'S' Sequenced Data       *   one higher-level message
            'H' Server Heartbeat     0
            'Z' End of Session       0
    client  'L' Login Request       46   username 6 alpha + password 10 alpha
                                         + requested session 10 alpha (right-justified;
                                         blank = current session)
                                         + requested sequence number 20 numeric
                                         (0 = start from the most recent message)
            'U' Unsequenced Data     *   one higher-level message
            'R' Client Heartbeat     0
            'O' Logout Request       0

Alpha fields are ASCII, left-justified and padded on the right with spaces, except
the session fields, which are padded on the left. Numeric fields are ASCII digits,
right-justified and padded on the left with spaces.

Packet types are returned and accepted as one-character ``str``.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

__all__ = [
    "SoupError", "PacketReader", "frame",
    "DEBUG", "LOGIN_ACCEPTED", "LOGIN_REJECTED", "SEQUENCED_DATA", "SERVER_HEARTBEAT",
    "END_OF_SESSION", "LOGIN_REQUEST", "UNSEQUENCED_DATA", "CLIENT_HEARTBEAT",
    "LOGOUT_REQUEST", "SERVER_TYPES", "CLIENT_TYPES", "ALL_TYPES",
    "REJECT_NOT_AUTHORIZED", "REJECT_SESSION_NOT_AVAILABLE",
    "LoginAccepted", "LoginRequest",
    "encode_debug", "encode_login_accepted", "encode_login_rejected",
    "encode_sequenced_data", "encode_server_heartbeat", "encode_end_of_session",
    "encode_login_request", "encode_unsequenced_data", "encode_client_heartbeat",
    "encode_logout_request",
    "decode_login_accepted", "decode_login_rejected", "decode_login_request",
]


class SoupError(ValueError):
    """A SoupBinTCP packet is malformed, or a value cannot be encoded."""


DEBUG = "+"
LOGIN_ACCEPTED = "A"
LOGIN_REJECTED = "J"
SEQUENCED_DATA = "S"
SERVER_HEARTBEAT = "H"
END_OF_SESSION = "Z"
LOGIN_REQUEST = "L"
UNSEQUENCED_DATA = "U"
CLIENT_HEARTBEAT = "R"
LOGOUT_REQUEST = "O"

SERVER_TYPES = frozenset({DEBUG, LOGIN_ACCEPTED, LOGIN_REJECTED, SEQUENCED_DATA,
                          SERVER_HEARTBEAT, END_OF_SESSION})
CLIENT_TYPES = frozenset({DEBUG, LOGIN_REQUEST, UNSEQUENCED_DATA, CLIENT_HEARTBEAT,
                          LOGOUT_REQUEST})
ALL_TYPES = SERVER_TYPES | CLIENT_TYPES

REJECT_NOT_AUTHORIZED = "A"
REJECT_SESSION_NOT_AVAILABLE = "S"
REJECT_CODES = frozenset({REJECT_NOT_AUTHORIZED, REJECT_SESSION_NOT_AVAILABLE})

NAMES = {
    DEBUG: "Debug", LOGIN_ACCEPTED: "Login Accepted", LOGIN_REJECTED: "Login Rejected",
    SEQUENCED_DATA: "Sequenced Data", SERVER_HEARTBEAT: "Server Heartbeat",
    END_OF_SESSION: "End of Session", LOGIN_REQUEST: "Login Request",
    UNSEQUENCED_DATA: "Unsequenced Data", CLIENT_HEARTBEAT: "Client Heartbeat",
    LOGOUT_REQUEST: "Logout Request",
}

# payload length of the fixed-size packets; the others ('+', 'S', 'U') are variable
FIXED_PAYLOAD = {
    LOGIN_ACCEPTED: 30, LOGIN_REJECTED: 1, SERVER_HEARTBEAT: 0, END_OF_SESSION: 0,
    LOGIN_REQUEST: 46, CLIENT_HEARTBEAT: 0, LOGOUT_REQUEST: 0,
}

USERNAME_LEN = 6
PASSWORD_LEN = 10
SESSION_LEN = 10
SEQUENCE_LEN = 20

MAX_PAYLOAD = 0xFFFF - 1  # the length field counts the type byte too
_LEN_SIZE = 2


# ---------------------------------------------------------------- field codecs

def _ascii(value: str | bytes, what: str) -> bytes:
    if isinstance(value, str):
        if not value.isascii():
            raise SoupError(f"{what} {value!r} is not ASCII")
        raw = value.encode("ascii")
    else:
        raw = bytes(value)
    if any(b < 0x20 or b > 0x7E for b in raw):
        raise SoupError(f"{what} {value!r} has non-printable characters")
    return raw


def _alpha(value: str | bytes, width: int, what: str, *, right: bool = False) -> bytes:
    raw = _ascii(value, what)
    if len(raw) > width:
        raise SoupError(f"{what} {value!r} is longer than {width} characters")
    return raw.rjust(width, b" ") if right else raw.ljust(width, b" ")


def _numeric(value: int, width: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = operator.index(value)
        except TypeError:
            raise SoupError(f"{what} {value!r} is not an integer") from None
    if value < 0 or value >= 10 ** width:
        raise SoupError(f"{what} {value} does not fit {width} ASCII digits")
    return str(value).encode("ascii").rjust(width, b" ")


def _text(raw: bytes, what: str) -> str:
    if any(b < 0x20 or b > 0x7E for b in raw):
        raise SoupError(f"{what} {raw!r} has non-printable bytes")
    return raw.decode("ascii").strip(" ")


def _parse_numeric(raw: bytes, what: str) -> int:
    digits = raw.strip(b" ")
    if not digits or not digits.isdigit():  # bytes.isdigit() is ASCII-only
        raise SoupError(f"{what} {raw!r} is not a space-padded ASCII number")
    return int(digits)


# ---------------------------------------------------------------- framing

def frame(packet_type: str, payload: bytes = b"") -> bytes:
    """One packet: 2-byte big-endian length, type byte, payload."""
    if packet_type not in ALL_TYPES:
        raise SoupError(f"unknown SoupBinTCP packet type {packet_type!r}")
    payload = bytes(payload)
    fixed = FIXED_PAYLOAD.get(packet_type)
    if fixed is not None and len(payload) != fixed:
        raise SoupError(f"{NAMES[packet_type]} ({packet_type!r}) payload must be "
                        f"{fixed} bytes, got {len(payload)}")
    if len(payload) > MAX_PAYLOAD:
        raise SoupError(f"payload of {len(payload)} bytes exceeds the SoupBinTCP "
                        f"maximum of {MAX_PAYLOAD}")
    n = len(payload) + 1
    return bytes((n >> 8, n & 0xFF)) + packet_type.encode("ascii") + payload


class PacketReader:
    """Incremental parser of a SoupBinTCP byte stream.

    ``feed(data)`` returns every packet completed by ``data`` as ``(type, payload)``
    and keeps any trailing partial packet for the next call. ``accept`` limits the
    packet types (``SERVER_TYPES`` on a client, ``CLIENT_TYPES`` on a server).

    On a malformed packet (zero length, unknown or unexpected type, wrong length for
    a fixed-size type) ``feed`` raises ``SoupError``; the stream is then out of sync,
    so the reader stays failed and every later ``feed`` raises the same error.
    Packets completed before the bad one in the same ``feed`` are available in
    ``SoupError.packets``.
    """

    def __init__(self, accept: frozenset[str] | set[str] = ALL_TYPES) -> None:
        unknown = set(accept) - ALL_TYPES
        if unknown:
            raise SoupError(f"unknown SoupBinTCP packet types {sorted(unknown)}")
        self._accept = frozenset(accept)
        self._buf = bytearray()
        self._error: SoupError | None = None

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a packet."""
        return len(self._buf)

    @property
    def failed(self) -> SoupError | None:
        return self._error

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[str, bytes]]:
        if self._error is not None:
            raise SoupError(f"stream already failed: {self._error}")
        buf = self._buf
        buf += data
        out: list[tuple[str, bytes]] = []
        pos = 0
        end = len(buf)
        while end - pos >= _LEN_SIZE + 1:
            n = (buf[pos] << 8) | buf[pos + 1]
            t = chr(buf[pos + 2])
            problem = None
            if n == 0:
                problem = "packet length 0 (must count at least the type byte)"
            elif t not in ALL_TYPES:
                problem = f"unknown packet type {t!r} (byte 0x{buf[pos + 2]:02x})"
            elif t not in self._accept:
                problem = f"unexpected {NAMES[t]} packet ({t!r}) in this direction"
            else:
                fixed = FIXED_PAYLOAD.get(t)
                if fixed is not None and n - 1 != fixed:
                    problem = (f"{NAMES[t]} ({t!r}) payload must be {fixed} bytes, "
                               f"length field says {n - 1}")
            if problem is not None:
                self._error = SoupError(f"{problem} at stream offset +{pos}")
                self._error.packets = out
                del buf[:pos]
                raise self._error
            if end - pos < _LEN_SIZE + n:
                break
            out.append((t, bytes(buf[pos + 3:pos + 2 + n])))
            pos += _LEN_SIZE + n
        del buf[:pos]
        return out


# ---------------------------------------------------------------- packets

class LoginAccepted(NamedTuple):
    session: str
    sequence_number: int


class LoginRequest(NamedTuple):
    username: str
    password: str
    requested_session: str
    requested_sequence_number: int


def encode_debug(text: str | bytes) -> bytes:
    return frame(DEBUG, _ascii(text, "debug text"))


def encode_login_accepted(session: str | bytes, sequence_number: int) -> bytes:
    """``sequence_number``: the sequence number of the next Sequenced Data packet."""
    return frame(LOGIN_ACCEPTED,
                 _alpha(session, SESSION_LEN, "session", right=True)
                 + _numeric(sequence_number, SEQUENCE_LEN, "sequence number"))


def encode_login_rejected(reject_code: str) -> bytes:
    if reject_code not in REJECT_CODES:
        raise SoupError(f"login reject code {reject_code!r} is not one of "
                        f"{sorted(REJECT_CODES)}")
    return frame(LOGIN_REJECTED, reject_code.encode("ascii"))


def encode_sequenced_data(message: bytes) -> bytes:
    return frame(SEQUENCED_DATA, message)


def encode_server_heartbeat() -> bytes:
    return frame(SERVER_HEARTBEAT)


def encode_end_of_session() -> bytes:
    return frame(END_OF_SESSION)


def encode_login_request(username: str | bytes, password: str | bytes,
                         requested_session: str | bytes = "",
                         requested_sequence_number: int = 0) -> bytes:
    """Blank session = the current one; sequence number 0 = from the newest message."""
    return frame(LOGIN_REQUEST,
                 _alpha(username, USERNAME_LEN, "username")
                 + _alpha(password, PASSWORD_LEN, "password")
                 + _alpha(requested_session, SESSION_LEN, "requested session", right=True)
                 + _numeric(requested_sequence_number, SEQUENCE_LEN,
                            "requested sequence number"))


def encode_unsequenced_data(message: bytes) -> bytes:
    return frame(UNSEQUENCED_DATA, message)


def encode_client_heartbeat() -> bytes:
    return frame(CLIENT_HEARTBEAT)


def encode_logout_request() -> bytes:
    return frame(LOGOUT_REQUEST)


def _check_len(packet_type: str, payload: bytes) -> bytes:
    payload = bytes(payload)
    want = FIXED_PAYLOAD[packet_type]
    if len(payload) != want:
        raise SoupError(f"{NAMES[packet_type]} ({packet_type!r}) payload must be "
                        f"{want} bytes, got {len(payload)}")
    return payload


def decode_login_accepted(payload: bytes) -> LoginAccepted:
    p = _check_len(LOGIN_ACCEPTED, payload)
    return LoginAccepted(_text(p[:10], "session"),
                         _parse_numeric(p[10:30], "sequence number"))


def decode_login_rejected(payload: bytes) -> str:
    p = _check_len(LOGIN_REJECTED, payload)
    code = chr(p[0])
    if code not in REJECT_CODES:
        raise SoupError(f"unknown login reject code {code!r}")
    return code


def decode_login_request(payload: bytes) -> LoginRequest:
    p = _check_len(LOGIN_REQUEST, payload)
    return LoginRequest(_text(p[0:6], "username"), _text(p[6:16], "password"),
                        _text(p[16:26], "requested session"),
                        _parse_numeric(p[26:46], "requested sequence number"))
