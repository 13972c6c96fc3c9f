"""The 32-byte binary order-entry protocol: message layouts, batch decoding, validation,
conversion to core commands and response encoding (byte tables in docs/binary.md).

Everything works on numpy arrays of whole batches: a TCP read is cut into 32-byte
messages with one ``np.frombuffer`` (``decode_batch``), checked with a handful of
vectorised comparisons (``validate``) and turned into 128-byte core command records
(``to_commands``) without a Python object per message. Responses are built the same
way from a batch of core events (``responses_from_events``). Session messages (login,
replay, heartbeat, logout) are rare and handled one at a time by the session.

Every client message is exactly ``MSG_SIZE`` bytes, every response ``RESPONSE_SIZE``,
both little-endian. The protocol has no length prefix: a short message can only be
noticed at end of stream (``PR_TRUNCATED``); a client that sends one mid-stream
misaligns everything after it, which then fails validation and ends the session.
"""

from __future__ import annotations

import struct
import time

import numpy as np

from sequencer import records as R

__all__ = [
    "MSG_SIZE", "RESPONSE_SIZE", "PROTOCOL_VERSION", "ORDER_MSG", "LOGIN_MSG", "REPLAY_MSG", "RESPONSE",
    "NEW_ORDER", "CANCEL", "REPLACE", "LOGIN", "REPLAY_REQUEST", "HEARTBEAT", "LOGOUT",
    "ORDER_TYPES", "SESSION_TYPES", "ACK", "REJECT", "FILL", "CANCELLED", "REPLACED", "CANCEL_REJECT",
    "LOGIN_ACCEPTED", "LOGIN_REJECTED", "SERVER_HEARTBEAT", "SERVER_LOGOUT", "SESSION_REJECT",
    "REPLAY_COMPLETE", "APP_RESPONSES", "FLAG_REPLAYED", "API_KEY_LEN",
    "PR_TRUNCATED", "PR_UNKNOWN_TYPE", "PR_NOT_LOGGED_IN", "PR_ALREADY_LOGGED_IN", "PR_BAD_SIDE",
    "PR_BAD_SYMBOL", "PR_BAD_QUANTITY", "PR_BAD_PRICE", "PR_BAD_CLIENT_ORDER_ID", "PR_BAD_ORIG_ID",
    "PR_BAD_FIELD", "PR_BAD_API_KEY", "PR_BAD_VERSION", "PR_TOO_MANY_BAD", "PR_IDLE", "PR_SHUTDOWN",
    "PROTOCOL_REASON_TEXT", "reason_text",
    "decode_batch", "validate", "to_commands", "encode_ids", "parse_ids", "stamp_source",
    "responses_from_events", "session_response", "decode_responses",
    "new_order", "cancel", "replace", "login", "replay_request", "heartbeat", "logout", "bench_decode",
]

MSG_SIZE = 32
RESPONSE_SIZE = 64
PROTOCOL_VERSION = 1
API_KEY_LEN = 24
U32_MAX = (1 << 32) - 1

# ------------------------------------------------------------ client message types
NEW_ORDER = 1          # equal to the core's record types NEW_ORDER / CANCEL / REPLACE
CANCEL = 2
REPLACE = 3
LOGIN = 16
REPLAY_REQUEST = 17
HEARTBEAT = 18
LOGOUT = 19
ORDER_TYPES = (NEW_ORDER, CANCEL, REPLACE)
SESSION_TYPES = (LOGIN, REPLAY_REQUEST, HEARTBEAT, LOGOUT)

# ------------------------------------------------------------------ response types
# Application responses (1-15) are numbered (response_seq), stored and replayable.
ACK = 1
REJECT = 2
FILL = 3
CANCELLED = 4
REPLACED = 5
CANCEL_REJECT = 6
APP_RESPONSES = (ACK, REJECT, FILL, CANCELLED, REPLACED, CANCEL_REJECT)
# Session responses (16+) are not numbered: their response_seq is the number the next
# application response will get, so a client sees at once whether it missed any.
LOGIN_ACCEPTED = 16
LOGIN_REJECTED = 17
SERVER_HEARTBEAT = 18
SERVER_LOGOUT = 19
SESSION_REJECT = 20
REPLAY_COMPLETE = 21

