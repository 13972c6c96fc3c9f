"""The simulator's FIX 4.2 venue: sans-IO translation tests (FIX in, the engine's OUCH
answers back as ExecutionReports / OrderCancelRejects), the engine's cancel-on-disconnect,
and the `tandem venue-sim` process with protocol "fix" over real sockets."""

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from gateways.fix.codec import FixFramer, encode
from gateways.fix.session import format_utc
from sequencer.records import PRICE_SCALE
from venues.protocols import itch50 as itch
from venues.protocols import ouch42 as ouch
from venues.sim.engine import VenueConfig, VenueEngine
from venues.sim.fix_venue import FixVenue, FixVenueConfig

T0 = datetime(2024, 1, 2, 14, 30, 0, tzinfo=timezone.utc)
TS = 34_200_000_000_000


class Client:
    """A scripted counterparty talking to one session of a sans-IO FixVenue."""

    def __init__(self, venue: FixVenue, comp_id: str, password: str | None = None):
        self.venue, self.link = venue, venue.links[comp_id]
        self.comp_id, self.seq, self.framer = comp_id, 0, FixFramer()
        self.link.session.connected(0.0)
        logon = [(98, 0), (108, 30)] + ([(554, password)] if password else [])
        assert [m.msg_type for m in self.send("A", logon)] == ["A"]

    def send(self, mt, fields, poss_dup=False):
        self.seq += 1
        hdr = [(49, self.comp_id), (56, "VENUE"), (34, self.seq), (52, format_utc(T0))]
        s = self.link.session
        s.data_received(encode("FIX.4.2", mt, hdr + list(fields)), 1.0)
        for app in s.take_app():
            self.venue.on_app(self.link, app, 1.0)
        return self.read()

    def read(self):
        return self.framer.feed(self.link.session.take_outgoing())


def venue(cod=False, **engine_kw):
    cfg = dict(symbols=["AAA", "BBB"], seed=7, initial_prices={"AAA": 100 * PRICE_SCALE})
    cfg.update(engine_kw)
    e = VenueEngine(VenueConfig(**cfg))
    e.start_of_day(TS)
    return FixVenue(e, FixVenueConfig("VENUE", {"ALICE": "pw", "BOB": ""}, cancel_on_disconnect=cod),
                    now_ns=lambda: TS + 1, clock=lambda: T0)


def nos(clordid, side="1", qty=100, px="100.00", ord_type="2", tif=None, symbol="AAA"):
    f = [(11, clordid), (21, 1), (55, symbol), (54, side), (60, format_utc(T0)), (38, qty), (40, ord_type)]
    if px is not None:
        f.append((44, px))
    if tif is not None:
        f.append((59, tif))
    return f


def body(m):
    """The application fields of a report, without header, trailer and TransactTime."""
    return [(t, v.decode()) for t, v in m.body() if t != 60]


def d(m):
    return {t: v.decode() for t, v in m.body()}


def test_new_order_rests_and_is_acknowledged_byte_for_byte():
    v = venue()
    alice = Client(v, "ALICE", "pw")
    [er] = alice.send("D", nos("A1"))
    assert er.msg_type == "8" and er.get(34) == b"2" and er.get(60) == format_utc(T0).encode()
    assert body(er) == [(37, "1"), (11, "A1"), (17, "X1"), (20, "0"), (150, "0"), (39, "0"), (55, "AAA"),
                        (54, "1"), (38, "100"), (40, "2"), (44, "100"), (59, "0"), (14, "0"), (151, "100"),
                        (6, "0")]
    assert v.engine.bbo("AAA") == (100 * PRICE_SCALE, 100, 0, 0)


