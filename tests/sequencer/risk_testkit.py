"""Builders and a clock-controlled harness for the risk, kill-switch and positions tests."""

from __future__ import annotations

import numpy as np

from sequencer import records as R
from sequencer.state import S_MD_REJECTED

from seq_testkit import PX, SMALL, Harness, _one, admin, new_order, typed

# Harness reference data (seq_testkit): clients 1 and 2 (1,000 shares, $100k per order,
# $1M cash), symbol 1 AAA ($50, venue 1), symbol 2 BBB (no reference price, no venue).


def set_risk(cid, scope, v0, v1=0):
    return admin(R.ADMIN_SET_RISK, cid, v0, v1, scope=scope)


def set_symbol(sid, scope, v0, v1=0):
    return admin(R.ADMIN_SET_SYMBOL, sid, v0, v1, scope=scope)


def kill(scope, target=0, on=1, cancel=0):
    return admin(R.ADMIN_KILL, target, on, cancel, scope=scope)


def cancel_all(scope, target=0):
    return admin(R.ADMIN_CANCEL_ALL, target, scope=scope)


def add_venue(vid, take_fee=0, make_fee=0, name=None):
    return admin(R.ADMIN_ADD_VENUE, vid, take_fee, make_fee, name=name or f"V{vid}")


def timer_tick():
    return _one(R.Timer, R.TIMER, timer_id=1, kind=R.TIMER_TICK)


def md_add(symbol_id, side, price, qty=100, venue_id=1, ref=1):
    """An ITCH 'A' add to the (venue, symbol) book; side is records.SIDE_BUY / SIDE_SELL."""
    return _one(R.MarketData, R.MARKET_DATA, symbol_id=symbol_id, venue_id=venue_id, action=ord("A"),
                side=side, price=price, qty=qty, ref=ref)


def md_delete(symbol_id, ref, venue_id=1):
    return _one(R.MarketData, R.MARKET_DATA, symbol_id=symbol_id, venue_id=venue_id, action=ord("D"), ref=ref)


def md_trade(symbol_id, price, qty=100, venue_id=1):
    return _one(R.MarketData, R.MARKET_DATA, symbol_id=symbol_id, venue_id=venue_id, action=ord("P"),
                side=R.SIDE_BUY, price=price, qty=qty)


def kinds(events) -> list[str]:
    """A compact picture of an event list: 'ER:A', 'VO', 'VC', 'CR:<reason>', 'AL:<code>', 'TR'."""
    out = []
    for e in events:
        t = int(e["type"])
        if t == R.EXEC_REPORT:
            out.append("ER:" + chr(e["exec_type"]))
        elif t == R.CANCEL_REJECT:
            out.append(f"CR:{int(e['reason'])}")
        elif t == R.ALERT:
            out.append(f"AL:{int(e['code'])}")
        else:
            out.append({R.VENUE_ORDER: "VO", R.VENUE_CANCEL: "VC", R.TRADE: "TR",
                        R.STATE_DIGEST: "SD"}[t])
    return out


class RiskHarness(Harness):
    """Harness whose clock can be set: after ``at(ts)`` every input is stamped ``ts``
    (until the next ``at``); before, input seq n is stamped n ms as in Harness."""

    def __init__(self, capacity=SMALL, digest_every=0):
        self.clock = None
        self._md_ref = 0
        super().__init__(capacity, digest_every)

    def at(self, ts: int) -> "RiskHarness":
        self.clock = int(ts)
        return self

    def stamp(self, *cmds) -> np.ndarray:
        raw = super().stamp(*cmds)
        if self.clock is not None:
            raw.view(R.COMMAND_HEADER)["ts"] = self.clock
        return raw

    # ------------------------------------------------------------ one-liners
    def new(self, cl_ord_id, **kw):
        """Send a NewOrder; returns (reason, order_id): reason 0 and the id if accepted."""
        ev = self.send(new_order(cl_ord_id, **kw))
        er = ev[0]
        assert er["type"] == R.EXEC_REPORT, ev
        if er["exec_type"] == R.EXEC_REJECTED:
            assert len(ev) == 1
            return int(er["reason"]), 0
        return 0, int(er["order_id"])

    def reason(self, cl_ord_id, **kw) -> int:
        return self.new(cl_ord_id, **kw)[0]

    def request(self, cmd) -> int:
        """Send a Cancel or Replace; 0 if accepted (PENDING_CANCEL / PENDING_REPLACE), else the reject reason."""
        ev = self.send(cmd)
        if ev[0]["type"] == R.CANCEL_REJECT:
            assert len(ev) == 1
            return int(ev[0]["reason"])
        assert ev[0]["exec_type"] in (R.EXEC_PENDING_CANCEL, R.EXEC_PENDING_REPLACE), ev
        return 0

    def quote(self, symbol_id, bid, ask, venue_id=1, qty=100):
        """Add a bid and/or an ask (0: none) to the (venue, symbol) book; returns their refs."""
        refs = []
        for side, px in ((R.SIDE_BUY, bid), (R.SIDE_SELL, ask)):
            if px:
                self._md_ref += 1
                before = int(self.state.scalars[S_MD_REJECTED])
                assert self.send(md_add(symbol_id, side, px, qty, venue_id, self._md_ref)) == []
                assert self.state.scalars[S_MD_REJECTED] == before, "the book refused the add"
                refs.append(self._md_ref)
        return refs

    def client(self, cid=1):
        return self.state.clients[cid]

    def pos(self, cid=1, sid=1):
        rows = self.state.position_rows()
        hit = rows[(rows["client_id"] == cid) & (rows["symbol_id"] == sid)]
        return hit[0] if len(hit) else None


__all__ = ["PX", "RiskHarness", "set_risk", "set_symbol", "kill", "cancel_all", "add_venue", "timer_tick",
           "md_add", "md_delete", "md_trade", "kinds", "typed"]
