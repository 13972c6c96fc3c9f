"""The order gateway's batch path in: a read's worth of FIX bytes → framed messages and,
for the plain ones, the commands they become, in one Numba pass.

The Python path (``codec.FixFramer`` → ``FixSession.on_message`` → ``orders.TRANSLATE``)
stays the reference and handles everything this pass does not vouch for. ``decode`` frames
messages from the start of the buffer exactly as the framer does (8, 9, 35 first, BodyLength
ending at the CheckSum field, CheckSum right) and stops at the first thing that is not a
complete, well-framed message: junk, a garbled or an incomplete message, which the caller
hands to the framer with the rest of the buffer.

A framed message is *fast* when the Python path would certainly turn it into a command
with no reject and no session action: a NewOrderSingle, OrderCancelRequest or
OrderCancelReplaceRequest of the session's BeginString and CompIDs, MsgSeqNum the expected
one (counting from ``expected_seq``, one per framed message), no PossDupFlag, a well-formed
SendingTime well within the allowed skew, no empty value, no data field, every field the
translation reads present and plainly valid (digits only for quantities, at most 8 decimals
for prices, the session's account or none), the strategy window tags absent. Anything
else is *slow*: the caller parses that message and gives it to the session as before, so
every reject, resend and refusal comes from one place. For a fast message ``decode`` has
written the command exactly as ``orders.py`` would (a property test holds the two to the
same bytes).
"""

from __future__ import annotations

import numba
import numpy as np

from gateways.fix.codec import DATA_FIELDS, MAX_BODY
from gateways.fix import orders as O
from sequencer import records as R

# the tags the pass reads: header, then what the translation reads
_READ = (34, 43, 49, 52, 56, 1, 11, 21, 38, 40, 41, 44, 54, 55, 59, 60, 100, 126, 168, 847)
(T34, T43, T49, T52, T56, T1, T11, T21, T38, T40, T41, T44, T54, T55, T59, T60, T100, T126, T168,
 T847) = range(len(_READ))
_NSLOT = len(_READ)
_SLOW = -1
TAG_SLOT = np.full(1000, -2, np.int8)     # -2: a tag nobody reads here
for _i, _t in enumerate(_READ):
    TAG_SLOT[_t] = _i
for _t in DATA_FIELDS:                    # a message with data fields goes the Python way
    TAG_SLOT[_t] = _SLOW

def _off(dtype, name: str) -> int:
    return dtype.fields[name][1]


# command field offsets (frozen into the kernel as constants)
NO_CLIENT, NO_PRICE, NO_QTY = _off(R.NewOrder, "client_id"), _off(R.NewOrder, "price"), _off(R.NewOrder, "qty")
NO_SIDE, RE_SIDE = _off(R.NewOrder, "side"), _off(R.Replace, "side")
for _dt in (R.NewOrder, R.Replace):      # _terms writes side, ord_type, tif as adjacent bytes
    assert _off(_dt, "ord_type") == _off(_dt, "side") + 1 and _off(_dt, "tif") == _off(_dt, "side") + 2
NO_VENUE, NO_CLORD, NO_SYMBOL = _off(R.NewOrder, "venue_id"), _off(R.NewOrder, "cl_ord_id"), _off(R.NewOrder, "symbol")
NO_ACCOUNT, NO_STRATEGY = _off(R.NewOrder, "account"), _off(R.NewOrder, "strategy")
CA_CLIENT, CA_SIDE, CA_CLORD = _off(R.Cancel, "client_id"), _off(R.Cancel, "side"), _off(R.Cancel, "cl_ord_id")
CA_ORIG, CA_SYMBOL = _off(R.Cancel, "orig_cl_ord_id"), _off(R.Cancel, "symbol")
RE_CLIENT, RE_PRICE, RE_QTY = _off(R.Replace, "client_id"), _off(R.Replace, "price"), _off(R.Replace, "qty")
RE_CLORD, RE_ORIG, RE_SYMBOL = _off(R.Replace, "cl_ord_id"), _off(R.Replace, "orig_cl_ord_id"), _off(R.Replace, "symbol")
CLORD_LEN, SYMBOL_LEN = R.CLORD_LEN, R.SYMBOL_LEN
NEW_ORDER, CANCEL, REPLACE = R.NEW_ORDER, R.CANCEL, R.REPLACE
SIDE_OF = np.zeros(128, np.int16)          # FIX char → Tandem code (0: not taken here)
for _k, _v in O.SIDES.items():
    SIDE_OF[_k[0]] = _v