def test_fill_reaches_both_sessions_with_liquidity_tag():
    v = venue()
    alice, bob = Client(v, "ALICE", "pw"), Client(v, "BOB")
    alice.send("D", nos("S1", side="2", qty=100, px="100.01"))
    ers = bob.send("D", nos("B1", side="1", qty=60, px="100.05"))
    assert [(d(m)[150], d(m)[39]) for m in ers] == [("0", "0"), ("2", "2")]   # 4.2: ExecType 2 = fill
    fill = d(ers[1])
    assert (fill[17], fill[32], fill[31], fill[14], fill[151], fill[6], fill[9730]) == \
        ("E1R", "60", "100.01", "60", "0", "100.01", "R")
    [maker] = alice.read()
    m = d(maker)
    assert (m[11], m[150], m[39], m[17], m[32], m[31], m[14], m[151], m[9730]) == \
        ("S1", "1", "1", "E1A", "60", "100.01", "60", "40", "A")


def test_cancel_then_cancel_reject_when_done_and_unknown():
    v = venue()
    alice = Client(v, "ALICE", "pw")
    alice.send("D", nos("A1"))
    [er] = alice.send("F", [(41, "A1"), (11, "C1"), (55, "AAA"), (54, "1")])
    assert body(er)[:6] == [(37, "1"), (11, "C1"), (41, "A1"), (17, "X2"), (20, "0"), (150, "4")]
    assert (d(er)[39], d(er)[151], d(er)[14]) == ("4", "0", "0")
    [rej] = alice.send("F", [(41, "A1"), (11, "C2")])
    assert rej.msg_type == "9"
    assert body(rej) == [(37, "1"), (11, "C2"), (41, "A1"), (39, "4"), (434, "1"), (102, "0"),
                         (58, "order is done")]
    [rej] = alice.send("F", [(41, "NOPE"), (11, "C3")])
    assert body(rej) == [(37, "NONE"), (11, "C3"), (41, "NOPE"), (39, "8"), (434, "1"), (102, "1"),
                         (58, "unknown order")]
    assert v.engine.bbo("AAA") == (0, 0, 0, 0)


def test_a_cancel_clordid_is_not_a_token_and_may_be_long():
    v = venue()
    alice = Client(v, "ALICE", "pw")
    alice.send("D", nos("A" * 14))
    [er] = alice.send("F", [(41, "A" * 14), (11, "X" + "A" * 14)])
    assert (d(er)[150], d(er)[11], d(er)[41]) == ("4", "X" + "A" * 14, "A" * 14)
    [rej] = alice.send("G", [(41, "X" + "A" * 14), (11, "B" * 15), (38, 10)])   # a replace's is a token
    assert rej.msg_type == "9" and d(rej)[102] == "0"   # (and this order is done anyway)


def test_replace_then_fill_then_replace_below_cum_rejected():
    v = venue()
    alice, bob = Client(v, "ALICE", "pw"), Client(v, "BOB")
    alice.send("D", nos("A1", qty=100, px="99.00"))
    [er] = alice.send("G", [(41, "A1"), (11, "A2"), (55, "AAA"), (54, "1"), (38, 300), (40, 2), (44, "99.50")])
    r = d(er)
    assert (r[150], r[39], r[11], r[41], r[38], r[44], r[151], r[37]) == \
        ("5", "5", "A2", "A1", "300", "99.5", "300", "2")                  # re-entered: new reference
    bob.send("D", nos("B1", side="2", qty=200, px="99.50"))
    [fill] = alice.read()
    assert (d(fill)[11], d(fill)[14], d(fill)[151], d(fill)[39]) == ("A2", "200", "100", "1")
    [er] = alice.send("G", [(41, "A2"), (11, "A3"), (38, 250)])     # 250 total, 200 done: 50 open
    assert (d(er)[150], d(er)[38], d(er)[151], d(er)[14], d(er)[44]) == ("5", "250", "50", "200", "99.5")
    [rej] = alice.send("G", [(41, "A3"), (11, "A4"), (38, 200)])
    assert rej.msg_type == "9" and (d(rej)[434], d(rej)[102], d(rej)[39]) == ("2", "2", "1")