FLAG_REPLAYED = 1      # response flags bit 0: sent again by a replay, not for the first time

# ------------------------------------------- protocol reasons (session reject, logout)
# From 1000 up, so one table maps every reason a client sees: core REASON_* below 1000.
PR_TRUNCATED = 1001            # the stream ended inside a message
PR_UNKNOWN_TYPE = 1002
PR_NOT_LOGGED_IN = 1003
PR_ALREADY_LOGGED_IN = 1004
PR_BAD_SIDE = 1005
PR_BAD_SYMBOL = 1006           # symbol_id 0
PR_BAD_QUANTITY = 1007         # quantity 0
PR_BAD_PRICE = 1008            # negative price
PR_BAD_CLIENT_ORDER_ID = 1009  # client_order_id 0
PR_BAD_ORIG_ID = 1010          # cancel / replace without orig_client_order_id
PR_BAD_FIELD = 1011            # a session message field out of range
PR_BAD_API_KEY = 1012
PR_BAD_VERSION = 1013
PR_TOO_MANY_BAD = 1014         # logout: too many bad messages
PR_IDLE = 1015                 # logout: nothing received for idle_timeout_s
PR_SHUTDOWN = 1016             # logout: the gateway closes the session

PROTOCOL_REASON_TEXT = {
    PR_TRUNCATED: "truncated message at end of stream",
    PR_UNKNOWN_TYPE: "unknown message type",
    PR_NOT_LOGGED_IN: "not logged in",
    PR_ALREADY_LOGGED_IN: "already logged in",
    PR_BAD_SIDE: "invalid side",
    PR_BAD_SYMBOL: "invalid symbol_id",
    PR_BAD_QUANTITY: "invalid quantity",
    PR_BAD_PRICE: "invalid price",
    PR_BAD_CLIENT_ORDER_ID: "invalid client_order_id",
    PR_BAD_ORIG_ID: "invalid orig_client_order_id",
    PR_BAD_FIELD: "invalid field value",
    PR_BAD_API_KEY: "invalid API key",
    PR_BAD_VERSION: "unsupported protocol version",
    PR_TOO_MANY_BAD: "too many invalid messages",
    PR_IDLE: "no message received within the idle timeout",
    PR_SHUTDOWN: "gateway closing the session",
}


def reason_text(reason: int) -> str:
    """Text for any reason code a response carries (protocol or core)."""
    return PROTOCOL_REASON_TEXT.get(reason) or R.REASON_TEXT.get(reason, f"reason {reason}")


def _dtype(fields, size):
    """A little-endian dtype from (name, format, offset) triples; offsets may overlap."""
    names, formats, offsets = zip(*fields)
    dt = np.dtype({"names": list(names), "formats": list(formats), "offsets": list(offsets), "itemsize": size})
    assert dt.itemsize == size
    return dt


# NewOrder / Cancel / Replace. The last 8 bytes are the client's timestamp on a NewOrder
# and the order being cancelled or replaced on the other two: two names, one slot.
ORDER_MSG = _dtype([
    ("msg_type", "u1", 0), ("side", "u1", 1), ("symbol_id", "<u2", 2), ("quantity", "<u4", 4),
    ("price", "<i8", 8), ("client_order_id", "<u8", 16),
    ("timestamp_ns", "<i8", 24), ("orig_client_order_id", "<u8", 24),
], MSG_SIZE)

LOGIN_MSG = _dtype([
    ("msg_type", "u1", 0), ("version", "u1", 1), ("flags", "<u2", 2), ("next_response_seq", "<u4", 4),
    ("api_key", "S24", 8),
], MSG_SIZE)

REPLAY_MSG = _dtype([
    ("msg_type", "u1", 0), ("from_seq", "<u4", 4), ("count", "<u4", 8),
], MSG_SIZE)

