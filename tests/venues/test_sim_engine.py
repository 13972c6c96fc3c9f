"""Venue simulator core: OUCH 4.2 order entry through the matching engine, ITCH 5.0
out, seeded background liquidity."""

import numpy as np
import pytest

from sequencer import book as B
from sequencer.records import PRICE_SCALE
from venues.protocols import itch50 as itch
from venues.protocols import ouch42 as ouch
from venues.sim.engine import VenueConfig, VenueEngine

TS = 34_200_000_000_000
PX = 100 * PRICE_SCALE            # 100.00 in 8 decimals
P4 = 1_000_000                    # 100.0000 in OUCH 4 decimals
TICK4 = 100                       # $0.01 in OUCH 4 decimals


def engine(**kw) -> VenueEngine:
    cfg = dict(symbols=["AAA", "BBB"], seed=7, initial_prices={"AAA": PX, "BBB": 50 * PRICE_SCALE})
    cfg.update(kw)
    e = VenueEngine(VenueConfig(**cfg))
    e.start_of_day(TS)
    return e


def enter(token, side="B", shares=100, price=P4, stock="AAA", tif=99_998, display="Y", min_qty=0):
    return ouch.encode_enter_order(
        order_token=token, side=side, shares=shares, stock=stock, price=price, time_in_force=tif,
        firm="FRMA", display=display, capacity="A", intermarket_sweep="N", minimum_quantity=min_qty,
        cross_type="N", customer_type=" ")


def replace(old, new, shares, price):
    return ouch.encode_replace_order(existing_order_token=old, replacement_order_token=new, shares=shares,
                                     price=price, time_in_force=99_998, display="Y", intermarket_sweep="N",
                                     minimum_quantity=0)


def cancel(token, shares=0):
    return ouch.encode_cancel_order(order_token=token, shares=shares)


def dec(msgs):
    return [ouch.decode(m) for m in msgs]


def only(out, session):
    return dec(out[session])


def test_enter_accepted_and_itch_add():
    e = engine()
    n0 = len(e.itch_out)
    out = e.on_ouch("alice", enter("T1"), TS + 1)
    assert list(out) == ["alice"]
    [(t, a)] = only(out, "alice")
    assert t == "A" and ouch.text(a["order_token"]) == "T1" and a["shares"] == 100 and a["price"] == P4
    assert a["order_reference_number"] == 1 and a["timestamp"] == TS + 1 and a["order_state"] == b"L"
    assert e.bbo("AAA") == (PX, 100, 0, 0)
    [add] = e.itch_out[n0:]
    r = itch.decode_message(add)
    assert r["message_type"] == b"A" and r["order_ref"] == 1 and r["stock_locate"] == 1
    assert r["shares"] == 100 and r["price"] == P4 and r["side"] == b"B"


def test_cross_executes_both_sides_at_maker_price():
    e = engine()
    e.on_ouch("alice", enter("S1", side="S", shares=100, price=P4), TS)
    out = e.on_ouch("bob", enter("B1", side="B", shares=60, price=P4 + 5 * TICK4), TS + 5)
    assert list(out) == ["bob", "alice"]
    (ta, acc), (tb, bex) = only(out, "bob")
    [(tm, aex)] = only(out, "alice")
    assert (ta, tb, tm) == ("A", "E", "E")
    assert bex["match_number"] == aex["match_number"] == 1
    assert bex["execution_price"] == aex["execution_price"] == P4          # the maker's price
    assert bex["executed_shares"] == aex["executed_shares"] == 60
    assert (bex["liquidity_flag"], aex["liquidity_flag"]) == (b"R", b"A")
    assert ouch.text(aex["order_token"]) == "S1" and ouch.text(bex["order_token"]) == "B1"
    assert e.bbo("AAA") == (0, 0, PX, 40)
    ex = itch.decode_message(e.itch_out[-1])
    assert ex["message_type"] == b"E" and ex["order_ref"] == 1 and ex["executed_shares"] == 60
    assert ex["match_number"] == 1
    c = e.config
    assert e.fees == {"bob": 60 * c.take_fee, "alice": 60 * c.make_fee}
    # the rest of the maker fills fully; the buyer's remainder rests
    out = e.on_ouch("bob", enter("B2", side="B", shares=100, price=P4), TS + 6)
    assert [t for t, _ in only(out, "bob")] == ["A", "E"] and [t for t, _ in only(out, "alice")] == ["E"]
    assert only(out, "bob")[1][1]["match_number"] == 2
    assert e.bbo("AAA") == (PX, 60, 0, 0)
    assert e.live_orders("alice") == {} and e.live_orders("bob") == {"B2": 60}