def test_replace_reduces_and_cumqty_counts():
    v = venue()
    alice, bob = Client(v, "ALICE", "pw"), Client(v, "BOB")
    alice.send("D", nos("A1", qty=100, px="99.00"))
    bob.send("D", nos("B1", side="2", qty=30, px="99.00"))
    alice.read()
    [er] = alice.send("G", [(41, "A1"), (11, "A2"), (38, 50), (44, "99.00")])
    r = d(er)
    assert (r[150], r[39], r[38], r[14], r[151], r[37]) == ("5", "5", "50", "30", "20", "1")  # in place
    assert v.engine.bbo("AAA")[:2] == (99 * PRICE_SCALE, 20)
    [rej] = alice.send("G", [(41, "A2"), (11, "A3"), (38, 30)])
    assert body(rej) == [(37, "1"), (11, "A3"), (41, "A2"), (39, "1"), (434, "2"), (102, "2"),
                         (58, "OrderQty 30 must exceed CumQty 30")]


@pytest.mark.parametrize("fields, text, code", [
    (nos("X" * 15), "ClOrdID must be 1 to 14 printable characters without spaces", "0"),
    (nos("A1", symbol="ZZZ"), "unknown symbol", "1"),
    (nos("A1", px="100.00001"), "Price 100.00001 is not a valid venue price (positive, at most 4 decimals)", "0"),
    (nos("A1", px="100.005"), "invalid price (zero, above the maximum or off the tick)", "0"),
    (nos("A1", side="3"), "Side 3 not supported (1 buy, 2 sell, 5 sell short)", "0"),
    (nos("A1", ord_type="3"), "OrdType 3 not supported (1 market, 2 limit)", "0"),
    (nos("A1", tif="1"), "TimeInForce 1 not supported (0 day, 3 IOC)", "0"),
    (nos("A1", qty=0), "OrderQty must be a positive whole number", "0"),
    (nos("A1", px=None), "Price (44) is required for a limit order", "0"),
])
def test_new_order_rejected_with_an_execution_report(fields, text, code):
    v = venue()
    alice = Client(v, "ALICE", "pw")
    [er] = alice.send("D", fields)
    r = d(er)
    assert (r[37], r[150], r[39], r[58], r[103], r[14], r[151]) == ("NONE", "8", "8", text, code, "0", "0")


def test_duplicate_clordid_rejected():
    v = venue()
    alice = Client(v, "ALICE", "pw")
    alice.send("D", nos("A1"))
    [er] = alice.send("D", nos("A1"))
    assert (d(er)[39], d(er)[103]) == ("8", "6")


def test_malformed_fields_get_a_session_reject_and_unsupported_types_a_business_reject():
    v = venue()
    alice = Client(v, "ALICE", "pw")
    [rej] = alice.send("D", [(11, "A1"), (54, "1"), (38, 100), (40, "2"), (44, "1")])
    assert rej.msg_type == "3" and body(rej) == [(45, "2"), (371, "55"), (372, "D"), (373, "1"),
                                                   (58, "Required tag missing: 55")]
    [rej] = alice.send("D", nos("A1", qty="ten"))
    assert body(rej) == [(45, "3"), (371, "38"), (372, "D"), (373, "6"), (58, "Incorrect data format for value")]
    [rej] = alice.send("H", [(11, "A1")])
    assert rej.msg_type == "j" and body(rej) == [(45, "4"), (372, "H"), (380, "3"),
                                                   (58, "Unsupported message type H")]


def test_market_ioc_against_background_liquidity():
    v = venue()
    v.engine.background_step(TS, 200)
    bob = Client(v, "BOB")
    _, _, ask, ask_qty = v.engine.bbo("AAA")
    ers = bob.send("D", nos("M1", qty=ask_qty + 10_000, px=None, ord_type="1", tif="3"))
    kinds = [d(m)[150] for m in ers]
    assert kinds[0] == "0" and "1" in kinds and kinds[-1] == "4"
    last = d(ers[-1])
    assert last[39] == "4" and last[58] == "immediate or cancel: remainder canceled" and 44 not in ers[-1]
    assert int(last[14]) > 0 and last[151] == "0"


