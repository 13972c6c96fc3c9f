"""What one venue session has been asked and has answered: the adapter's whole state.

The state is a pure function of two journaled streams, so a restarted adapter rebuilds
it instead of keeping it anywhere else:
- requests: the VenueOrder / VenueCancel events for this venue (output journal), and
- answers: the VenueAck / VenueFill / VenueCancelled / VenueReject records this
  adapter published (input journal, ``source_id`` = the adapter's).

Order tokens (OUCH Order Token, FIX ClOrdID) are derived, not stored: 10 digits of the
core's order id and 4 digits of the replace generation, 14 characters, day-unique
because order ids are. Any token the venue echoes names its order without a lookup.

Live, a venue message goes through one of the ``on_*`` methods, which decide whether
it is news (a record to publish) or the echo of a request this adapter re-sent after a
restart (the venue answers a duplicate token or a cancel of a dead order with a
reject: dropped here, as the order's state already says what happened). Recovery feeds
the journaled requests and records through ``request`` and ``apply`` in journal order.
Requests still unanswered are re-sent after a reconnect (``unanswered``): the venue
ignores what it already has, so a request reaches it once in effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from sequencer import records as R

log = logging.getLogger(__name__)

TOKEN_LEN = 14
_ID_DIGITS, _GEN_DIGITS = 10, 4

NEW, REPLACE, CANCEL = R.VENUE_ACTION_NEW, R.VENUE_ACTION_REPLACE, R.VENUE_ACTION_CANCEL


def token(order_id: int, gen: int = 0) -> str:
    if not 0 < order_id < 10**_ID_DIGITS or not 0 <= gen < 10**_GEN_DIGITS:
        raise ValueError(f"order {order_id} generation {gen} does not fit a {TOKEN_LEN}-character token")
    return f"{order_id:0{_ID_DIGITS}d}{gen:0{_GEN_DIGITS}d}"


def parse_token(tok: str) -> tuple[int, int] | None:
    """(order id, generation), or None for a token this adapter never made."""
    tok = tok.strip()
    if len(tok) != TOKEN_LEN or not tok.isdigit():
        return None
    return int(tok[:_ID_DIGITS]), int(tok[_ID_DIGITS:])


@dataclass(frozen=True, slots=True)
class Request:
    """One thing to tell the venue. ``qty`` is the order's total quantity (a replace's
    new total); ``open_qty`` what should be open at the venue after it (OUCH shares)."""
    action: int
    order_id: int
    token: str
    prev_token: str = ""
    symbol: str = ""
    side: int = 0
    price: int = 0          # 8 decimals
    qty: int = 0
    open_qty: int = 0
    ord_type: int = 0
    tif: int = 0


@dataclass(slots=True)
class _Order:
    order_id: int
    symbol: str
    side: int
    ord_type: int
    tif: int
    price: int
    qty: int
    gen: int = 0                 # replace requests made so far
    live_gen: int = 0            # generation of the token the venue knows the order by
    accepted: bool = False
    done: bool = False           # rejected, cancelled or filled: nothing more can happen
    cum: int = 0
    venue_order_id: int = 0
    pending: list[Request] = field(default_factory=list)


class SessionState:
    def __init__(self, venue_id: int, source_id: int, take_fee: int = 0, make_fee: int = 0):
        self.venue_id, self.source_id = venue_id, source_id
        self.take_fee, self.make_fee = take_fee, make_fee  # per share, 8 decimals (negative: rebate)
        self.orders: dict[int, _Order] = {}
        self.source_seq = 0          # last source seq given to a record
        self.venue_seq = 0           # venue sequence number of the last record
        self.dropped = 0             # venue messages that were echoes of re-sent requests
        self.unknown = 0             # venue messages naming an order this adapter never sent
        self.broken_trades = 0       # trades the venue broke: for the operators (the core cannot unwind)

    # ------------------------------------------------------------ requests
    def request(self, ev) -> Request | None:
        """A VenueOrder / VenueCancel event (a numpy record) → what to send, or None."""
        t = int(ev["type"])
        oid = int(ev["order_id"])
        o = self.orders.get(oid)
        if t == R.VENUE_ORDER and int(ev["action"]) == NEW:
            if o is not None:
                return None  # a re-sent output: already known
            o = self.orders[oid] = _Order(oid, R.ascii_text(ev["symbol"]), int(ev["side"]), int(ev["ord_type"]),
                                          int(ev["tif"]), int(ev["price"]), int(ev["qty"]))
            req = Request(NEW, oid, token(oid), symbol=o.symbol, side=o.side, price=o.price, qty=o.qty,
                          open_qty=o.qty, ord_type=o.ord_type, tif=o.tif)
        elif o is None:  # finished and forgotten: the venue has nothing left to act on
            log.info("%s for order %d, which is finished or was never sent here: not sent",
                     R.TYPE_NAMES[t], oid)
            return None
        elif t == R.VENUE_ORDER:
            o.gen += 1
            qty = int(ev["qty"])
            req = Request(REPLACE, oid, token(oid, o.gen), token(oid, o.live_gen), symbol=o.symbol, side=o.side,
                          price=int(ev["price"]), qty=qty, open_qty=max(qty - o.cum, 0),
                          ord_type=o.ord_type, tif=o.tif)
        else:
            req = Request(CANCEL, oid, token(oid, o.live_gen), symbol=o.symbol, side=o.side)
        o.pending.append(req)
        return req

    def unanswered(self) -> list[Request]:
        """Requests the venue has not answered, in order (re-sent after a reconnect)."""
        out = []
        for oid in sorted(self.orders):
            o = self.orders[oid]
            if not o.done:
                out.extend(o.pending)
        return out

    # ------------------------------------------------------------ answers
    def _find(self, tok: str):
        parsed = parse_token(tok)
        o = self.orders.get(parsed[0]) if parsed else None
        if o is None:
            self.unknown += 1
            if parsed:  # ours, but finished and forgotten (a late cancel reject, say)
                log.info("venue message for finished order %d (token %r): ignored", parsed[0], tok)
            else:
                log.warning("venue message for token %r, which this session never sent: ignored", tok)
            return None, 0
        return o, parsed[1]

    def _drop(self, what: str, o: _Order) -> None:
        self.dropped += 1
        log.info("venue %s for order %d repeats what is known (a re-sent request): dropped", what, o.order_id)

    def _record(self, dtype, rtype: int, o: _Order, venue_seq: int):
        rec = R.new_commands(1).view(dtype)
        rec["type"], rec["version"] = rtype, R.RECORD_VERSIONS[rtype]
        rec["source_id"] = self.source_id
        rec["order_id"], rec["venue_id"], rec["venue_seq"] = o.order_id, self.venue_id, venue_seq
        return rec

    def on_accepted(self, tok: str, venue_order_id: int, price: int, open_qty: int, venue_seq: int):
        o, gen = self._find(tok)
        if o is None:
            return None
        if o.accepted or gen != 0:
            return self._drop("accept", o)
        rec = self._record(R.VenueAck, R.VENUE_ACK, o, venue_seq)
        rec["venue_order_id"], rec["price"], rec["qty"], rec["ack_of"] = venue_order_id, price, open_qty, NEW
        return self.apply(rec)

    def on_replaced(self, tok: str, venue_order_id: int, price: int, open_qty: int, venue_seq: int):
        o, gen = self._find(tok)
        if o is None:
            return None
        if gen <= o.live_gen:
            return self._drop("replace", o)
        rec = self._record(R.VenueAck, R.VENUE_ACK, o, venue_seq)
        rec["venue_order_id"], rec["price"], rec["qty"], rec["ack_of"] = venue_order_id, price, o.cum + open_qty, REPLACE
        return self.apply(rec)

    def on_executed(self, tok: str, qty: int, price: int, liquidity: int, match: int, venue_seq: int):
        o, _ = self._find(tok)
        if o is None:
            return None
        rec = self._record(R.VenueFill, R.VENUE_FILL, o, venue_seq)
        fee_per_share = self.make_fee if liquidity == R.LIQUIDITY_ADDED else self.take_fee
        rec["venue_exec_id"], rec["price"], rec["qty"] = match, price, qty
        rec["fee"], rec["liquidity"] = fee_per_share * qty, liquidity
        return self.apply(rec)

    def on_canceled(self, tok: str, qty: int, reason: int, venue_seq: int):
        o, _ = self._find(tok)
        if o is None:
            return None
        if o.done:
            return self._drop("cancel", o)
        rec = self._record(R.VenueCancelled, R.VENUE_CANCELLED, o, venue_seq)
        rec["qty"], rec["reason"] = qty, reason
        return self.apply(rec)

    def on_rejected(self, tok: str, reason: int, text: str, venue_seq: int, of_cancel: bool = False):
        o, gen = self._find(tok)
        if o is None:
            return None
        if of_cancel:
            what = CANCEL
            known = o.done or not any(r.action == CANCEL for r in o.pending)
        elif gen == 0:
            what, known = NEW, o.accepted or o.done
        else:
            what, known = REPLACE, gen <= o.live_gen or not any(r.token == tok.strip() for r in o.pending)
        if known:
            return self._drop("reject", o)
        rec = self._record(R.VenueReject, R.VENUE_REJECT, o, venue_seq)
        rec["reason"], rec["reject_of"] = reason, what
        raw = text.encode("ascii", "replace")[:R.TEXT_LEN]  # free text: spaces allowed
        rec["text"][0, :len(raw)] = np.frombuffer(raw, np.uint8)
        return self.apply(rec)

    # ------------------------------------------------------------ the one mutation
    def apply(self, rec):
        """Take one answer record (just made, or read back from the journal) into the
        state, number it if it has no source seq yet, and return it."""
        r = rec[0]
        t = int(r["type"])
        o = self.orders.get(int(r["order_id"]))
        if int(r["source_seq"]) == 0:
            rec["source_seq"] = self.source_seq + 1
        self.source_seq = int(rec["source_seq"][0])
        if int(r["venue_seq"]):
            self.venue_seq = int(r["venue_seq"])
        if o is None:
            return rec
        if t == R.VENUE_ACK:
            o.venue_order_id = int(r["venue_order_id"])
            if int(r["ack_of"]) == NEW:
                o.accepted = True
                self._resolve(o, NEW)
            else:
                req = self._resolve(o, REPLACE)
                if req is not None:
                    o.live_gen = parse_token(req.token)[1]
                o.price, o.qty = int(r["price"]), int(r["qty"])
            if o.cum >= o.qty:
                o.done = True
        elif t == R.VENUE_FILL:
            o.cum += int(r["qty"])
            if o.cum >= o.qty:
                o.done = True
        elif t == R.VENUE_CANCELLED:
            o.done = True
        elif t == R.VENUE_REJECT:
            what = int(r["reject_of"])
            self._resolve(o, what)
            if what == NEW:
                o.done = True
        return rec

    @staticmethod
    def _resolve(o: _Order, action: int) -> Request | None:
        for i, req in enumerate(o.pending):
            if req.action == action:
                return o.pending.pop(i)
        return None

    def forget_done(self) -> None:
        """Drop finished orders, so a day's worth is not kept (late answers for them are
        then ignored as unknown, which is what happens to them anyway)."""
        for oid in [k for k, o in self.orders.items() if o.done]:
            del self.orders[oid]


def venue_records(batch: np.ndarray, source_id: int) -> np.ndarray:
    """The answer records of one adapter in a batch of journaled inputs."""
    hdr = R.header(batch)
    keep = (hdr["source_id"] == source_id) & np.isin(
        hdr["type"], (R.VENUE_ACK, R.VENUE_FILL, R.VENUE_CANCELLED, R.VENUE_REJECT))
    return batch[keep]