def test_ioc_remainder_canceled():
    e = engine()
    e.on_ouch("alice", enter("S1", side="S", shares=30, price=P4), TS)
    out = e.on_ouch("bob", enter("I1", side="B", shares=100, price=P4, tif=0), TS)
    msgs = only(out, "bob")
    assert [t for t, _ in msgs] == ["A", "E", "C"]
    assert msgs[1][1]["executed_shares"] == 30
    assert msgs[2][1]["decrement_shares"] == 70 and msgs[2][1]["reason"] == b"I"
    assert e.bbo("AAA") == (0, 0, 0, 0)
    # an IOC that finds nothing: accepted then fully canceled, nothing in ITCH
    n = len(e.itch_out)
    msgs = only(e.on_ouch("bob", enter("I2", tif=0), TS), "bob")
    assert [t for t, _ in msgs] == ["A", "C"] and msgs[1][1]["decrement_shares"] == 100
    assert len(e.itch_out) == n


def test_cancel_full_and_partial_and_unknown():
    e = engine()
    e.on_ouch("alice", enter("T1", shares=300), TS)
    [(t, c)] = only(e.on_ouch("alice", cancel("T1", 100), TS), "alice")
    assert t == "C" and c["decrement_shares"] == 200 and c["reason"] == b"U"
    assert e.bbo("AAA") == (PX, 100, 0, 0)
    x = itch.decode_message(e.itch_out[-1])
    assert x["message_type"] == b"X" and x["cancelled_shares"] == 200
    [(t, c)] = only(e.on_ouch("alice", cancel("T1"), TS), "alice")
    assert t == "C" and c["decrement_shares"] == 100 and c["reason"] == b"U"
    assert itch.decode_message(e.itch_out[-1])["message_type"] == b"D"
    assert e.bbo("AAA") == (0, 0, 0, 0)
    # dead token, never-seen token, another session's token
    for sess, tok in (("alice", "T1"), ("alice", "NOPE"), ("bob", "T1")):
        [(t, r)] = only(e.on_ouch(sess, cancel(tok), TS), sess)
        assert t == "I" and ouch.text(r["order_token"]) == tok


