"""FIX application messages ↔ Tandem records, for FIX 4.2 and 4.4.

In: NewOrderSingle (D), OrderCancelRequest (F) and OrderCancelReplaceRequest (G) become
NewOrder / Cancel / Replace commands for the session's client and account. What the
gateway can tell is wrong without the core is answered here and never journaled:
- a required tag missing → session Reject, SessionRejectReason 1, RefTagID;
- a value in the wrong format (a quantity that is not an integer, a price that is not
  a decimal) → session Reject 6; a value out of range (an unknown side, order type or
  time in force, more than 8 decimals) → session Reject 5;
- an Account (1) other than the session's → a rejecting ExecutionReport (OrdRejReason
  99 other, "account not allowed on this session") or OrderCancelReject.
Unknown symbols, limits, ownership and the rest are the core's to decide: its reports
come back like any other.

Out: ExecReport and CancelReject events become ExecutionReport (8) and
OrderCancelReject (9) with what each version requires: ExecTransType 20=0 in 4.2 only;
ExecType 1 / 2 for fills in 4.2 and F (trade) in 4.4, the OrdStatus saying partial or
filled; LastShares (4.2) / LastQty (4.4) are both tag 32; LeavesQty, CumQty, AvgPx
always; Text 58 and OrdRejReason 103 from the core's reason on rejects. ExecID is the
core's exec id, so a report re-sent after a restart carries the ExecID the client saw.

Strategies (how the core works an order) come in TargetStrategy 847, FIX 4.4's tag, used
on 4.2 too: 1000 best price, 1001 sweep, 1002 cost, 1003 TWAP, 1004 VWAP (user-defined
values ≥ 1000, as the spec allows); ExDestination 100 names a venue id for a direct
order; EffectiveTime 168 / ExpireTime 126 bound an algo's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import numpy as np

from gateways.fix.codec import FixMessage
from sequencer import records as R

REQUIRED_TAG_MISSING, VALUE_INCORRECT, INCORRECT_DATA_FORMAT = 1, 5, 6

SIDES = {b"1": R.SIDE_BUY, b"2": R.SIDE_SELL, b"5": R.SIDE_SELL_SHORT}
SIDE_CHARS = {v: k.decode() for k, v in SIDES.items()}
ORD_TYPES = {b"1": R.ORD_MARKET, b"2": R.ORD_LIMIT}
TIFS = {b"0": R.TIF_DAY, b"3": R.TIF_IOC, b"4": R.TIF_FOK}
TIF_CHARS = {v: k.decode() for k, v in TIFS.items()}
STRATEGIES = {1000: R.STRATEGY_BEST_PRICE, 1001: R.STRATEGY_SWEEP, 1002: R.STRATEGY_COST,
              1003: R.STRATEGY_TWAP, 1004: R.STRATEGY_VWAP}
OTHER = 99   # OrdRejReason / CxlRejReason "other"


@dataclass(frozen=True)
class SessionInfo:
    """What a session may do: trade one account as one client."""
    begin_string: str
    client_id: int
    account: str


class Refusal(Exception):
    """An application message refused before it reaches the core."""

    def __init__(self, reason: int, tag: int, text: str, business: bool = False):
        super().__init__(text)
        self.reason, self.tag, self.text, self.business = reason, tag, text, business


def _get(msg: FixMessage, tag: int, what: str) -> bytes:
    v = msg.get(tag)
    if v is None or v == b"":
        raise Refusal(REQUIRED_TAG_MISSING, tag, f"required tag {tag} ({what}) missing")
    return v


def _choice(msg: FixMessage, tag: int, what: str, table: dict, default=None):
    v = msg.get(tag)
    if v is None:
        if default is None:
            raise Refusal(REQUIRED_TAG_MISSING, tag, f"required tag {tag} ({what}) missing")
        return default
    if v not in table:
        raise Refusal(VALUE_INCORRECT, tag, f"{what} {v.decode('ascii', 'replace')!r} not supported")
    return table[v]


def _qty(msg: FixMessage, tag: int = 38) -> int:
    v = _get(msg, tag, "OrderQty")
    try:
        q = Decimal(v.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        raise Refusal(INCORRECT_DATA_FORMAT, tag, f"OrderQty {v!r} is not a number") from None
    if q != q.to_integral_value() or q <= 0 or q >= 1 << 62:
        raise Refusal(VALUE_INCORRECT, tag, f"OrderQty {v.decode()} must be a positive whole number")
    return int(q)


def price8(v: bytes, tag: int = 44) -> int:
    try:
        p = Decimal(v.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        raise Refusal(INCORRECT_DATA_FORMAT, tag, f"price {v!r} is not a decimal") from None
    scaled = p * R.PRICE_SCALE
    if scaled != scaled.to_integral_value() or not 0 < scaled < 1 << 62:
        raise Refusal(VALUE_INCORRECT, tag, f"price {v.decode()} must be positive with at most 8 decimals")
    return int(scaled)


def _ascii_into(field: np.ndarray, msg: FixMessage, tag: int, width: int, what: str, required: bool = True):
    v = msg.get(tag)
    if v is None or v == b"":
        if required:
            raise Refusal(REQUIRED_TAG_MISSING, tag, f"required tag {tag} ({what}) missing")
        return
    if len(v) > width or any(c < 0x21 or c > 0x7E for c in v):
        raise Refusal(VALUE_INCORRECT, tag, f"{what} must be 1..{width} printable characters without spaces")
    field[:len(v)] = np.frombuffer(v, np.uint8)


def _utc_ns(v: bytes | None, tag: int) -> int:
    if v is None:
        return 0
    try:
        t = datetime.strptime(v.decode("ascii")[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(INCORRECT_DATA_FORMAT, tag, f"tag {tag} {v!r} is not a UTCTimestamp") from None
    return int(t.timestamp()) * 10**9


def _check_account(msg: FixMessage, s: SessionInfo) -> None:
    acct = msg.get(1)
    if acct is not None and acct.decode("ascii", "replace") != s.account:
        raise Refusal(OTHER, 1, "account not allowed on this session", business=True)


def _start(dtype, rtype: int, version: int, msg: FixMessage, orig: bool):
    """A zeroed command with the fields every request names: ClOrdID (OrigClOrdID for a
    cancel or replace), Symbol, Side."""
    raw = R.new_commands(1)
    c = raw.view(dtype)[0]
    c["type"], c["version"] = rtype, version
    _ascii_into(c["cl_ord_id"], msg, 11, R.CLORD_LEN, "ClOrdID")
    if orig:
        _ascii_into(c["orig_cl_ord_id"], msg, 41, R.CLORD_LEN, "OrigClOrdID")
    _ascii_into(c["symbol"], msg, 55, R.SYMBOL_LEN, "Symbol")
    c["side"] = _choice(msg, 54, "Side", SIDES)
    return raw, c


def _terms(c, msg: FixMessage) -> None:
    """Quantity, order type, price (limit orders) and time in force of an order."""
    c["qty"] = _qty(msg)
    c["ord_type"] = _choice(msg, 40, "OrdType", ORD_TYPES)
    if c["ord_type"] == R.ORD_LIMIT:
        c["price"] = price8(_get(msg, 44, "Price"))
    c["tif"] = _choice(msg, 59, "TimeInForce", TIFS, default=R.TIF_DAY)


def new_order(msg: FixMessage, s: SessionInfo) -> np.ndarray:
    """NewOrderSingle → one NewOrder command (version 2), or ``Refusal``."""
    raw, o = _start(R.NewOrder, R.NEW_ORDER, 2, msg, orig=False)
    _terms(o, msg)
    if s.begin_string == "FIX.4.2":
        _get(msg, 21, "HandlInst")
    _get(msg, 60, "TransactTime")
    _check_account(msg, s)
    o["client_id"] = s.client_id
    o["account"][:len(s.account)] = np.frombuffer(s.account.encode("ascii"), np.uint8)
    dest = msg.get(100)
    if dest is not None:
        if not dest.isdigit() or not 0 < int(dest) < 1 << 16:
            raise Refusal(VALUE_INCORRECT, 100, "ExDestination must be a venue id")
        o["venue_id"] = int(dest)
    strategy = msg.get(847)
    if strategy is not None:
        if not strategy.isdigit() or int(strategy) not in STRATEGIES:
            raise Refusal(VALUE_INCORRECT, 847, "TargetStrategy not supported (1000-1004)")
        o["strategy"] = STRATEGIES[int(strategy)]
        o["start_ts"] = _utc_ns(msg.get(168), 168)
        o["end_ts"] = _utc_ns(msg.get(126), 126)
    return raw


def cancel(msg: FixMessage, s: SessionInfo) -> np.ndarray:
    raw, c = _start(R.Cancel, R.CANCEL, 1, msg, orig=True)
    _check_account(msg, s)
    c["client_id"] = s.client_id
    return raw


def replace(msg: FixMessage, s: SessionInfo) -> np.ndarray:
    raw, r = _start(R.Replace, R.REPLACE, 1, msg, orig=True)
    _terms(r, msg)
    _check_account(msg, s)
    r["client_id"] = s.client_id
    return raw


TRANSLATE = {"D": new_order, "F": cancel, "G": replace}


# ------------------------------------------------------------------ out
def _px(v: int) -> str:
    """A fixed-point price as FIX's decimal: no exponent (Decimal would write 1E-8),
    no trailing zeros."""
    v = int(v)
    whole, frac = divmod(abs(v), R.PRICE_SCALE)
    text = f"{whole}.{frac:08d}".rstrip("0").rstrip(".")
    return "-" + text if v < 0 else text


def _text(field) -> str:
    return bytes(field).rstrip(b"\0").decode("ascii", "replace")


def execution_report(e, begin_string: str, account: str) -> list:
    """The body fields of an ExecutionReport for one ExecReport event (a numpy record)."""
    fix44 = begin_string == "FIX.4.4"
    et, status = chr(int(e["exec_type"])), chr(int(e["ord_status"]))
    if fix44 and et in ("1", "2"):
        et = "F"  # 4.4: fills are trades; OrdStatus says partial or filled
    elif not fix44 and et == "F":
        et = "2" if status == "2" else "1"  # 4.2 has no Trade ExecType: partial fill or fill
    f = [(37, int(e["order_id"])), (11, _text(e["cl_ord_id"]))]
    orig = _text(e["orig_cl_ord_id"])
    if orig:
        f.append((41, orig))
    f += [(17, int(e["exec_id"]))]
    if not fix44:
        f.append((20, "0"))
    f += [(150, et), (39, status), (1, account), (55, _text(e["symbol"])), (54, SIDE_CHARS.get(int(e["side"]), "1")),
          (38, int(e["qty"])), (40, "1" if int(e["ord_type"]) == R.ORD_MARKET else "2")]
    if int(e["price"]):
        f.append((44, _px(e["price"])))
    if int(e["last_qty"]):
        f += [(32, int(e["last_qty"])), (31, _px(e["last_px"]))]
    f += [(151, int(e["leaves_qty"])), (14, int(e["cum_qty"])), (6, _px(e["avg_px"]))]
    reason = int(e["reason"])
    if reason:
        f.append((58, R.REASON_TEXT.get(reason, f"reason {reason}")))
        if et == "8":
            f.append((103, 1 if reason == R.REASON_UNKNOWN_SYMBOL else 3 if reason in (R.REASON_MAX_QTY,
                     R.REASON_MAX_NOTIONAL) else 6 if reason == R.REASON_DUPLICATE_CLORDID else OTHER))
    return f


def cancel_reject(e) -> list:
    reason = int(e["reason"])
    status = int(e["ord_status"])
    return [(37, int(e["order_id"]) or "NONE"), (11, _text(e["cl_ord_id"])), (41, _text(e["orig_cl_ord_id"])),
            (39, chr(status) if status else "8"), (434, chr(int(e["response_to"]))),
            (102, 1 if reason == R.REASON_UNKNOWN_ORDER else 0 if reason == R.REASON_TOO_LATE else
             3 if reason == R.REASON_PENDING else 2),
            (58, R.REASON_TEXT.get(reason, f"reason {reason}"))]


def gateway_reject(msg: FixMessage, refusal: Refusal, begin_string: str, account: str, exec_id: str) -> tuple:
    """(MsgType, fields) answering a business refusal made at the gateway."""
    t = msg.msg_type
    cl = (msg.get(11) or b"NONE").decode("ascii", "replace")
    if t == "D":
        f = [(37, "NONE"), (11, cl), (17, exec_id)]
        if begin_string == "FIX.4.2":
            f.append((20, "0"))
        f += [(150, "8"), (39, "8"), (1, account), (55, (msg.get(55) or b"").decode("ascii", "replace")),
              (54, (msg.get(54) or b"1").decode("ascii", "replace")), (38, (msg.get(38) or b"0").decode()),
              (151, 0), (14, 0), (6, "0"), (103, OTHER), (58, refusal.text)]
        return "8", f
    return "9", [(37, "NONE"), (11, cl), (41, (msg.get(41) or b"NONE").decode("ascii", "replace")), (39, "8"),
                 (434, "1" if t == "F" else "2"), (102, 2), (58, refusal.text)]
