"""An OUCH 4.2 venue session: requests out as OUCH over SoupBinTCP, answers in as records.

Requests (``session_state.Request``) become Enter Order / Replace Order / Cancel Order
messages; the venue's Accepted, Replaced, Executed, Canceled, AIQ Canceled, Rejected
and Cancel Reject messages become VenueAck / VenueFill / VenueCancelled / VenueReject
records carrying the SoupBinTCP sequence number they came in (``venue_seq``). System
Events, Cancel Pending, Order Priority Update and Order Modified change nothing the
core keeps and are logged only. A Broken Trade cannot be applied by the core (it has no
trade reversal): it is logged as an error for the operators, who correct the position
by hand; the fill stays in the journal as the venue first reported it.

Fixed choices on Enter Order: display 'Y' (visible), capacity 'A' (agency),
intermarket sweep 'N', no minimum quantity, cross type 'N' (continuous market),
customer type ' ', firm from the config; time in force 0 for IOC / FOK-less orders
(IOC) and 99999 (system hours) for day orders; market orders use the market price
sentinel 0x7FFFFFFF.
"""

from __future__ import annotations

import logging

from sequencer import records as R
from venues.protocols import ouch42 as O
from venues.session_state import NEW, REPLACE, Request, SessionState
from venues.soup_client import SoupClient

log = logging.getLogger(__name__)

TIF_SYSTEM_HOURS = 99999
_SIDES = {R.SIDE_BUY: "B", R.SIDE_SELL: "S", R.SIDE_SELL_SHORT: "T"}
_LIQUIDITY = {b"A": R.LIQUIDITY_ADDED, b"R": R.LIQUIDITY_REMOVED}

REJECT_TEXT = {
    "T": "test mode", "H": "halted", "Z": "shares exceed configured safety threshold",
    "S": "invalid stock", "D": "invalid display type", "C": "exchange closed",
    "L": "requested firm not authorized", "O": "other", "X": "invalid price",
    "N": "invalid minimum quantity", "R": "not allowed in this session", "F": "risk",
}


def _price(req: Request) -> int:
    if req.ord_type == R.ORD_MARKET:
        return O.MARKET_PRICE
    return O.price_to_ouch(req.price)


def encode_request(req: Request, firm: str) -> bytes:
    tif = 0 if req.tif in (R.TIF_IOC, R.TIF_FOK) else TIF_SYSTEM_HOURS
    if req.action == NEW:
        return O.encode_enter_order(
            order_token=req.token, side=_SIDES[req.side], shares=req.open_qty, stock=req.symbol,
            price=_price(req), time_in_force=tif, firm=firm, display="Y", capacity="A",
            intermarket_sweep="N", minimum_quantity=0, cross_type="N", customer_type=" ")
    if req.action == REPLACE:
        return O.encode_replace_order(
            existing_order_token=req.prev_token, replacement_order_token=req.token, shares=req.open_qty,
            price=_price(req), time_in_force=tif, display="Y", intermarket_sweep="N", minimum_quantity=0)
    return O.encode_cancel_order(order_token=req.token, shares=0)


def decode_answer(state: SessionState, venue_seq: int, payload: bytes):
    """One outbound OUCH message → a record (numpy array of 1) or None."""
    letter, m = O.decode(payload)
    t = O.text
    if letter == "A":
        return state.on_accepted(t(m["order_token"]), int(m["order_reference_number"]),
                                 O.price_from_ouch(int(m["price"])) if int(m["price"]) != O.MARKET_PRICE else 0,
                                 int(m["shares"]), venue_seq)
    if letter == "U":
        return state.on_replaced(t(m["replacement_order_token"]), int(m["order_reference_number"]),
                                 O.price_from_ouch(int(m["price"])), int(m["shares"]), venue_seq)
    if letter == "E":
        return state.on_executed(t(m["order_token"]), int(m["executed_shares"]),
                                 O.price_from_ouch(int(m["execution_price"])),
                                 _LIQUIDITY.get(bytes(m["liquidity_flag"]), 0), int(m["match_number"]), venue_seq)
    if letter in ("C", "D"):
        return state.on_canceled(t(m["order_token"]), int(m["decrement_shares"]), ord(bytes(m["reason"])),
                                 venue_seq)
    if letter == "J":
        code = t(m["reason"])
        return state.on_rejected(t(m["order_token"]), ord(code or "O"),
                                 f"OUCH {code}: {REJECT_TEXT.get(code, 'reject')}", venue_seq)
    if letter == "I":
        return state.on_rejected(t(m["order_token"]), ord("I"), "OUCH cancel reject", venue_seq, of_cancel=True)
    if letter == "B":
        state.broken_trades += 1
        log.error("venue broke trade match %d of token %s (reason %r): correct the position by hand",
                  int(m["match_number"]), t(m["order_token"]), t(m["reason"]))
    elif letter == "S":
        log.info("venue system event %r", t(m["event_code"]))
    return None


class OuchSession:
    """One SoupBinTCP/OUCH login of the adapter."""

    protocol = "ouch"

    def __init__(self, state: SessionState, host: str, port: int, username: str, password: str,
                 firm: str = "TNDM", heartbeat_s: float = 1.0, timeout_s: float = 15.0):
        self.state, self.firm = state, firm
        self.client = SoupClient(host, port, username, password, heartbeat_s=heartbeat_s, timeout_s=timeout_s)
        self.bad_messages = 0

    @property
    def connected(self) -> bool:
        return self.client.logged_in

    def connect(self) -> None:
        # Everything after the last message journaled: the venue replays it first.
        self.client.connect(self.state.venue_seq + 1)

    def send(self, requests: list[Request]) -> None:
        payloads = []
        for req in requests:
            try:
                payloads.append(encode_request(req, self.firm))
            except (O.OuchError, ValueError) as e:
                # Nothing the core sends should fail here (prices are checked on the tick);
                # the order stays pending in the core and the log says why.
                log.error("order %d cannot be sent as OUCH: %s", req.order_id, e)
        self.client.send(payloads)

    def poll(self) -> list:
        out = []
        for venue_seq, payload in self.client.poll():
            try:
                rec = decode_answer(self.state, venue_seq, payload)
            except (O.OuchError, ValueError) as e:
                self.bad_messages += 1
                log.error("venue message %d is not valid OUCH 4.2 (%s): skipped", venue_seq, e)
                continue
            if rec is not None:
                out.append(rec)
        return out

    def close(self, logout: bool = True) -> None:
        if logout:
            self.client.logout()
        else:
            self.client.close()