def test_replace_in_place_keeps_priority_and_reentry_loses_it():
    e = engine()
    e.on_ouch("alice", enter("A1", shares=100), TS)
    e.on_ouch("bob", enter("B1", shares=100), TS)
    # size down at the same price: same order ref, keeps its place
    [(t, r)] = only(e.on_ouch("alice", replace("A1", "A2", 50, P4), TS), "alice")
    assert t == "U" and r["order_reference_number"] == 1 and r["shares"] == 50
    assert ouch.text(r["previous_order_token"]) == "A1" and ouch.text(r["replacement_order_token"]) == "A2"
    assert itch.decode_message(e.itch_out[-1])["message_type"] == b"X"
    out = e.on_ouch("carol", enter("C1", side="S", shares=10, price=P4), TS)
    assert [t for t, _ in only(out, "alice")] == ["E"] and "bob" not in out
    # size up: a new order ref, to the back of the level
    [(t, r)] = only(e.on_ouch("alice", replace("A2", "A3", 80, P4), TS), "alice")
    assert t == "U" and r["order_reference_number"] == 4   # 3 was C1
    u = itch.decode_message(e.itch_out[-1])
    assert u["message_type"] == b"U" and u["original_order_ref"] == 1 and u["new_order_ref"] == 4
    out = e.on_ouch("carol", enter("C2", side="S", shares=10, price=P4), TS)
    assert [t for t, _ in only(out, "bob")] == ["E"] and "alice" not in out
    # the old tokens are dead
    assert [t for t, _ in only(e.on_ouch("alice", cancel("A2"), TS), "alice")] == ["I"]
    # a replace that crosses trades as a taker under its new token
    e.on_ouch("carol", enter("C3", side="S", shares=50, price=P4 + TICK4), TS)
    msgs = only(e.on_ouch("alice", replace("A3", "A4", 80, P4 + TICK4), TS), "alice")
    assert [t for t, _ in msgs] == ["U", "E"]
    assert msgs[1][1]["liquidity_flag"] == b"R" and ouch.text(msgs[1][1]["order_token"]) == "A4"
    assert e.bbo("AAA") == (PX + PRICE_SCALE // 100, 30, 0, 0)
    assert e.live_orders("alice") == {"A4": 30}


@pytest.mark.parametrize("kw,reason", [
    (dict(stock="ZZZ"), b"S"),
    (dict(price=P4 + 1), b"X"),          # 100.0001: not on the $0.01 tick
    (dict(price=0), b"X"),
    (dict(shares=0), b"Z"),
    (dict(min_qty=200), b"N"),
])
def test_enter_rejects(kw, reason):
    e = engine()
    n = len(e.itch_out)
    [(t, r)] = only(e.on_ouch("alice", enter("T1", **kw), TS), "alice")
    assert t == "J" and r["reason"] == reason and ouch.text(r["order_token"]) == "T1"
    assert len(e.itch_out) == n and e.bbo("AAA") == (0, 0, 0, 0)
    # a rejected order does not take its token
    assert only(e.on_ouch("alice", enter("T1"), TS), "alice")[0][0] == "A"


def test_duplicate_token_rejected_per_session():
    e = engine()
    e.on_ouch("alice", enter("T1"), TS)
    e.on_ouch("alice", cancel("T1"), TS)
    [(t, r)] = only(e.on_ouch("alice", enter("T1"), TS), "alice")
    assert t == "J" and r["reason"] == b"O"
    assert only(e.on_ouch("bob", enter("T1"), TS), "bob")[0][0] == "A"   # tokens are per session
    e.on_ouch("alice", enter("T2"), TS)
    [(t, r)] = only(e.on_ouch("alice", replace("T2", "T1", 10, P4), TS), "alice")
    assert t == "J" and ouch.text(r["order_token"]) == "T1"


def test_modify_and_malformed():
    e = engine()
    e.on_ouch("alice", enter("S1", side="S", shares=100, price=P4), TS)
    m = ouch.encode_modify_order(order_token="S1", side="T", shares=40)
    [(t, r)] = only(e.on_ouch("alice", m, TS), "alice")
    assert t == "M" and r["side"] == b"T" and r["shares"] == 40
    assert e.bbo("AAA") == (0, 0, PX, 40)
    with pytest.raises(ouch.OuchError):
        e.on_ouch("alice", b"O" + b"\0" * 10, TS)


def replay_books(e: VenueEngine):
    """Rebuild books from the ITCH stream alone (symbol id = locate = index + 1)."""
    n = len(e.symbols)
    bk = B.create_books(n + 1, e.config.max_levels, e.config.max_orders)
    res = itch.decode_batch(itch.frame(e.itch_out), itch.new_locate_table(),
                            {s: i + 1 for i, s in enumerate(e.symbols)})
    assert res.directory == n and res.unmapped == 0
    codes = np.zeros(len(res.records), np.int64)
    bad = B.md_apply_batch(bk, res.records, codes)
    assert bad == 0, np.unique(codes, return_counts=True)
    return bk


def run_session(seed=7):
    """Background liquidity plus a client trading into it; all outputs."""
    e = engine(seed=seed)
    client = []
    ts = TS
    for k in range(40):
        ts += 1_000_000
        client.append(e.background_step(ts, 25))
        bid, _, ask, _ = e.bbo("AAA")
        if k % 3 == 0 and ask:    # cross the spread: fills at the agent's prices
            client.append(e.on_ouch("cli", enter(f"C{k}", side="B", shares=250, price=ask // 10_000), ts))
        elif k % 3 == 1 and bid:  # rest at the bid: the agent's IOCs may hit it
            client.append(e.on_ouch("cli", enter(f"C{k}", side="S", shares=300, price=bid // 10_000 + TICK4), ts))
        elif k % 3 == 2:
            live = e.live_orders("cli")
            if live:
                client.append(e.on_ouch("cli", cancel(sorted(live)[0]), ts))
    return e, client


def test_background_itch_replay_rebuilds_books():
    e, client = run_session()
    kinds = {itch.decode_message(m)["message_type"] for m in e.itch_out}
    assert {b"A", b"E", b"D"} <= kinds
    flags = [r["liquidity_flag"] for out in client for m in out.get("cli", [])
             for t, r in [ouch.decode(m)] if t == "E"]
    assert b"A" in flags and b"R" in flags           # the client both took and made
    bk = replay_books(e)
    for i, s in enumerate(e.symbols):
        assert e.bbo(s)[0] and e.bbo(s)[2]           # the agent keeps two-sided quotes
        for side in (B.BID, B.ASK):
            assert B.depth(bk, i + 1, side) == B.depth(e.bk, i, side)
        assert e.bbo(s)[0] < e.bbo(s)[2]
    B.check_books(e.bk)
    B.check_books(bk)


def test_determinism_same_seed_same_bytes():
    e1, c1 = run_session(seed=11)
    e2, c2 = run_session(seed=11)
    assert c1 == c2 and e1.itch_out == e2.itch_out
    e3, c3 = run_session(seed=12)
    assert e3.itch_out != e1.itch_out


def test_client_orders_filled_partially_and_fully_by_the_agent():
    _, client = run_session()
    shares, done = {}, {}
    for out in client:
        for m in out.get("cli", []):
            t, r = ouch.decode(m)
            tok = ouch.text(r["order_token"])
            if t == "A":
                shares[tok] = int(r["shares"])
            elif t == "E" and r["liquidity_flag"] == b"A":
                done[tok] = done.get(tok, 0) + int(r["executed_shares"])
    assert any(done[t] == shares[t] for t in done) and any(done[t] < shares[t] for t in done)


def test_attributed_post_only_market_and_min_qty():
    e = engine()
    # display 'A': ITCH Add Order with MPID
    e.on_ouch("alice", enter("S1", side="S", shares=100, price=P4, display="A"), TS)
    f = itch.decode_message(e.itch_out[-1])
    assert f["message_type"] == b"F" and f["attribution"] == b"FRMA"
    # post-only that would trade: rejected, nothing changes
    [(t, r)] = only(e.on_ouch("bob", enter("P1", price=P4, display="P"), TS), "bob")
    assert t == "J" and r["reason"] == b"O" and e.bbo("AAA") == (0, 0, PX, 100)
    # post-only that does not cross rests
    assert only(e.on_ouch("bob", enter("P2", price=P4 - TICK4, display="P"), TS), "bob")[0][0] == "A"
    # min qty not met on a crossing day order: accepted, canceled 'Z', nothing traded
    msgs = only(e.on_ouch("bob", enter("M1", shares=300, price=P4, min_qty=200), TS), "bob")
    assert [t for t, _ in msgs] == ["A", "C"] and msgs[1][1]["reason"] == b"Z"
    # a market buy for more than the book: takes it all, remainder canceled 'I'
    msgs = only(e.on_ouch("bob", enter("K1", shares=150, price=ouch.MARKET_PRICE), TS), "bob")
    assert [t for t, _ in msgs] == ["A", "E", "C"] and msgs[2][1]["decrement_shares"] == 50
    assert msgs[0][1]["price"] == ouch.MARKET_PRICE and e.bbo("AAA") == (PX - PRICE_SCALE // 100, 100, 0, 0)


def test_timestamp_out_of_range_changes_nothing():
    e = engine()
    with pytest.raises(ValueError):
        e.on_ouch("alice", enter("T1"), 1 << 48)
    with pytest.raises(ValueError):
        e.background_step(-1, 5)
    assert e.bbo("AAA") == (0, 0, 0, 0) and e.live_orders("alice") == {}