RESPONSE = _dtype([
    ("msg_type", "u1", 0), ("side", "u1", 1), ("reason", "<u2", 2), ("response_seq", "<u4", 4),
    ("client_order_id", "<u8", 8), ("orig_client_order_id", "<u8", 16), ("order_id", "<u8", 24),
    ("price", "<i8", 32), ("qty", "<u4", 40), ("leaves_qty", "<u4", 44), ("cum_qty", "<u4", 48),
    ("ord_status", "u1", 52), ("ref_msg_type", "u1", 53), ("flags", "u1", 54), ("_pad", "u1", 55),
    ("ts", "<i8", 56),
], RESPONSE_SIZE)
# (no gaps between fields: numpy copies structured arrays field by field and would leave
# a gap's bytes uninitialised in the copy)

_ORDER_STRUCT = struct.Struct("<BBHIqQQ")
_LOGIN_STRUCT = struct.Struct("<BBHI24s")
_REPLAY_STRUCT = struct.Struct("<B3xII20x")


# -------------------------------------------------------------------- decoding
def decode_batch(buf) -> tuple[np.ndarray, bytes]:
    """Cut a byte stream into whole messages (a read-only ``ORDER_MSG`` view of ``buf``)
    and the trailing partial message, kept for the next read."""
    mv = memoryview(buf).cast("B")
    n = len(mv) // MSG_SIZE
    msgs = np.frombuffer(mv, ORDER_MSG, count=n)
    return msgs, bytes(mv[n * MSG_SIZE:])


_KNOWN = np.zeros(256, bool)
_KNOWN[list(ORDER_TYPES + SESSION_TYPES)] = True
_GOOD_SIDE = np.zeros(256, bool)
_GOOD_SIDE[[R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT]] = True


def validate(msgs: np.ndarray) -> np.ndarray:
    """Per-message protocol reason (uint16, 0 = valid) for a batch of ``ORDER_MSG``.

    Session messages pass here (0) and are checked by the session. For orders the first
    failing check wins, in this order: type, side, symbol, quantity, price, ids. Fields
    a type ignores are not checked (a Cancel's side, quantity, price, symbol; a
    Replace's side and symbol)."""
    t = msgs["msg_type"]
    new, rep = t == NEW_ORDER, t == REPLACE
    sized = new | rep
    amends = (t == CANCEL) | rep
    codes = np.select(
        [~_KNOWN[t],
         new & ~_GOOD_SIDE[msgs["side"]],
         new & (msgs["symbol_id"] == 0),
         sized & (msgs["quantity"] == 0),
         sized & (msgs["price"] < 0),
         (new | amends) & (msgs["client_order_id"] == 0),
         amends & (msgs["orig_client_order_id"] == 0)],
        [PR_UNKNOWN_TYPE, PR_BAD_SIDE, PR_BAD_SYMBOL, PR_BAD_QUANTITY, PR_BAD_PRICE,
         PR_BAD_CLIENT_ORDER_ID, PR_BAD_ORIG_ID], 0)
    return codes.astype(np.uint16)


# ---------------------------------------------------- client order ids <-> ClOrdID
_L = R.CLORD_LEN
_POW10 = np.array([10 ** k for k in range(1, 20)], np.uint64)
_TEN4 = np.uint64(10_000)
_FOUR_DIGITS = np.frombuffer(b"".join(b"%04d" % i for i in range(10_000)), "<u4")  # 4 ASCII digits per entry


def _align(src: np.ndarray, lengths: np.ndarray, left: bool) -> np.ndarray:
    """Move each row's ``lengths[i]`` significant bytes from one end of a 20-byte field
    to the other (right-aligned digits to a left-aligned ClOrdID, or back), zero-filling.
    One slice copy per distinct length: a batch's ids rarely have many."""
    out = np.zeros(src.shape, np.uint8)
    if len(lengths) and (lengths == lengths[0]).all():
        groups = [(int(lengths[0]), slice(None))]
    else:
        groups = [(int(k), lengths == k) for k in np.unique(lengths)]
    for k, rows in groups:
        if k:
            if left:
                out[rows, :k] = src[rows, _L - k:]
            else:
                out[rows, _L - k:] = src[rows, :k]
    return out


