"""ExecutionReports (35=8) for a batch of ExecReport events in one Numba kernel: the batch
path of the FIX order gateway.

Encoding each report in Python (``orders.execution_report`` for the body, then
``FixSession._build`` / ``codec.encode`` for the frame) costs some 30 µs a message. Here one
kernel writes a whole batch of complete messages (header, body, BodyLength, CheckSum) into
one buffer, with no Python object per message.

``orders.py`` remains the reference. For every event ``encodable`` accepts,
``encode_reports`` writes exactly the bytes of::

    FixSession(SessionConfig(sender, target, begin_string=bs))._build(
        "8", orders.execution_report(e, bs, account), seq, sending_time)

What it refuses (an empty ClOrdID or Symbol, identifiers that are not printable ASCII, an
exec type, status, side or order type the core does not produce) the caller sends the
Python way, which stays the one place that decides how such an event reads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gateways.fix import orders as O
from gateways.fix.codec import BEGIN_STRINGS, FixError, _value
from sequencer import records as R

__all__ = ["encode_reports", "encodable"]

# Plain names: Numba freezes module globals at compile time. uint64 constants keep the
# digit arithmetic in uint64 (uint64 mixed with an int64 literal would become float64).
SOH = 1
_ZERO, _TEN, _ZERO_U = ord("0"), np.uint64(10), np.uint64(ord("0"))
_SCALE = np.uint64(R.PRICE_SCALE)
EXEC_PARTIAL_FILL, EXEC_FILL, EXEC_TRADE, EXEC_REJECTED = R.EXEC_PARTIAL_FILL, R.EXEC_FILL, R.EXEC_TRADE, R.EXEC_REJECTED
STATUS_FILLED, ORD_MARKET, EXEC_REPORT = R.STATUS_FILLED, R.ORD_MARKET, R.EXEC_REPORT
UNKNOWN_SYMBOL, MAX_QTY, MAX_NOTIONAL, DUPLICATE_CLORDID, OTHER = (
    R.REASON_UNKNOWN_SYMBOL, R.REASON_MAX_QTY, R.REASON_MAX_NOTIONAL, R.REASON_DUPLICATE_CLORDID, O.OTHER)
_REASON_PREFIX = np.frombuffer(b"reason ", np.uint8).copy()


def _known(codes) -> np.ndarray:
    """A table by code, True for what the core writes; anything else goes the Python way."""
    table = np.zeros(256, np.bool_)
    table[list(codes)] = True
    return table


_EXEC_TYPE_OK = _known([R.EXEC_NEW, R.EXEC_PARTIAL_FILL, R.EXEC_FILL, R.EXEC_CANCELED, R.EXEC_REPLACED,
                        R.EXEC_PENDING_CANCEL, R.EXEC_REJECTED, R.EXEC_PENDING_NEW, R.EXEC_PENDING_REPLACE,
                        R.EXEC_TRADE, R.EXEC_EXPIRED])
_STATUS_OK = _known([R.STATUS_NEW, R.STATUS_PARTIAL, R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_PENDING_CANCEL,
                     R.STATUS_REJECTED, R.STATUS_PENDING_NEW, R.STATUS_PENDING_REPLACE, R.STATUS_EXPIRED])
_ORD_TYPE_OK = _known(O.ORD_TYPES.values())
# Side (54) character by side code, from orders.SIDE_CHARS; 0: a side it does not know.
_SIDE_CHAR = np.zeros(256, np.uint8)
for _code, _char in O.SIDE_CHARS.items():
    _SIDE_CHAR[_code] = ord(_char)


def _reason_table():
    """Text (58) of every reason code up to the highest in R.REASON_TEXT, concatenated, with
    offsets; a gap gets "reason N" as in orders.py. ``ok[code]`` is False for a text
    codec.encode would refuse (empty, not ASCII, SOH); the extra last entry stands for the
    codes above the table, written "reason N" by the kernel."""
    size = max(R.REASON_TEXT) + 1
    chunks, ok = [], np.ones(size + 1, np.bool_)
    for code in range(1, size):
        try:
            chunks.append(_value(58, R.REASON_TEXT.get(code, f"reason {code}")))
        except FixError:
            chunks.append(b"")
            ok[code] = False
    at = np.zeros(size + 1, np.int64)
    at[2:] = np.cumsum([len(c) for c in chunks])   # text of code c: texts[at[c]:at[c + 1]]
    return np.frombuffer(b"".join(chunks) or b"\0", np.uint8).copy(), at, ok


_TEXTS, _TEXT_AT, _REASON_OK = _reason_table()
_TEXT_MAX = max(int(np.diff(_TEXT_AT).max()), len("reason 65535"))
# Upper bound of a message without its variable strings (BeginString, CompIDs, Account,
# SendingTime, Text): every other field at its widest (20-digit ids and BodyLength, signed
# int64 quantities and MsgSeqNum, prices with sign, 11 integer digits and 8 decimals), all
# optional fields present, comes to 394 bytes.
_FIXED_BOUND = 400


def encodable(events: np.ndarray) -> np.ndarray:
    """Boolean mask: True where ``encode_reports`` gives exactly the bytes of the Python path.

    False for records that are not ExecReports, an empty ClOrdID or Symbol (codec.encode
    refuses an empty value), identifier bytes outside printable ASCII 0x21..0x7E or a NUL
    inside one, an exec type, status, side or order type outside what the core writes, and
    a reason whose text codec.encode would refuse."""
    er = events.view(R.ExecReport)
    ok = np.empty(len(er), np.bool_)
    _encodable(er, ok)
    return ok


def encode_reports(events: np.ndarray, begin_string: str, sender_comp_id: str, target_comp_id: str,
                   account: str, first_seq: int, sending_time: str) -> tuple[bytes, np.ndarray]:
    """ExecutionReports for ExecReport events (raw event records, all of type EXEC_REPORT):
    one buffer holding the complete messages, MsgSeqNum first_seq, first_seq+1, ..., and
    `ends` (int64, len(events)): the end offset of each message in the buffer.

    Exact for the events ``encodable`` accepts; what it writes for the others is unspecified
    (but stays inside the buffer). Strings are checked as codec.encode checks them
    (``FixError``)."""
    if begin_string not in BEGIN_STRINGS:
        raise FixError(f"begin_string {begin_string!r} is not FIX.4.2 or FIX.4.4")
    er = events.view(R.ExecReport)
    n = len(er)
    first_seq = int(first_seq)
    if not -(1 << 63) <= first_seq <= (1 << 63) - 1 - n:
        raise OverflowError(f"MsgSeqNum {first_seq} + {n} does not fit int64")
    strings = [np.frombuffer(_value(tag, v), np.uint8) for tag, v in
               ((8, begin_string), (49, sender_comp_id), (56, target_comp_id), (1, account), (52, sending_time))]
    bound = _FIXED_BOUND + _TEXT_MAX + sum(len(s) for s in strings)
    buf = np.empty(n * bound, np.uint8)      # not zeroed: pages are touched only as written
    ends = np.empty(n, np.int64)
    total = _encode(er, begin_string == "FIX.4.4", *strings, first_seq, _TEXTS, _TEXT_AT,
                    buf, ends, np.empty(bound, np.uint8))
    return bytes(buf[:total]), ends


# ------------------------------------------------------------------ kernels
@njit(cache=True, inline="always")
def _identifier(f, required):
    """Printable ASCII then only NULs (a NUL inside would survive orders._text's rstrip
    and go out on the wire); ``required``: not empty."""
    end = 0
    while end < len(f) and f[end] != 0:
        if f[end] < 0x21 or f[end] > 0x7E:
            return False
        end += 1
    for k in range(end, len(f)):
        if f[k] != 0:
            return False
    return end > 0 or not required


@njit(cache=True)
def _encodable(er, ok):
    for i in range(len(er)):
        e = er[i]
        ok[i] = (e.type == EXEC_REPORT and _EXEC_TYPE_OK[e.exec_type] and _STATUS_OK[e.ord_status]
                 and _SIDE_CHAR[e.side] != 0 and _ORD_TYPE_OK[e.ord_type]
                 and _REASON_OK[min(np.int64(e.reason), len(_REASON_OK) - 1)]
                 and _identifier(e.cl_ord_id, True) and _identifier(e.orig_cl_ord_id, False)
                 and _identifier(e.symbol, True))


# Each writer puts ``tag=value<SOH>`` at b[q:] and returns the position after it.

@njit(cache=True, inline="always")
def _digits(b, q, m):
    """Decimal of a uint64 (no leading zeros)."""
    n, t = 1, m
    while t >= _TEN:
        t //= _TEN
        n += 1
    for k in range(n - 1, -1, -1):
        b[q + k] = _ZERO_U + m % _TEN
        m //= _TEN
    return q + n


@njit(cache=True, inline="always")
def _tag(b, q, tag):
    q = _digits(b, q, np.uint64(tag))
    b[q] = ord("=")
    return q + 1


@njit(cache=True, inline="always")
def _magnitude(b, q, v):
    """Writes '-' for a negative int64 and returns (q, |v| as uint64): str() and _px both
    write the sign then the magnitude; INT64_MIN has no int64 magnitude."""
    if v < 0:
        b[q] = ord("-")
        return q + 1, np.uint64(-(v + 1)) + np.uint64(1)
    return q, np.uint64(v)


@njit(cache=True, inline="always")
def _f_uint(b, q, tag, v):
    q = _digits(b, _tag(b, q, tag), np.uint64(v))
    b[q] = SOH
    return q + 1


@njit(cache=True, inline="always")
def _f_int(b, q, tag, v):
    q, m = _magnitude(b, _tag(b, q, tag), np.int64(v))
    q = _digits(b, q, m)
    b[q] = SOH
    return q + 1


@njit(cache=True, inline="always")
def _f_px(b, q, tag, v):
    """orders._px: whole part, then the 8 decimals without trailing zeros, no '.' if none."""
    q, m = _magnitude(b, _tag(b, q, tag), np.int64(v))
    q = _digits(b, q, m // _SCALE)
    frac = m % _SCALE
    if frac:
        b[q] = ord(".")
        n = 8
        while frac % _TEN == 0:
            frac //= _TEN
            n -= 1
        for k in range(n, 0, -1):
            b[q + k] = _ZERO_U + frac % _TEN
            frac //= _TEN
        q += n + 1
    b[q] = SOH
    return q + 1


@njit(cache=True, inline="always")
def _f_char(b, q, tag, c):
    q = _tag(b, q, tag)
    b[q] = c
    b[q + 1] = SOH
    return q + 2


@njit(cache=True, inline="always")
def _f_bytes(b, q, tag, s):
    q = _tag(b, q, tag)
    b[q:q + len(s)] = s
    q += len(s)
    b[q] = SOH
    return q + 1


@njit(cache=True, inline="always")
def _f_ident(b, q, tag, f):
    """An identifier field without its NUL padding (as orders._text's rstrip leaves it,
    when encodable)."""
    q = _tag(b, q, tag)
    for c in f:
        if c == 0:
            break
        b[q] = c
        q += 1
    b[q] = SOH
    return q + 1


@njit(cache=True, inline="always")
def _f_reason(b, q, reason, texts, text_at):
    """Text 58: R.REASON_TEXT's, "reason N" above the table."""
    if reason < len(text_at) - 1:
        q = _f_bytes(b, q, 58, texts[text_at[reason]:text_at[reason + 1]])
    else:
        q = _tag(b, q, 58)
        b[q:q + len(_REASON_PREFIX)] = _REASON_PREFIX
        q = _digits(b, q + len(_REASON_PREFIX), np.uint64(reason))
        b[q] = SOH
        q += 1
    return q


