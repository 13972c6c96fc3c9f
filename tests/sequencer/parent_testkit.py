"""Builders for routed / algo parent orders, venues and market data, and a harness with
a settable clock (tests only)."""

from __future__ import annotations

import numpy as np

from sequencer import records as R
from sequencer.state import Capacity

from seq_testkit import PX, Harness, _one, admin, new_order

CENT = PX // 100
FEE = PX // 10_000          # $0.0001 a share: fees below are written in these units
BUY, SELL, SHORT = R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT
MID = Capacity(orders=256, clients=8, symbols=8, algos=16, books=32, book_levels=16, book_orders=256)


def add_venue(v, take=0, make=0, name=None):
    """ADMIN_ADD_VENUE: take / make fee per share in FEE units (negative make: rebate)."""
    return admin(R.ADMIN_ADD_VENUE, v, take * FEE, make * FEE, name=name or f"V{v}")


def md(venue, action, symbol=1, side=0, ref=0, price=0, qty=0, new_ref=0):
    return _one(R.MarketData, R.MARKET_DATA, venue_id=venue, symbol_id=symbol, action=ord(action),
                side=side, ref=ref, new_ref=new_ref, price=price, qty=qty)


def ask(venue, ref, price, qty, symbol=1):
    """An ITCH add of a sell order to the (venue, symbol) book."""
    return md(venue, "A", symbol, SELL, ref, price, qty)


def bid(venue, ref, price, qty, symbol=1):
    return md(venue, "A", symbol, BUY, ref, price, qty)


def executed(venue, ref, qty, symbol=1):
    """ITCH E: qty of a resting order traded (counts in the symbol's market volume)."""
    return md(venue, "E", symbol, ref=ref, qty=qty)


def printed(venue, price, qty, symbol=1):
    """ITCH P: a non-displayed trade print (volume only)."""
    return md(venue, "P", symbol, price=price, qty=qty)


def kill(scope, target=0, on=1, cancel_all=0):
    return admin(R.ADMIN_KILL, target, on, cancel_all, scope=scope)


def parent(cl_ord_id, strategy, qty=100, price=50 * PX, **kw):
    """A version-2 NewOrder worked by ``strategy`` (routed or algo)."""
    return new_order(cl_ord_id, qty=qty, price=price, strategy=strategy, version=2, **kw)


def algo(cl_ord_id, strategy, start_ts, end_ts, qty=1000, price=51 * PX, max_pct=0, **kw):
    return parent(cl_ord_id, strategy, qty=qty, price=price, start_ts=start_ts, end_ts=end_ts,
                  max_pct=max_pct, **kw)


def tick(timer_id=1, kind=R.TIMER_TICK, period=0):
    """A Timer tick; the sequencer's carry their period in ``param``."""
    return _one(R.Timer, R.TIMER, timer_id=timer_id, kind=kind, param=period)


# Venue answers naming the venue (seq_testkit's always say venue 1).
def ack(order_id, ack_of=R.VENUE_ACTION_NEW, venue_id=1, **kw):
    return _one(R.VenueAck, R.VENUE_ACK, order_id=order_id, ack_of=ack_of, venue_id=venue_id, **kw)


def fill(order_id, qty, price=50 * PX, fee=0, venue_id=1, **kw):
    return _one(R.VenueFill, R.VENUE_FILL, order_id=order_id, qty=qty, price=price, fee=fee,
                venue_id=venue_id, **kw)


def cancelled(order_id, venue_id=1, **kw):
    return _one(R.VenueCancelled, R.VENUE_CANCELLED, order_id=order_id, venue_id=venue_id, **kw)


def venue_reject(order_id, reject_of=R.VENUE_ACTION_NEW, venue_id=1, **kw):
    return _one(R.VenueReject, R.VENUE_REJECT, order_id=order_id, reject_of=reject_of, venue_id=venue_id, **kw)


def by_type(events, code) -> list:
    return [e for e in events if e["type"] == code]


def names(events) -> list[str]:
    return [R.TYPE_NAMES[int(e["type"])] for e in events]


def child_ids(state, parent_id) -> list[int]:
    """Ids of a parent's children, oldest first."""
    o = state.orders[: state.scalars[0]]
    return [int(i) + 1 for i in np.flatnonzero(o["parent"] == parent_id)]


class Desk(Harness):
    """A Harness whose clock is set by the test: every input of a ``send`` is stamped
    ``now`` (ns), and seq counts on. ``log`` keeps every stamped input, ``out`` every
    event, so a test can replay the whole stream."""

    def __init__(self, capacity=MID, venues=(), digest_every=0):
        self.now = 0
        self.log: list[np.ndarray] = []
        self.out: list[np.ndarray] = []
        super().__init__(capacity, digest_every)
        if venues:
            assert self.send(*venues) == []

    def stamp(self, *cmds) -> np.ndarray:
        raw = np.concatenate(cmds)
        h = raw.view(R.COMMAND_HEADER)
        h["seq"] = np.arange(self.seq + 1, self.seq + 1 + len(raw))
        h["ts"] = self.now
        self.seq += len(raw)
        return raw

    def send_raw(self, *cmds) -> np.ndarray:
        raw = self.stamp(*cmds)
        self.log.append(raw)
        ev = self.bl.apply(raw)
        self.out.append(ev)
        return ev

    def at(self, ts, *cmds) -> list:
        assert ts >= self.now, "the sequencer clock never goes back"
        self.now = ts
        return self.send(*cmds) if cmds else []

    def stream(self) -> np.ndarray:
        return np.concatenate(self.log)

    def events(self) -> np.ndarray:
        return np.concatenate(self.out)