def encode_ids(ids: np.ndarray) -> np.ndarray:
    """uint64 ids as the core's ClOrdID: decimal ASCII, no leading zeros, NUL-padded
    (an (n, 20) uint8 array; 20 digits hold any uint64)."""
    v = np.asarray(ids, np.uint64)
    words = np.empty((len(v), 5), "<u4")      # four digits per word, zero-padded on the left
    x = v
    for j in range(4, -1, -1):
        q = x // _TEN4
        words[:, j] = _FOUR_DIGITS[(x - q * _TEN4).astype(np.intp)]
        x = q
    ndig = 1 + np.searchsorted(_POW10, v, side="right")
    return _align(words.view(np.uint8), ndig, left=True)


_TOP_HI, _TOP_LO = divmod((1 << 64) - 1, 10 ** 12)     # uint64 max as 8 + 12 digits


def parse_ids(fields: np.ndarray) -> np.ndarray:
    """ClOrdID fields ((n, 20) uint8) back to uint64; 0 where a field is not a decimal
    number that fits (e.g. an order entered through another gateway for this client)."""
    f = np.asarray(fields, np.uint8).reshape(-1, _L)
    digit = (f - 48) < 10
    length = np.where(digit.all(axis=1), _L, np.argmin(digit, axis=1))
    tail = np.arange(_L) >= length[:, None]
    ok = (length > 0) & ~(tail & (f != 0)).any(axis=1)          # digits, then NULs only
    d = _align(np.where(tail, 48, f) - np.uint8(48), np.where(ok, length, 0), left=False).astype(np.uint64)
    g = ((d[:, 0::4] * 10 + d[:, 1::4]) * 10 + d[:, 2::4]) * 10 + d[:, 3::4]   # five 4-digit groups
    hi = g[:, 0] * _TEN4 + g[:, 1]
    lo = (g[:, 2] * _TEN4 + g[:, 3]) * _TEN4 + g[:, 4]
    ok &= (hi < _TOP_HI) | ((hi == _TOP_HI) & (lo <= _TOP_LO))
    return np.where(ok, hi * np.uint64(10 ** 12) + lo, np.uint64(0))


# ------------------------------------------------------------------- to commands
def to_commands(msgs: np.ndarray, client_id: int, account: np.ndarray) -> np.ndarray:
    """Core command records (``RAW_COMMAND``) for valid order messages, in order.

    client_id and account come from the session, never from the message. Header
    source/seq/ts are left 0 for the gateway and the sequencer to stamp."""
    raw = R.new_commands(len(msgs))
    t = msgs["msg_type"]
    for mtype, dtype, version in ((NEW_ORDER, R.NewOrder, 2), (CANCEL, R.Cancel, 1), (REPLACE, R.Replace, 1)):
        sel = t == mtype
        if sel.all():
            idx, m, out = None, msgs, raw.view(dtype)
        elif sel.any():
            idx = np.flatnonzero(sel)
            m, out = msgs[idx], np.zeros(len(idx), dtype)
        else:
            continue
        out["type"], out["version"], out["client_id"] = mtype, version, client_id
        out["cl_ord_id"] = encode_ids(m["client_order_id"])
        if mtype == NEW_ORDER:
            out["account"] = account
            out["symbol_id"], out["side"] = m["symbol_id"], m["side"]
        else:
            out["orig_cl_ord_id"] = encode_ids(m["orig_client_order_id"])
        if mtype != CANCEL:
            out["price"], out["qty"] = m["price"], m["quantity"]
            out["ord_type"] = np.where(m["price"] == 0, R.ORD_MARKET, R.ORD_LIMIT)
            out["tif"] = R.TIF_DAY
        if idx is not None:
            raw[idx] = out.view(R.RAW_COMMAND)
    return raw