ORD_TYPE_OF = np.zeros(128, np.int16)
for _k, _v in O.ORD_TYPES.items():
    ORD_TYPE_OF[_k[0]] = _v
TIF_OF = np.full(128, -1, np.int16)
for _k, _v in O.TIFS.items():
    TIF_OF[_k[0]] = _v
TIF_DAY, ORD_LIMIT = R.TIF_DAY, R.ORD_LIMIT
STRATEGY_OF = np.zeros(2000, np.int16)     # TargetStrategy value → Tandem strategy (0: not taken)
for _k, _v in O.STRATEGIES.items():
    STRATEGY_OF[_k] = _v
MAX_QTY = 1 << 62

# what decode says about where it stopped
NEED_MORE, NOT_FRAMED = 0, 1


@numba.njit(cache=True, inline="always")
def _uint(buf, s, e):
    """Digits only, at most 18 of them: the value; else -1."""
    if e <= s or e - s > 18:
        return -1
    v = 0
    for k in range(s, e):
        c = buf[k]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@numba.njit(cache=True, inline="always")
def _same(buf, s, e, ref):
    if e - s != len(ref):
        return False
    for k in range(len(ref)):
        if buf[s + k] != ref[k]:
            return False
    return True


@numba.njit(cache=True, inline="always")
def _printable(buf, s, e, width):
    if e <= s or e - s > width:
        return False
    for k in range(s, e):
        if buf[k] < 0x21 or buf[k] > 0x7E:
            return False
    return True


@numba.njit(cache=True, inline="always")
def _price8(buf, s, e):
    """digits[.digits] with at most 8 decimals, above 0 and below 2**62 scaled; else -1."""
    v, frac, dot = 0, 0, -1
    if e <= s or e - s > 28:
        return -1
    for k in range(s, e):
        c = buf[k]
        if c == 46 and dot < 0 and k > s:
            dot = k
            continue
        if c < 48 or c > 57:
            return -1
        if dot >= 0:
            frac += 1
            if frac > 8:
                return -1
        v = v * 10 + (c - 48)
        if v >= MAX_QTY:
            return -1
    for _ in range(8 - frac):
        v *= 10
        if v >= MAX_QTY:
            return -1
    return v if v > 0 else -1