def test_fills_from_the_background_agent_reach_the_fix_session():
    v = venue(symbols=["AAA"])
    v.engine.background_step(TS, 50)
    alice = Client(v, "ALICE", "pw")
    bid, _, ask, _ = v.engine.bbo("AAA")
    assert ask - bid > v.engine.config.tick
    alice.send("D", nos("A1", side="1", qty=100, px=str((bid + v.engine.config.tick) / PRICE_SCALE)))
    got = []
    for _ in range(500):
        v.deliver(v.engine.background_step(TS, 1), 1.0)
        got += alice.read()
        if got:
            break
    assert got and d(got[0])[150] in ("1", "2") and d(got[0])[9730] == "A" and d(got[0])[11] == "A1"


def test_cancel_on_disconnect_reports_come_by_resend_after_the_next_logon():
    v = venue(cod=True)
    alice = Client(v, "ALICE", "pw")
    alice.send("D", nos("A1", qty=100, px="99.00"))
    alice.send("D", nos("A2", side="2", qty=50, px="101.00"))
    v.session_down(v.links["ALICE"], 5.0)                  # the connection is gone
    assert v.engine.bbo("AAA") == (0, 0, 0, 0)
    s = v.links["ALICE"].session
    assert s.take_outgoing() == b"" and s.store.next_sender_seq == 6   # 4, 5 stored while down
    s.connected(6.0)
    alice.seq += 1
    s.data_received(encode("FIX.4.2", "A", [(49, "ALICE"), (56, "VENUE"), (34, alice.seq), (52, format_utc(T0)),
                                            (98, 0), (108, 30), (554, "pw")]), 6.0)
    [logon] = alice.read()
    assert logon.get(34) == b"6"                           # the client expected 4: a gap
    alice.seq += 1
    s.data_received(encode("FIX.4.2", "2", [(49, "ALICE"), (56, "VENUE"), (34, alice.seq),
                                            (52, format_utc(T0)), (7, 4), (16, 0)]), 6.1)
    resent = alice.read()
    assert [(m.get(34), m.msg_type, m.get(43)) for m in resent] == [(b"4", "8", b"Y"), (b"5", "8", b"Y"),
                                                                    (b"6", "4", b"Y")]
    for m, clordid in zip(resent, ("A1", "A2")):
        r = d(m)
        assert (r[11], r[150], r[39], r[58], r[151]) == (clordid, "4", "4", "canceled on disconnect", "0")
        assert 41 not in m and m.get(122) is not None


def test_engine_cancel_session_in_order_reference_order():
    e = VenueEngine(VenueConfig(symbols=["AAA"], seed=1))
    e.start_of_day(TS)
    for tok, side, px in (("T1", "B", 990_000), ("T2", "S", 1_010_000), ("T3", "B", 980_000)):
        e.on_ouch("alice", ouch.encode_enter_order(
            order_token=tok, side=side, shares=100, stock="AAA", price=px, time_in_force=99_998, firm="FRMA",
            display="Y", capacity="A", intermarket_sweep="N", minimum_quantity=0, cross_type="N",
            customer_type=" "), TS)
    e.on_ouch("bob", ouch.encode_enter_order(
        order_token="B1", side="B", shares=100, stock="AAA", price=970_000, time_in_force=99_998, firm="FRMB",
        display="Y", capacity="A", intermarket_sweep="N", minimum_quantity=0, cross_type="N",
        customer_type=" "), TS)
    e.on_ouch("alice", ouch.encode_cancel_order(order_token="T1", shares=40), TS)   # reduced to 40
    n0 = len(e.itch_out)
    out = e.cancel_session("alice", TS + 5)
    assert list(out) == ["alice"]
    got = [ouch.decode(p)[1] for p in out["alice"]]
    assert [(ouch.text(c["order_token"]), c["decrement_shares"], c["reason"], c["timestamp"]) for c in got] == \
        [("T1", 40, b"Z", TS + 5), ("T2", 100, b"Z", TS + 5), ("T3", 100, b"Z", TS + 5)]
    deletes = [itch.decode_message(m) for m in e.itch_out[n0:]]
    assert [(r["message_type"], r["order_ref"]) for r in deletes] == [(b"D", 1), (b"D", 2), (b"D", 3)]
    assert e.live_orders("alice") == {} and e.live_orders("bob") == {"B1": 100}
    assert e.cancel_session("alice", TS + 6) == {"alice": []}