def stamp_source(raw: np.ndarray, source_id: int, first_seq: int) -> int:
    """Stamp (gateway id, gateway seq) on commands so the sequencer can drop duplicates;
    returns the next gateway seq. For the gateway process, which owns that counter."""
    hdr = R.header(raw)
    hdr["source_id"] = source_id
    hdr["source_seq"] = np.arange(first_seq, first_seq + len(raw), dtype=np.uint64)
    return first_seq + len(raw)


# ------------------------------------------------------------------- responses
# ExecReport exec_type (FIX 150 char) -> response type; 0: not reported (PENDING_*).
_EXEC_TO_RESPONSE = np.zeros(256, np.uint8)
_EXEC_TO_RESPONSE[R.EXEC_NEW] = ACK
_EXEC_TO_RESPONSE[R.EXEC_REJECTED] = REJECT
_EXEC_TO_RESPONSE[[R.EXEC_PARTIAL_FILL, R.EXEC_FILL, R.EXEC_TRADE]] = FILL
_EXEC_TO_RESPONSE[[R.EXEC_CANCELED, R.EXEC_EXPIRED]] = CANCELLED
_EXEC_TO_RESPONSE[R.EXEC_REPLACED] = REPLACED
_RESPONSE_TO_MSG = np.zeros(256, np.uint8)
_RESPONSE_TO_MSG[R.RESPONSE_TO_CANCEL] = CANCEL
_RESPONSE_TO_MSG[R.RESPONSE_TO_REPLACE] = REPLACE


def _u32(q: np.ndarray) -> np.ndarray:
    """Core int64 quantities in the protocol's uint32 (clipped: only an order entered for
    this client through another channel could exceed it)."""
    return np.clip(q, 0, U32_MAX).astype(np.uint32)


def responses_from_events(events: np.ndarray) -> np.ndarray:
    """Unnumbered ``RESPONSE``s for a batch of core events (``RAW_EVENT``), in event
    order; events that give no response (PENDING_* reports, other types) are skipped.

    client_order_id / orig_client_order_id are the event's ClOrdID / OrigClOrdID parsed
    back to numbers, with FIX meaning: the id of the request answered (a Cancel's or
    Replace's own id on CANCELLED / REPLACED / CANCEL_REJECT) and the id the order had
    before it."""
    hdr = R.header(events)
    etype = hdr["type"]
    out = np.zeros(len(events), RESPONSE)
    er_rows = np.flatnonzero(etype == R.EXEC_REPORT)
    if len(er_rows):
        er = events[er_rows].view(R.ExecReport)
        kind = _EXEC_TO_RESPONSE[er["exec_type"]]
        fill = kind == FILL
        o = out[er_rows]
        o["msg_type"], o["side"], o["reason"], o["order_id"] = kind, er["side"], er["reason"], er["order_id"]
        o["price"] = np.where(fill, er["last_px"], er["price"])
        o["qty"] = _u32(np.where(fill, er["last_qty"], er["qty"]))
        o["leaves_qty"], o["cum_qty"] = _u32(er["leaves_qty"]), _u32(er["cum_qty"])
        o["ord_status"] = er["ord_status"]
        o["client_order_id"], o["orig_client_order_id"] = parse_ids(er["cl_ord_id"]), parse_ids(er["orig_cl_ord_id"])
        o["ts"] = er["ts"]
        out[er_rows] = o
    cr_rows = np.flatnonzero(etype == R.CANCEL_REJECT)
    if len(cr_rows):
        cr = events[cr_rows].view(R.CancelReject)
        o = out[cr_rows]
        o["msg_type"], o["reason"], o["order_id"] = CANCEL_REJECT, cr["reason"], cr["order_id"]
        o["ord_status"], o["ref_msg_type"] = cr["ord_status"], _RESPONSE_TO_MSG[cr["response_to"]]
        o["client_order_id"], o["orig_client_order_id"] = parse_ids(cr["cl_ord_id"]), parse_ids(cr["orig_cl_ord_id"])
        o["ts"] = cr["ts"]
        out[cr_rows] = o
    return out[out["msg_type"] != 0]