@numba.njit(cache=True, inline="always")
def _days(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@numba.njit(cache=True, inline="always")
def _utc_us(buf, s, e):
    """YYYYMMDD-HH:MM:SS[.f{1,9}] as µs since the epoch (fraction cut to µs, as the session
    reads it); -1 for anything the session might read differently."""
    n = e - s
    if n < 17 or n == 18 or n > 27:
        return -1
    if buf[s + 8] != 45 or buf[s + 11] != 58 or buf[s + 14] != 58:
        return -1
    y, mo, d = _uint(buf, s, s + 4), _uint(buf, s + 4, s + 6), _uint(buf, s + 6, s + 8)
    h, mi, sec = _uint(buf, s + 9, s + 11), _uint(buf, s + 12, s + 14), _uint(buf, s + 15, s + 17)
    if y < 1970 or mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 or mi < 0 or mi > 59 or sec < 0 or sec > 59:
        return -1
    mdays = 31
    if mo == 2:
        mdays = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    elif mo == 4 or mo == 6 or mo == 9 or mo == 11:
        mdays = 30
    if d > mdays:
        return -1
    us = 0
    if n > 17:
        if buf[s + 17] != 46:
            return -1
        digits = 0
        for k in range(s + 18, e):
            c = buf[k]
            if c < 48 or c > 57:
                return -1
            if digits < 6:
                us = us * 10 + (c - 48)
            digits += 1
        for _ in range(6 - min(digits, 6)):
            us *= 10
    return ((_days(y, mo, d) * 24 + h) * 60 + mi) * 60_000_000 + sec * 1_000_000 + us


@numba.njit(cache=True, inline="always")
def _put(out, row, off, value, nbytes):
    for k in range(nbytes):
        out[row, off + k] = (value >> (8 * k)) & 0xFF


@numba.njit(cache=True, inline="always")
def _copy(out, row, off, buf, s, e):
    for k in range(e - s):
        out[row, off + k] = buf[s + k]


@numba.njit(cache=True, inline="always")
def _command(out, row, rtype, version, client_off, client_id, clord_off, orig_off, symbol_off, buf, vs, ve):
    """A zeroed command of ``rtype`` with the client and the ids every request names."""
    out[row, :] = 0
    _put(out, row, 0, rtype, 2)
    _put(out, row, 2, version, 2)
    _put(out, row, client_off, client_id, 4)
    _copy(out, row, clord_off, buf, vs[T11], ve[T11])
    if orig_off >= 0:
        _copy(out, row, orig_off, buf, vs[T41], ve[T41])
    _copy(out, row, symbol_off, buf, vs[T55], ve[T55])


@numba.njit(cache=True, inline="always")
def _terms(out, row, price_off, qty_off, side_off, price, qty, side, ord_type, tif):
    """Price, quantity, then side, order type and time in force (adjacent bytes in both records)."""
    _put(out, row, price_off, price, 8)
    _put(out, row, qty_off, qty, 8)
    out[row, side_off], out[row, side_off + 1], out[row, side_off + 2] = side, ord_type, tif


@numba.njit(cache=True)
def _frame(buf, p, n):
    """End of the message at ``p``, ``-1`` if incomplete, ``-2`` if not framed as the
    framer wants it (the framer then decides what it is)."""
    if n - p < 5:
        return -1
    if buf[p] != 56 or buf[p + 1] != 61 or buf[p + 2] != 70 or buf[p + 3] != 73 or buf[p + 4] != 88:
        return -2                                   # not "8=FIX"
    q = p
    while q < n and q < p + 16 and buf[q] != 1:
        q += 1
    if q >= n:
        return -1
    if buf[q] != 1:
        return -2
    q += 1
    if n - q < 2:
        return -1
    if buf[q] != 57 or buf[q + 1] != 61:
        return -2
    r = q + 2
    while r < n and r < q + 11 and buf[r] != 1:
        r += 1
    if r >= n:
        return -1
    length = _uint(buf, q + 2, r)
    if buf[r] != 1 or length < 0 or length > MAX_BODY:
        return -2
    body = r + 1
    if n - body < 3:
        return -1
    if buf[body] != 51 or buf[body + 1] != 53 or buf[body + 2] != 61:
        return -2
    trailer = body + length
    end = trailer + 7
    if end > n:
        return -1                                   # (the framer also checks a too-long length)
    if buf[trailer - 1] != 1 or buf[trailer] != 49 or buf[trailer + 1] != 48 or buf[trailer + 2] != 61 \
            or buf[end - 1] != 1:
        return -2
    want = _uint(buf, trailer + 3, end - 1)
    total = 0
    for k in range(p, trailer):
        total += buf[k]
    if want != total % 256:
        return -2
    return end


@numba.njit(cache=True)
def _decode(buf, n, begin, theirs, ours, account, fix42, client_id, expected_seq, now_us, skew_us,
            out, starts, ends, seqs, fast, tag_slot, side_of, ord_type_of, tif_of, strategy_of):
    vs = np.empty(_NSLOT, np.int64)
    ve = np.empty(_NSLOT, np.int64)
    p, i, status = 0, 0, NEED_MORE
    cap = len(starts)
    while i < cap:
        end = _frame(buf, p, n)
        if end == -1:
            break
        if end == -2:
            status = NOT_FRAMED
            break
        starts[i], ends[i], seqs[i], fast[i] = p, end, 0, 0
        vs[:] = -1
        ve[:] = -1
        # fields: tag=value|, from BeginString to the SOH before CheckSum
        k, ok, msg_type, mt_len, bs, be = p, True, 0, 0, -1, -1
        trailer = end - 7
        while k < trailer:
            tag, t0 = 0, k
            while k < trailer and buf[k] != 61:
                c = buf[k]
                if c < 48 or c > 57 or (k == t0 and c == 48) or k - t0 > 6:
                    ok = False
                    break
                tag = tag * 10 + (c - 48)
                k += 1
            if not ok or k >= trailer or k == t0:
                ok = False
                break
            v0 = k + 1
            k = v0
            while k < trailer and buf[k] != 1:
                k += 1
            if k == v0:                               # a tag without a value: the session rejects it
                ok = False
                break
            if tag == 8:
                bs, be = v0, k
            elif tag == 35:
                if mt_len == 0:
                    msg_type, mt_len = buf[v0], k - v0
            elif tag < 1000:
                slot = tag_slot[tag]
                if slot == _SLOW:
                    ok = False
                    break
                if slot >= 0 and vs[slot] < 0:        # the first occurrence counts, as in FixMessage.get
                    vs[slot], ve[slot] = v0, k
            k += 1
        seq = _uint(buf, vs[T34], ve[T34]) if vs[T34] >= 0 else -1
        seqs[i] = seq
        p = end
        i += 1
        if not ok or mt_len != 1 or seq != expected_seq + i - 1 or not _same(buf, bs, be, begin):
            continue
        if vs[T49] < 0 or vs[T56] < 0 or vs[T52] < 0 or not _same(buf, vs[T49], ve[T49], theirs) \
                or not _same(buf, vs[T56], ve[T56], ours):
            continue
        if vs[T43] >= 0 and not (ve[T43] - vs[T43] == 1 and buf[vs[T43]] == 78):   # PossDupFlag=N only
            continue
        sent = _utc_us(buf, vs[T52], ve[T52])
        if sent < 0 or (skew_us >= 0 and abs(now_us - sent) > skew_us):
            continue
        if vs[T1] >= 0 and not _same(buf, vs[T1], ve[T1], account):
            continue
        # ClOrdID, Symbol, Side: every request names them
        if not _printable(buf, vs[T11], ve[T11], CLORD_LEN) or not _printable(buf, vs[T55], ve[T55], SYMBOL_LEN):
            continue
        if ve[T54] - vs[T54] != 1 or buf[vs[T54]] >= 128 or side_of[buf[vs[T54]]] == 0:
            continue
        side = side_of[buf[vs[T54]]]
        if msg_type == 70 or msg_type == 71:          # F, G: OrigClOrdID
            if not _printable(buf, vs[T41], ve[T41], CLORD_LEN):
                continue
        qty, ord_type, price, tif = 0, 0, 0, TIF_DAY
        if msg_type == 68 or msg_type == 71:          # D, G: the order's terms
            qty = _uint(buf, vs[T38], ve[T38]) if vs[T38] >= 0 else -1
            if qty <= 0 or qty >= MAX_QTY:
                continue
            if ve[T40] - vs[T40] != 1 or buf[vs[T40]] >= 128 or ord_type_of[buf[vs[T40]]] == 0:
                continue
            ord_type = ord_type_of[buf[vs[T40]]]
            if ord_type == ORD_LIMIT:
                price = _price8(buf, vs[T44], ve[T44]) if vs[T44] >= 0 else -1
                if price <= 0:
                    continue
            if vs[T59] >= 0:
                if ve[T59] - vs[T59] != 1 or buf[vs[T59]] >= 128 or tif_of[buf[vs[T59]]] < 0:
                    continue
                tif = tif_of[buf[vs[T59]]]
        if msg_type == 68:                            # NewOrderSingle
            if vs[T60] < 0 or (fix42 and vs[T21] < 0):
                continue
            venue = 0
            if vs[T100] >= 0:
                venue = _uint(buf, vs[T100], ve[T100])
                if venue <= 0 or venue >= 65536:
                    continue
            strategy = 0
            if vs[T847] >= 0:
                sv = _uint(buf, vs[T847], ve[T847])
                if sv < 0 or sv >= len(strategy_of) or strategy_of[sv] == 0 or vs[T168] >= 0 or vs[T126] >= 0:
                    continue
                strategy = strategy_of[sv]
            _command(out, i - 1, NEW_ORDER, 2, NO_CLIENT, client_id, NO_CLORD, -1, NO_SYMBOL, buf, vs, ve)
            _terms(out, i - 1, NO_PRICE, NO_QTY, NO_SIDE, price, qty, side, ord_type, tif)
            _put(out, i - 1, NO_VENUE, venue, 2)
            for a in range(len(account)):
                out[i - 1, NO_ACCOUNT + a] = account[a]
            out[i - 1, NO_STRATEGY] = strategy
        elif msg_type == 70:                          # OrderCancelRequest
            _command(out, i - 1, CANCEL, 1, CA_CLIENT, client_id, CA_CLORD, CA_ORIG, CA_SYMBOL, buf, vs, ve)
            out[i - 1, CA_SIDE] = side
        elif msg_type == 71:                          # OrderCancelReplaceRequest
            _command(out, i - 1, REPLACE, 1, RE_CLIENT, client_id, RE_CLORD, RE_ORIG, RE_SYMBOL, buf, vs, ve)
            _terms(out, i - 1, RE_PRICE, RE_QTY, RE_SIDE, price, qty, side, ord_type, tif)
        else:
            continue
        fast[i - 1] = 1
    return i, p, status


def _ascii(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), np.uint8).copy()