# ---------------------------------------------------------------- the process, over TCP

FIX_CONFIG = """
[venue]
name = "SIMF"
venue_id = 2
symbols = ["AAA"]
prices = [100.0]
seed = 3
background_per_s = {bg}
protocol = "fix"
latency_us = {latency}
cancel_on_disconnect = {cod}
[venue.fix]
sender_comp_id = "SIMF"
[venue.fix.sessions]
ALICE = "secret"
BOB = ""
"""


class Peer:
    """A raw-socket FIX 4.2 initiator scripted by the test (its own sequence numbers)."""

    def __init__(self, port, comp_id, password=None, seq=0):
        self.comp_id, self.password, self.seq = comp_id, password, seq
        self.expected = 1
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.framer = FixFramer()
        self.got = []

    def send(self, mt, fields, now=None):
        self.seq += 1
        t = format_utc(now or datetime.now(timezone.utc))
        self.sock.sendall(encode("FIX.4.2", mt, [(49, self.comp_id), (56, "SIMF"), (34, self.seq), (52, t)]
                                 + list(fields)))

    def logon(self):
        self.send("A", [(98, 0), (108, 30)] + ([(554, self.password)] if self.password else []))
        return self.until(lambda m: m.msg_type == "A")

    def until(self, pred, timeout=10.0):
        """Read until a message satisfies pred; returns every message read so far (and keeps them)."""
        end = time.monotonic() + timeout
        while not any(pred(m) for m in self.got):
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.comp_id}: timed out; got {self.got}")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"{self.comp_id}: connection closed; got {self.got}")
            self.got += self.framer.feed(data)
        i = next(i for i, m in enumerate(self.got) if pred(m))
        out, self.got = self.got[:i + 1], self.got[i + 1:]
        return out

    def close(self):
        self.sock.close()


def start(tmp_path, bg=0, cod="false", latency=0):
    cfg = tmp_path / "venue.toml"
    cfg.write_text(FIX_CONFIG.format(bg=bg, cod=cod, latency=latency))
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "venue-sim", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hello = json.loads(proc.stdout.readline())
    assert hello["protocol"] == "fix" and hello["venue"] == "SIMF"
    return proc, hello["port"]


def er(m, tag):
    return m.get_str(tag)