@njit(cache=True, inline="always")
def _ord_rej_reason(reason):
    """OrdRejReason 103 as orders.execution_report maps the core's reason."""
    if reason == UNKNOWN_SYMBOL:
        return 1
    if reason == MAX_QTY or reason == MAX_NOTIONAL:
        return 3
    if reason == DUPLICATE_CLORDID:
        return 6
    return OTHER


@njit(cache=True)
def _encode(er, fix44, begin, sender, target, account, stamp, first_seq, texts, text_at, buf, ends, body):
    p = 0
    for i in range(len(er)):
        e = er[i]
        # The body (from 35 on) goes to `body` first: BodyLength, written before it, is
        # only known once it is.
        q = _f_char(body, 0, 35, ord("8"))
        q = _f_bytes(body, q, 49, sender)
        q = _f_bytes(body, q, 56, target)
        q = _f_int(body, q, 34, first_seq + i)
        q = _f_bytes(body, q, 52, stamp)
        q = _f_uint(body, q, 37, e.order_id)
        q = _f_ident(body, q, 11, e.cl_ord_id)
        if e.orig_cl_ord_id[0] != 0:
            q = _f_ident(body, q, 41, e.orig_cl_ord_id)
        q = _f_uint(body, q, 17, e.exec_id)
        et, status = np.int64(e.exec_type), np.int64(e.ord_status)
        if fix44:
            if et == EXEC_PARTIAL_FILL or et == EXEC_FILL:
                et = EXEC_TRADE                      # 4.4: fills are trades
        else:
            q = _f_char(body, q, 20, _ZERO)          # ExecTransType: 4.2 only
            if et == EXEC_TRADE:                     # 4.2 has no trade: partial fill or fill
                et = EXEC_FILL if status == STATUS_FILLED else EXEC_PARTIAL_FILL
        q = _f_char(body, q, 150, et)
        q = _f_char(body, q, 39, status)
        q = _f_bytes(body, q, 1, account)
        q = _f_ident(body, q, 55, e.symbol)
        q = _f_char(body, q, 54, _SIDE_CHAR[e.side])
        q = _f_int(body, q, 38, e.qty)
        q = _f_char(body, q, 40, ord("1") if e.ord_type == ORD_MARKET else ord("2"))
        if e.price != 0:
            q = _f_px(body, q, 44, e.price)
        if e.last_qty != 0:
            q = _f_int(body, q, 32, e.last_qty)
            q = _f_px(body, q, 31, e.last_px)
        q = _f_int(body, q, 151, e.leaves_qty)
        q = _f_int(body, q, 14, e.cum_qty)
        q = _f_px(body, q, 6, e.avg_px)
        if e.reason != 0:
            q = _f_reason(body, q, np.int64(e.reason), texts, text_at)
            if et == EXEC_REJECTED:
                q = _f_int(body, q, 103, _ord_rej_reason(e.reason))
        # 8=BeginString|9=BodyLength|, the body, then CheckSum of everything before 10=.
        start = p
        p = _f_bytes(buf, p, 8, begin)
        p = _f_int(buf, p, 9, q)
        buf[p:p + q] = body[:q]
        p += q
        total = 0
        for k in range(start, p):
            total += buf[k]
        p = _tag(buf, p, 10)
        s = total % 256
        buf[p], buf[p + 1], buf[p + 2], buf[p + 3] = _ZERO + s // 100, _ZERO + s // 10 % 10, _ZERO + s % 10, SOH
        p += 4
        ends[i] = p
    return p