class OrderDecoder:
    """``decode`` for one session: its BeginString, CompIDs, client and account."""

    def __init__(self, begin_string: str, their_comp_id: str, our_comp_id: str, client_id: int, account: str,
                 max_sending_time_skew_s: float | None, capacity: int = 4096) -> None:
        self.begin, self.theirs, self.ours = _ascii(begin_string), _ascii(their_comp_id), _ascii(our_comp_id)
        self.account, self.client_id = _ascii(account), client_id
        self.fix42 = begin_string == "FIX.4.2"
        # a message within a millisecond of the limit goes the Python way, which decides it
        self.skew_us = -1 if max_sending_time_skew_s is None else max(0, int(max_sending_time_skew_s * 1e6) - 1000)
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        self.out = np.zeros((capacity, R.COMMAND_SIZE), np.uint8)
        self.starts = np.zeros(capacity, np.int64)
        self.ends = np.zeros(capacity, np.int64)
        self.seqs = np.zeros(capacity, np.int64)
        self.fast = np.zeros(capacity, np.uint8)

    def decode(self, data: bytes, expected_seq: int, now_us: int) -> tuple[int, int, int]:
        """Frame ``data`` from its start: (messages framed, bytes they take, NEED_MORE or
        NOT_FRAMED for what follows them). Per message ``starts``, ``ends``, ``seqs``
        (MsgSeqNum, -1 if unreadable) and ``fast``; the command of a fast message i is
        ``commands(i, j)``."""
        buf = np.frombuffer(data, np.uint8)
        if len(self.starts) < len(data) // 24 + 1:   # no message is shorter than 24 bytes
            self._grow(len(data) // 24 + 1)
        return _decode(buf, len(buf), self.begin, self.theirs, self.ours, self.account, self.fix42,
                       self.client_id, expected_seq, now_us, self.skew_us, self.out, self.starts, self.ends,
                       self.seqs, self.fast, TAG_SLOT, SIDE_OF, ORD_TYPE_OF, TIF_OF, STRATEGY_OF)

    def commands(self, i: int, j: int) -> np.ndarray:
        """The commands of fast messages i..j-1 (a copy: raw 128-byte records)."""
        return self.out[i:j].copy().view(R.RAW_COMMAND).reshape(-1)