def session_response(msg_type: int, next_seq: int, reason: int = 0, ref_msg_type: int = 0,
                     client_order_id: int = 0) -> bytes:
    """One session response (login accepted/rejected, heartbeat, logout, session reject,
    replay complete); response_seq carries the next application response number."""
    r = np.zeros(1, RESPONSE)
    r["msg_type"], r["reason"], r["response_seq"] = msg_type, reason, next_seq
    r["ref_msg_type"], r["client_order_id"] = ref_msg_type, client_order_id
    return r.tobytes()


def decode_responses(buf) -> np.ndarray:
    """Whole responses in ``buf`` as a ``RESPONSE`` view (clients and tests)."""
    mv = memoryview(buf).cast("B")
    return np.frombuffer(mv, RESPONSE, count=len(mv) // RESPONSE_SIZE)


# ------------------------------------------------ client-side encoders (tests, tools)
def new_order(client_order_id: int, side: int, symbol_id: int, quantity: int, price: int,
              timestamp_ns: int = 0) -> bytes:
    return _ORDER_STRUCT.pack(NEW_ORDER, side, symbol_id, quantity, price, client_order_id,
                              timestamp_ns & ((1 << 64) - 1))


def cancel(client_order_id: int, orig_client_order_id: int) -> bytes:
    return _ORDER_STRUCT.pack(CANCEL, 0, 0, 0, 0, client_order_id, orig_client_order_id)


def replace(client_order_id: int, orig_client_order_id: int, quantity: int, price: int) -> bytes:
    return _ORDER_STRUCT.pack(REPLACE, 0, 0, quantity, price, client_order_id, orig_client_order_id)


def login(api_key: str | bytes, next_response_seq: int = 0, version: int = PROTOCOL_VERSION,
          flags: int = 0) -> bytes:
    key = api_key.encode("ascii") if isinstance(api_key, str) else api_key
    return _LOGIN_STRUCT.pack(LOGIN, version, flags, next_response_seq, key)


def replay_request(from_seq: int, count: int = 0) -> bytes:
    return _REPLAY_STRUCT.pack(REPLAY_REQUEST, from_seq, count)


def heartbeat() -> bytes:
    return bytes([HEARTBEAT]) + bytes(MSG_SIZE - 1)


def logout() -> bytes:
    return bytes([LOGOUT]) + bytes(MSG_SIZE - 1)


# ------------------------------------------------------------------- benchmark
def bench_decode(n: int = 1_000_000, batch: int = 4096) -> float:
    """Order messages per second through decode_batch + validate + to_commands, in
    reads of ``batch`` messages (a mix of 80% new orders, 10% cancels, 10% replaces)."""
    rng = np.random.default_rng(7)
    m = np.zeros(batch, ORDER_MSG)
    m["msg_type"] = rng.choice([NEW_ORDER] * 8 + [CANCEL, REPLACE], batch)
    m["side"] = rng.choice([R.SIDE_BUY, R.SIDE_SELL], batch)
    m["symbol_id"] = rng.integers(1, 500, batch)
    m["quantity"] = rng.integers(1, 10_000, batch)
    m["price"] = rng.integers(1, 500, batch) * R.PRICE_SCALE
    m["client_order_id"] = np.arange(1, batch + 1, dtype=np.uint64) + 10 ** 9
    m["orig_client_order_id"] = np.where(m["msg_type"] == NEW_ORDER, rng.integers(0, 1 << 40, batch), 7)
    data = m.tobytes()
    account = R.ascii_field("ACCT1", R.ACCOUNT_LEN)
    done = 0
    start = time.perf_counter()
    while done < n:
        msgs, _ = decode_batch(data)
        codes = validate(msgs)
        to_commands(msgs[codes == 0], 42, account)
        done += len(msgs)
    return done / (time.perf_counter() - start)
