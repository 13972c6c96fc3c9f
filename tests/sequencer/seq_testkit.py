"""Builders for single commands and a harness that stamps and runs them (tests only)."""

from __future__ import annotations

import numpy as np

from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State

PX = R.PRICE_SCALE
SMALL = Capacity(orders=64, clients=8, symbols=8)

CLIENT_MAX_QTY = 1_000
CLIENT_MAX_NOTIONAL = 100_000 * PX   # $100k
CLIENT_CASH = 1_000_000 * PX


def _one(dtype, type_code, **fields):
    raw = R.new_commands(1)
    v = raw.view(dtype)
    v["type"] = type_code
    v["version"] = 1
    for name, value in fields.items():
        if name in ("cl_ord_id", "orig_cl_ord_id", "symbol", "name", "account", "text"):
            width = v.dtype.fields[name][0].shape[0]
            value = R.ascii_field(value, width)
        v[name] = value
    return raw


def new_order(cl_ord_id="O1", client_id=1, symbol_id=1, price=50 * PX, qty=100,
              side=R.SIDE_BUY, ord_type=R.ORD_LIMIT, **kw):
    return _one(R.NewOrder, R.NEW_ORDER, cl_ord_id=cl_ord_id, client_id=client_id, symbol_id=symbol_id,
                price=price, qty=qty, side=side, ord_type=ord_type, **kw)


def cancel(cl_ord_id="X1", order_id=0, orig_cl_ord_id="", client_id=1, **kw):
    return _one(R.Cancel, R.CANCEL, cl_ord_id=cl_ord_id, order_id=order_id,
                orig_cl_ord_id=orig_cl_ord_id, client_id=client_id, **kw)


def replace(cl_ord_id="R1", order_id=0, orig_cl_ord_id="", client_id=1, price=51 * PX, qty=200, **kw):
    return _one(R.Replace, R.REPLACE, cl_ord_id=cl_ord_id, order_id=order_id,
                orig_cl_ord_id=orig_cl_ord_id, client_id=client_id, price=price, qty=qty, **kw)


def ack(order_id, ack_of=R.VENUE_ACTION_NEW, **kw):
    return _one(R.VenueAck, R.VENUE_ACK, order_id=order_id, ack_of=ack_of, venue_id=1, **kw)


def fill(order_id, qty, price=50 * PX, fee=0, **kw):
    return _one(R.VenueFill, R.VENUE_FILL, order_id=order_id, qty=qty, price=price, fee=fee, venue_id=1, **kw)


def cancelled(order_id, **kw):
    return _one(R.VenueCancelled, R.VENUE_CANCELLED, order_id=order_id, venue_id=1, **kw)


def venue_reject(order_id, reject_of=R.VENUE_ACTION_NEW, **kw):
    return _one(R.VenueReject, R.VENUE_REJECT, order_id=order_id, reject_of=reject_of, venue_id=1, **kw)


def admin(action, target_id=0, v0=0, v1=0, v2=0, name="", **kw):
    return _one(R.Admin, R.ADMIN, action=action, target_id=target_id, v0=v0, v1=v1, v2=v2, name=name, **kw)


def market_data(symbol_id, price, action="P", venue_id=1, qty=100, **kw):
    return _one(R.MarketData, R.MARKET_DATA, symbol_id=symbol_id, price=price, action=ord(action),
                venue_id=venue_id, qty=qty, **kw)


def add_client(cid, max_qty=CLIENT_MAX_QTY, max_notional=CLIENT_MAX_NOTIONAL, cash=CLIENT_CASH):
    return admin(R.ADMIN_ADD_CLIENT, cid, max_qty, max_notional, cash, name=f"ACC{cid}")


def add_symbol(sid, name, ref=50 * PX, venue=1):
    return admin(R.ADMIN_ADD_SYMBOL, sid, ref, venue, name=name)


def typed(events: np.ndarray) -> list:
    """Each event as a record of its own type."""
    out = []
    for i in range(len(events)):
        t = int(events[i : i + 1].view(R.EVENT_HEADER)["type"][0])
        out.append(events[i : i + 1].view(R.EVENT_DTYPES[t])[0])
    return out


def text(field) -> str:
    return R.ascii_text(np.asarray(field))


class Harness:
    """A BusinessLogic with clients 1, 2 and symbols 1 'AAA' ($50, venue 1), 2 'BBB'
    (no reference price, no default venue); send() stamps seq/ts and returns typed events."""

    def __init__(self, capacity=SMALL, digest_every=0):
        self.bl = BusinessLogic(State.create(capacity), digest_every)
        self.state = self.bl.state
        self.seq = 0
        events = self.send(add_client(1), add_client(2), add_symbol(1, "AAA"),
                           add_symbol(2, "BBB", ref=0, venue=0))
        assert events == []

    def stamp(self, *cmds) -> np.ndarray:
        raw = np.concatenate(cmds)
        h = raw.view(R.COMMAND_HEADER)
        h["seq"] = np.arange(self.seq + 1, self.seq + 1 + len(raw))
        h["ts"] = 1_000_000 * h["seq"]
        self.seq += len(raw)
        return raw

    def send_raw(self, *cmds) -> np.ndarray:
        return self.bl.apply(self.stamp(*cmds))

    def send(self, *cmds) -> list:
        return typed(self.send_raw(*cmds))

    def order(self, order_id):
        return self.state.order(order_id)

    def open_order(self, cl_ord_id="O1", **kw) -> int:
        """A new order acked by the venue; returns its order id."""
        ev = self.send(new_order(cl_ord_id, **kw))
        oid = int(ev[0]["order_id"])
        assert ev[0]["exec_type"] == R.EXEC_PENDING_NEW
        self.send(ack(oid))
        return oid