@pytest.mark.e2e
def test_fix_venue_process_orders_fills_cancel_replace_and_recovery(tmp_path):
    proc, port = start(tmp_path, bg=0, latency=200)
    try:
        alice, bob = Peer(port, "ALICE", "secret"), Peer(port, "BOB")
        [logon] = alice.logon()
        assert logon.get(34) == b"1" and logon.get(108) == b"30"
        bob.logon()
        # ALICE rests a sell; BOB buys part of it: a partial fill on both sides
        alice.send("D", nos("S1", side="2", qty=300, px="100.10"))
        [ack] = alice.until(lambda m: m.msg_type == "8")
        assert (er(ack, 150), er(ack, 37), er(ack, 151)) == ("0", "1", "300")
        bob.send("D", nos("B1", side="1", qty=100, px="100.10", tif="3"))
        b = bob.until(lambda m: er(m, 150) == "2")
        assert [er(m, 150) for m in b] == ["0", "2"] and er(b[1], 9730) == "R" and er(b[1], 31) == "100.1"
        [part] = alice.until(lambda m: m.msg_type == "8")
        assert [er(part, t) for t in (150, 39, 14, 151, 9730)] == ["1", "1", "100", "200", "A"]
        assert er(part, 17) == "E1A" and er(b[1], 17) == "E1R"
        # replace: 400 total, so 300 still open after the 100 done
        alice.send("G", [(41, "S1"), (11, "S2"), (55, "AAA"), (54, "2"), (38, 400), (40, "2"), (44, "100.20")])
        [rep] = alice.until(lambda m: m.msg_type == "8")
        assert [er(rep, t) for t in (150, 11, 41, 151, 14)] == ["5", "S2", "S1", "300", "100"]
        # cancel it, then a cancel of the same order is rejected (too late)
        alice.send("F", [(41, "S2"), (11, "S3"), (55, "AAA"), (54, "2")])
        [cxl] = alice.until(lambda m: m.msg_type == "8")
        assert (er(cxl, 150), er(cxl, 39), er(cxl, 11), er(cxl, 41)) == ("4", "4", "S3", "S2")
        alice.send("F", [(41, "S2"), (11, "S4"), (55, "AAA"), (54, "2")])
        [cr] = alice.until(lambda m: m.msg_type == "9")
        assert (er(cr, 434), er(cr, 102), er(cr, 39)) == ("1", "0", "4")
        # ALICE rests an order and drops the connection; BOB fills it while she is away
        alice.send("D", nos("S5", side="2", qty=100, px="100.30"))
        alice.until(lambda m: er(m, 11) == "S5")
        seen = alice.seq
        alice.close()
        time.sleep(0.3)
        bob.send("D", nos("B2", side="1", qty=100, px="100.30"))
        bob.until(lambda m: er(m, 150) == "2")
        # re-logon: the venue's Logon shows the gap, the resend brings the fill with PossDupFlag=Y
        alice = Peer(port, "ALICE", "secret", seq=seen)
        [logon] = alice.logon()
        fill_seq = 8   # ALICE's reports: logon 1, 2 ack, 3 partial, 4 replaced, 5 canceled, 6 cxl reject, 7 ack S5
        assert int(logon.get(34)) == fill_seq + 1
        alice.send("2", [(7, fill_seq), (16, 0)])
        got = alice.until(lambda m: m.msg_type == "4")
        assert [(int(m.get(34)), m.msg_type, m.get_str(43)) for m in got] == [(8, "8", "Y"), (9, "4", "Y")]
        assert (er(got[0], 11), er(got[0], 150), er(got[0], 39), er(got[0], 9730)) == ("S5", "2", "2", "A")
        assert got[0].get(122) is not None and er(got[1], 36) == "10"
        # logout handshake
        alice.send("5", [])
        assert alice.until(lambda m: m.msg_type == "5")
        proc.send_signal(signal.SIGTERM)
        assert [m.msg_type for m in bob.until(lambda m: m.msg_type == "5")][-1] == "5"
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.e2e
def test_fix_venue_process_trades_against_background_liquidity(tmp_path):
    proc, port = start(tmp_path, bg=500)
    try:
        bob = Peer(port, "BOB")
        bob.logon()
        time.sleep(0.3)
        bob.send("D", nos("M1", side="1", qty=100, px=None, ord_type="1", tif="3"))
        got = bob.until(lambda m: er(m, 39) in ("2", "4"))   # filled, or the IOC remainder canceled
        assert er(got[0], 150) == "0" and {er(m, 150) for m in got[1:]} & {"1", "2"}
        assert int(er(got[-1], 14)) > 0 and er(got[-1], 151) == "0"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.e2e
