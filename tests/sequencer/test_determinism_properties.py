"""Property tests: determinism across runs, batch cuts and snapshots; accounting invariants.

Command streams are drawn from small domains (3 clients, 3 symbols, a handful of
ClOrdIDs and order ids, extreme values) so collisions, rejects, overflows, capacity
limits and every venue anomaly actually happen.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.state import KIND_CHILD, Capacity, State
from sequencer.workload import START_CASH, generate

from seq_testkit import CLIENT_CASH, PX, add_client, add_symbol, admin

CAP = Capacity(orders=48, clients=4, symbols=4, clord_slots=128, positions=4, algos=2, books=4,
               book_levels=3, book_orders=6)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BIG = 2**62
# Weighted towards valid values (repeats), with the odd invalid or extreme one.
prices = st.sampled_from([50 * PX] * 4 + [49 * PX, 51 * PX, 1, 0, -PX, 2_000 * PX, BIG])
qtys = st.sampled_from([10] * 3 + [100] * 3 + [1, 50, 999, 1000, 0, -1, 5000, BIG])
fill_qtys = st.sampled_from([1, 10, 10, 10, 50, 50, 100, 0, BIG])
clords = st.sampled_from([b"", b"A", b"B", b"C", b"D", b"E", b"F", b"G", b"H"])
clients = st.sampled_from([1, 1, 1, 2, 2, 0, 3, 4])
symbol_ids = st.sampled_from([1, 1, 1, 0, 0, 2, 3, 4])
order_ids = st.sampled_from([1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 13, 2**63, 2**64 - 1])
kinds = st.sampled_from(["new"] * 4 + ["cancel", "replace"] * 2 + ["ack"] * 4 + ["fill"] * 3
                        + ["md"] * 3 + ["timer"] * 2 + ["cancelled", "vreject", "admin", "unknown"])


def reference() -> np.ndarray:
    return np.concatenate([add_client(1), add_client(2), add_symbol(1, "AAA"),
                           add_symbol(2, "BBB", ref=0, venue=0),
                           admin(R.ADMIN_ADD_VENUE, 1, 3, -2, name="V1"),
                           admin(R.ADMIN_ADD_VENUE, 2, 1, 1, name="V2")])


N_REFERENCE = 6


@st.composite
def commands(draw, max_size=60):
    n = draw(st.integers(1, max_size))
    raw = R.new_commands(n)
    for i in range(n):
        kind = draw(kinds)
        r = raw[i:i + 1]
        # Most client commands are plausible, so orders live long enough to be
        # filled, cancelled and replaced; the rest draw every field freely.
        plausible = draw(st.sampled_from([True, True, False]))
        if kind == "new":
            v = r.view(R.NewOrder)
            v["type"] = R.NEW_ORDER
            v["side"] = draw(st.sampled_from([1, 2, 5]))
            v["ord_type"] = R.ORD_LIMIT
            v["price"], v["qty"] = 50 * PX, draw(st.sampled_from([10, 100]))
            v["client_id"] = draw(st.sampled_from([1, 1, 1, 2]))
            v["symbol_id"] = 1
            v["strategy"] = draw(st.sampled_from([0] * 6 + [1, 2, 3, 10, 11]))
            if v["strategy"][0] >= R.STRATEGY_TWAP:  # a window of a few to a few dozen inputs
                v["end_ts"] = 1000 * (N_REFERENCE + i + 1 + draw(st.integers(3, 40)))
                v["max_pct"] = draw(st.sampled_from([0, 0, 2500, 10_000]))
            if not plausible:
                v["client_id"] = draw(clients)
                v["symbol_id"] = draw(symbol_ids)
                v["symbol"][0, :3] = np.frombuffer(draw(st.sampled_from([b"AAA", b"BBB", b"ZZZ"])), np.uint8)
                v["price"], v["qty"] = draw(prices), draw(qtys)
                v["side"] = draw(st.sampled_from([1, 1, 2, 2, 5, 7]))
                v["ord_type"] = draw(st.sampled_from([1, 2, 2, 2, 0]))
                v["venue_id"] = draw(st.sampled_from([0, 0, 2]))
                v["strategy"] = draw(st.sampled_from([0, 0, 1, 2, 3, 10, 11, 4, 255]))
                v["end_ts"] = draw(st.sampled_from([0, 1, 1000 * (N_REFERENCE + i + 5), 2**62]))
                v["max_pct"] = draw(st.sampled_from([0, 5000, 10_001]))
        elif kind in ("cancel", "replace"):
            v = r.view(R.Cancel if kind == "cancel" else R.Replace)
            v["type"] = R.CANCEL if kind == "cancel" else R.REPLACE
            v["client_id"] = draw(clients) if not plausible else 1
            v["order_id"] = draw(order_ids) if not plausible else draw(st.integers(1, 6))
            orig = draw(clords)
            v["orig_cl_ord_id"][0, :len(orig)] = np.frombuffer(orig, np.uint8)
            if kind == "replace":
                v["price"], v["qty"] = (draw(prices), draw(qtys)) if not plausible else (51 * PX, 200)
        elif kind in ("ack", "fill", "cancelled", "vreject"):
            code = {"ack": R.VENUE_ACK, "fill": R.VENUE_FILL, "cancelled": R.VENUE_CANCELLED,
                    "vreject": R.VENUE_REJECT}[kind]
            v = r.view(R.COMMAND_DTYPES[code])
            v["type"] = code
            v["order_id"] = draw(order_ids) if not plausible else draw(st.integers(1, 4))
            if kind == "ack":
                v["ack_of"] = draw(st.sampled_from([1, 1, 1, 2, 2, 3, 0]))
            elif kind == "vreject":
                v["reject_of"] = draw(st.sampled_from([1, 2, 3, 3, 0]))
            elif kind == "fill":
                v["price"], v["qty"] = draw(prices), draw(fill_qtys)
                v["fee"] = draw(st.sampled_from([0, 0, 5, -3, 2**63 - 1, -(2**63)]))
        elif kind == "md":  # an L3 feed: adds, executions, cancels, deletes, replaces, prints
            v = r.view(R.MarketData)
            v["type"] = R.MARKET_DATA
            v["symbol_id"] = draw(symbol_ids) if not plausible else 1
            v["venue_id"] = draw(st.sampled_from([1, 1, 2, 0, 16])) if not plausible else draw(st.sampled_from([1, 2]))
            v["action"] = ord(draw(st.sampled_from("AAAFEECXDUPQZ")))
            v["side"] = draw(st.sampled_from([1, 2, 0]))
            v["ref"] = draw(st.integers(1, 6))
            v["new_ref"] = draw(st.integers(1, 9))
            v["price"] = draw(prices) if not plausible else draw(st.sampled_from([49 * PX, 50 * PX, 51 * PX]))
            v["qty"] = draw(st.sampled_from([100, 10, 50, 0, -1]))
        elif kind == "admin":
            v = r.view(R.Admin)
            v["type"] = R.ADMIN
            v["action"] = draw(st.integers(0, 14))
            v["target_id"] = draw(st.integers(0, 4))
            v["scope"] = draw(st.integers(0, 6))
            v["v0"], v["v1"], v["v2"] = draw(qtys), draw(prices), draw(prices)
            if v["action"][0] in (R.ADMIN_KILL, R.ADMIN_SET_SYMBOL):  # switches: mostly on/off
                v["v0"], v["v1"] = draw(st.sampled_from([0, 1, 1, 2])), draw(st.sampled_from([0, 1, 1, 500]))
            if v["action"][0] == R.ADMIN_SET_RISK:
                v["v0"], v["v1"] = draw(st.sampled_from([0, 1, 3, 100, 5000, 10_000, 10_001])), draw(st.sampled_from([0, 2500, 10_001]))
            if v["action"][0] in R.SEQUENCER_ONLY_ADMIN:  # epochs, replication down/up (policies)
                v["v0"], v["v1"] = draw(st.sampled_from([0, 1, 1, 2, 3, 255, 256])), draw(st.integers(0, 3))
            name = draw(st.sampled_from([b"AAA", b"CCC", b"DD", b"LONGNAME9"]))
            v["name"][0, :len(name)] = np.frombuffer(name, np.uint8)
        elif kind == "timer":
            r.view(R.Timer)["type"] = R.TIMER
            r.view(R.Timer)["kind"] = draw(st.sampled_from([R.TIMER_TICK] * 4 + [0, 7]))
        else:
            r.view(R.COMMAND_HEADER)["type"] = draw(st.sampled_from([0, 12, 101, 999]))
        if kind in ("new", "cancel", "replace"):
            clord = draw(clords) if not plausible else b"K%d" % i  # fresh ClOrdID
            r.view({"new": R.NewOrder, "cancel": R.Cancel, "replace": R.Replace}[kind])["cl_ord_id"][0, :len(clord)] = np.frombuffer(clord, np.uint8)
    stream = np.concatenate([reference(), raw])
    h = stream.view(R.COMMAND_HEADER)
    h["version"] = [R.RECORD_VERSIONS.get(int(t), 1) for t in h["type"]]
    h["seq"] = np.arange(1, len(stream) + 1)
    h["ts"] = 1000 * h["seq"]
    h["source_id"] = 1
    h["source_seq"] = h["seq"]
    return stream


def run(stream, cuts=(), digest_every=5, capacity=CAP):
    bl = BusinessLogic(State.create(capacity), digest_every)
    bounds = [0, *sorted(set(cuts)), len(stream)]
    out = [bl.apply(stream[a:b]) for a, b in zip(bounds, bounds[1:])]
    return np.concatenate(out), bl


def cut_points(n):
    return st.lists(st.integers(0, n), max_size=12)


@SETTINGS
@given(commands(), st.data())
def test_same_input_same_output_any_batching(stream, data):
    ref, bl = run(stream)
    again, bl2 = run(stream)
    assert again.tobytes() == ref.tobytes()
    assert bl2.state.digest() == bl.state.digest()
    cuts = data.draw(cut_points(len(stream)))
    cut, bl3 = run(stream, cuts)
    assert cut.tobytes() == ref.tobytes()
    assert bl3.state.digest() == bl.state.digest()


@SETTINGS
@given(commands(), st.data())
def test_snapshot_then_continue(stream, data):
    ref, bl = run(stream)
    at = data.draw(st.integers(0, len(stream)))
    a = BusinessLogic(State.create(CAP), 5)
    first = a.apply(stream[:at])
    b = BusinessLogic(State.from_arrays(a.state.arrays()), 5)
    rest = b.apply(stream[at:])
    assert np.concatenate([first, rest]).tobytes() == ref.tobytes()
    assert b.state.digest() == bl.state.digest()


def check_invariants(events, state, clients=(1, 2), start_cash=CLIENT_CASH):
    h = events.view(R.EVENT_HEADER)
    tr = events.view(R.Trade)[h["type"] == R.TRADE]
    pos, bought, sold = {}, {}, {}
    cash = [0] * len(state.clients)
    fees = [0] * len(state.clients)
    for t in tr:
        key = (int(t["client_id"]), int(t["symbol_id"]))
        sign = 1 if t["side"] == R.SIDE_BUY else -1
        pos[key] = pos.get(key, 0) + sign * int(t["qty"])
        (bought if sign > 0 else sold)[key] = (bought if sign > 0 else sold).get(key, 0) + int(t["qty"])
        cash[key[0]] -= sign * int(t["qty"]) * int(t["price"]) + int(t["fee"])
        fees[key[0]] += int(t["fee"])
    rows = state.position_rows()
    for key, qty in pos.items():
        assert state.position(*key) == qty, "positions == sum of signed fills"
    for r in rows:
        key = (int(r["client_id"]), int(r["symbol_id"]))
        assert int(r["qty"]) == pos.get(key, 0)
        assert int(r["bought"]) == bought.get(key, 0) and int(r["sold"]) == sold.get(key, 0)
        assert int(r["qty"]) == int(r["bought"]) - int(r["sold"])
    for c in clients:  # (clients a stream adds later start with whatever cash it gave them)
        assert int(state.clients[c]["cash"]) - start_cash == cash[c], "cash moved by fills and fees only"
        assert int(state.clients[c]["fees"]) == fees[c]
    every = state.orders[: state.scalars[0]]
    assert (every["leaves"] >= 0).all() and (every["cum"] >= 0).all()
    assert (every["cum"] <= every["qty"]).all(), "filled <= ordered"
    o = every[every["kind"] != KIND_CHILD]  # the clients' orders
    done = np.isin(o["status"], [R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_REJECTED, R.STATUS_EXPIRED])
    assert (o["leaves"][done] == 0).all()
    assert (o["leaves"][~done] == (o["qty"] - o["cum"])[~done]).all()
    assert (o["leaves"][~done] > 0).all()
    assert (o["cum"][o["status"] == R.STATUS_FILLED] == o["qty"][o["status"] == R.STATUS_FILLED]).all()
    # what live orders hold adds up: open counts, open quantity per position, reservations
    for c in range(1, len(state.clients)):
        mine = o[(o["client_id"] == c) & ~done]
        assert int(state.clients[c]["open_orders"]) == len(mine)
        assert int(state.clients[c]["reserved"]) == int(mine["reserved"].sum())
        assert int(state.clients[c]["open_notional"]) == int((mine["leaves"] * mine["value_px"]).sum())
    for r in rows:
        mine = o[(o["client_id"] == r["client_id"]) & (o["symbol_id"] == r["symbol_id"]) & ~done]
        assert int(r["open_buy"]) == int(mine["leaves"][mine["side"] == R.SIDE_BUY].sum())
        assert int(r["open_sell"]) == int(mine["leaves"][mine["side"] != R.SIDE_BUY].sum())
    er = events.view(R.ExecReport)[h["type"] == R.EXEC_REPORT]
    assert (er["leaves_qty"] >= 0).all() and (er["cum_qty"] <= np.maximum(er["qty"], 0)).all()
    # every filled quantity was reported exactly once, as a trade
    assert int(o["cum"].sum()) == int(tr["qty"].sum())
    ids = events.view(R.ExecReport)["exec_id"][np.isin(h["type"], [R.EXEC_REPORT, R.CANCEL_REJECT])]
    assert (np.diff(ids.astype(np.int64)) == 1).all(), "exec ids are a gapless counter"


@SETTINGS
@given(commands(max_size=120))
def test_accounting_invariants(stream):
    events, bl = run(stream)
    check_invariants(events, bl.state)


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1), st.data())
def test_generated_flow_is_batch_independent(seed, data):
    stream = generate(seed, 4000, n_clients=12, n_symbols=3, round_size=300)
    cap = Capacity(orders=4096, clients=16, symbols=8)
    ref, bl = run(stream, digest_every=500, capacity=cap)
    cut, bl2 = run(stream, data.draw(cut_points(len(stream))), digest_every=500, capacity=cap)
    assert cut.tobytes() == ref.tobytes()
    assert bl2.state.digest() == bl.state.digest()
    check_invariants(ref, bl.state, clients=range(1, 13), start_cash=START_CASH)