def test_fix_venue_process_cancel_on_disconnect(tmp_path):
    proc, port = start(tmp_path, bg=0, cod="true")
    try:
        alice = Peer(port, "ALICE", "secret")
        alice.logon()
        alice.send("D", nos("A1", side="1", qty=100, px="99.00"))
        alice.send("D", nos("A2", side="2", qty=100, px="101.00"))
        alice.until(lambda m: er(m, 11) == "A2")
        seen = alice.seq
        alice.close()
        time.sleep(0.3)
        bob = Peer(port, "BOB")            # the book is empty: BOB's IOC finds nothing
        bob.logon()
        bob.send("D", nos("B1", side="1", qty=100, px="101.00", tif="3"))
        assert [er(m, 150) for m in bob.until(lambda m: er(m, 150) == "4")] == ["0", "4"]
        alice = Peer(port, "ALICE", "secret", seq=seen)
        [logon] = alice.logon()
        assert logon.get(34) == b"6"       # 4 and 5 are the cancels, stored while she was away
        alice.send("2", [(7, 4), (16, 0)])
        got = alice.until(lambda m: m.msg_type == "4")
        assert [(er(m, 11), er(m, 150), er(m, 58), m.get_str(43)) for m in got[:2]] == \
            [("A1", "4", "canceled on disconnect", "Y"), ("A2", "4", "canceled on disconnect", "Y")]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.e2e
def test_ouch_venue_process_cancel_on_disconnect(tmp_path):
    from venues.protocols import soupbintcp as soup

    cfg = tmp_path / "venue.toml"
    cfg.write_text('[venue]\nname = "SIMO"\nsymbols = ["AAA"]\nbackground_per_s = 0\ncancel_on_disconnect = true\n'
                   'latency_us = 1000\n[venue.users]\nTANDEM = "secret"\n')
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "venue-sim", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        hello = json.loads(proc.stdout.readline())
        assert hello["protocol"] == "ouch"

        def session(seq):
            s = socket.create_connection(("127.0.0.1", hello["port"]), timeout=10)
            s.sendall(soup.encode_login_request("TANDEM", "secret", "", seq))
            return s, soup.PacketReader(accept=soup.SERVER_TYPES)

        def read(s, r, n):
            got = []
            while len([p for k, p in got if k == soup.SEQUENCED_DATA]) < n:
                got += r.feed(s.recv(65536))
            return [ouch.decode(p) for k, p in got if k == soup.SEQUENCED_DATA]

        s, r = session(1)
        s.sendall(soup.encode_unsequenced_data(ouch.encode_enter_order(
            order_token="T1", side="B", shares=100, stock="AAA", price=990_000, time_in_force=99_998,
            firm="TNDM", display="Y", capacity="A", intermarket_sweep="N", minimum_quantity=0, cross_type="N",
            customer_type=" ")))
        got = read(s, r, 2)                # the day opens with System Event 'S' (start of day)
        assert [t for t, _ in got] == ["S", "A"] and got[0][1]["event_code"] == b"S"
        s.close()
        time.sleep(0.3)
        s, r = session(3)                  # recovery from 3: the cancel made while away
        [(t, c)] = read(s, r, 1)
        assert t == "C" and c["reason"] == b"Z" and c["decrement_shares"] == 100
        s.close()
    finally:
        proc.kill()
        proc.wait()


def test_config_protocol_latency_and_fix_sessions(tmp_path):
    from venues.sim.process import load

    p = tmp_path / "v.toml"
    p.write_text(FIX_CONFIG.format(bg=0, cod="true", latency=250))
    _, s = load(p)
    assert (s["protocol"], s["latency_us"], s["cancel_on_disconnect"]) == ("fix", 250, True)
    assert s["fix"] == {"sender_comp_id": "SIMF", "begin_string": "FIX.4.2",
                        "sessions": {"ALICE": "secret", "BOB": ""}}
    for text, err in [('[venue]\nsymbols = ["A"]\nprotocol = "itch"\n', "is not \"ouch\" or \"fix\""),
                      ('[venue]\nsymbols = ["A"]\nprotocol = "fix"\n', "[venue.fix.sessions] names no session"),
                      ('[venue]\nsymbols = ["A"]\nlatency_us = -1\n[venue.users]\nU = "p"\n', "latency_us")]:
        p.write_text(text)
        with pytest.raises(ValueError, match=err.replace("[", r"\[").replace("]", r"\]")):
            load(p)
