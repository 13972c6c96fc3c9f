"""The kill switch (ADMIN_KILL) and the operator's cancel-all (ADMIN_CANCEL_ALL).

Harness reference data as in seq_testkit: clients 1 and 2, symbol 1 AAA ($50, venue 1).
"""

import numpy as np
import pytest

from sequencer import logic
from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.state import S_KILL_GLOBAL, S_KILL_NEW, Capacity, State

from risk_testkit import PX, RiskHarness, add_venue, cancel_all, kill, kinds, timer_tick, typed
from seq_testkit import (
    ack, add_client, add_symbol, cancel, cancelled, fill, new_order, replace, text, venue_reject,
)

SWITCH_CODE = {R.KILL_GLOBAL: R.REASON_KILL_GLOBAL, R.KILL_NEW_ORDERS: R.REASON_KILL_NEW_ORDERS,
               R.KILL_SYMBOL: R.REASON_KILL_SYMBOL, R.KILL_CLIENT: R.REASON_KILL_CLIENT,
               R.KILL_VENUE: R.REASON_KILL_VENUE}


@pytest.fixture
def h():
    return RiskHarness()


def check_switch_alert(ev, scope, target, on):
    (al,) = ev
    assert al["type"] == R.ALERT and al["code"] == SWITCH_CODE[scope]
    assert al["severity"] == (R.SEVERITY_WARNING if on else R.SEVERITY_INFO)
    assert (al["a"], al["b"]) == (target, on)


# ==================================================================== switches
def test_global_kill_refuses_new_replace_and_cancel_until_switched_off(h):
    oid = h.open_order("O1")
    check_switch_alert(h.send(kill(R.KILL_GLOBAL)), R.KILL_GLOBAL, 0, 1)
    assert h.state.scalars[S_KILL_GLOBAL] == 1
    assert h.reason("O2") == R.REASON_KILL_GLOBAL
    (cr,) = h.send(replace("R1", order_id=oid, qty=50, price=50 * PX))
    assert (cr["reason"], cr["response_to"], cr["order_id"]) == (R.REASON_KILL_GLOBAL, R.RESPONSE_TO_REPLACE, oid)
    (cr,) = h.send(cancel("X1", order_id=oid))
    assert (cr["reason"], cr["response_to"], cr["order_id"]) == (R.REASON_KILL_GLOBAL, R.RESPONSE_TO_CANCEL, oid)
    assert h.request(cancel("X2", order_id=999)) == R.REASON_KILL_GLOBAL   # before the lookup
    # the venues keep talking: fills are booked
    assert kinds(h.send(fill(oid, 10))) == ["ER:F", "TR"]
    check_switch_alert(h.send(kill(R.KILL_GLOBAL, on=0)), R.KILL_GLOBAL, 0, 0)
    assert h.request(cancel("X1", order_id=oid)) == 0     # a refused request's ClOrdID was not taken
    assert h.reason("O2") == 0


def test_new_orders_only_lets_cancels_through(h):
    oid = h.open_order("O1")
    check_switch_alert(h.send(kill(R.KILL_NEW_ORDERS)), R.KILL_NEW_ORDERS, 0, 1)
    assert h.state.scalars[S_KILL_NEW] == 1 and h.state.scalars[S_KILL_GLOBAL] == 0
    assert h.reason("O2") == R.REASON_KILL_NEW_ORDERS
    assert h.reason("O3", client_id=2, side=R.SIDE_SELL_SHORT) == R.REASON_KILL_NEW_ORDERS
    assert h.request(replace("R1", order_id=oid, qty=50, price=50 * PX)) == R.REASON_KILL_NEW_ORDERS
    assert kinds(h.send(cancel("X1", order_id=oid))) == ["ER:6", "VC"]
    h.send(kill(R.KILL_NEW_ORDERS, on=0))
    assert h.reason("O2") == 0


@pytest.mark.parametrize("scope, target, inside, outside", [
    (R.KILL_SYMBOL, 1, {}, dict(symbol_id=3)),
    (R.KILL_CLIENT, 1, {}, dict(client_id=2)),
    (R.KILL_VENUE, 1, {}, dict(venue_id=2)),
    (R.KILL_VENUE, 2, dict(venue_id=2), {}),
])
def test_scoped_kill_refuses_in_scope_only(h, scope, target, inside, outside):
    h.send(add_symbol(3, "CCC"))
    in_oid = h.open_order("I1", **inside)
    out_oid = h.open_order("U1", **outside)
    check_switch_alert(h.send(kill(scope, target)), scope, target, 1)
    assert h.reason("I2", **inside) == SWITCH_CODE[scope]
    assert h.reason("U2", **outside) == 0
    ic, oc = inside.get("client_id", 1), outside.get("client_id", 1)
    assert h.request(replace("R1", order_id=in_oid, client_id=ic, qty=50, price=50 * PX)) == SWITCH_CODE[scope]
    assert h.request(replace("R2", order_id=out_oid, client_id=oc, qty=50, price=50 * PX)) == 0
    assert h.request(cancel("X1", order_id=in_oid, client_id=ic)) == 0    # cancels always pass
    check_switch_alert(h.send(kill(scope, target, on=0)), scope, target, 0)
    assert h.reason("I3", **inside) == 0
    assert h.state.symbols["killed"].sum() == h.state.clients["killed"].sum() == h.state.venues["killed"].sum() == 0


def test_switches_are_independent(h):
    h.send(kill(R.KILL_CLIENT, 1), kill(R.KILL_SYMBOL, 1))
    h.send(kill(R.KILL_CLIENT, 1, on=0))
    assert h.reason("O1") == R.REASON_KILL_SYMBOL
    h.send(kill(R.KILL_GLOBAL), kill(R.KILL_NEW_ORDERS), kill(R.KILL_GLOBAL, on=0))
    assert h.reason("O2", client_id=2) == R.REASON_KILL_NEW_ORDERS


def test_switching_on_twice_and_off_when_off_are_harmless(h):
    check_switch_alert(h.send(kill(R.KILL_CLIENT, 1)), R.KILL_CLIENT, 1, 1)
    check_switch_alert(h.send(kill(R.KILL_CLIENT, 1)), R.KILL_CLIENT, 1, 1)
    check_switch_alert(h.send(kill(R.KILL_CLIENT, 1, on=0)), R.KILL_CLIENT, 1, 0)
    check_switch_alert(h.send(kill(R.KILL_CLIENT, 1, on=0)), R.KILL_CLIENT, 1, 0)
    assert h.reason("O1") == 0


@pytest.mark.parametrize("cmd", [
    kill(R.KILL_GLOBAL, on=2),
    kill(R.KILL_GLOBAL, on=-1),
    kill(0, 1),
    kill(6, 1),
    kill(R.KILL_SYMBOL, 0),
    kill(R.KILL_SYMBOL, 5),          # inactive symbol
    kill(R.KILL_SYMBOL, 1000),
    kill(R.KILL_CLIENT, 0),
    kill(R.KILL_CLIENT, 3),          # inactive client
    kill(R.KILL_VENUE, 0),
    kill(R.KILL_VENUE, 16),
    kill(R.KILL_CLIENT, 3, on=1, cancel=1),
    cancel_all(0),
    cancel_all(6, 1),
])
def test_bad_kill_admin_alerts_and_changes_nothing(h, cmd):
    oid = h.open_order("O1")
    before = (h.state.scalars.copy(), h.state.clients.copy(), h.state.symbols.copy(), h.state.venues.copy())
    (al,) = h.send(cmd)
    a = cmd.view(R.Admin)[0]
    assert al["type"] == R.ALERT and al["code"] == R.REASON_INVALID_ADMIN
    assert (al["a"], al["b"]) == (a["action"], a["target_id"])
    after = (h.state.scalars, h.state.clients, h.state.symbols, h.state.venues)
    assert (after[0][[S_KILL_GLOBAL, S_KILL_NEW]] == before[0][[S_KILL_GLOBAL, S_KILL_NEW]]).all()
    assert after[1].tobytes() == before[1].tobytes() and after[2].tobytes() == before[2].tobytes()
    assert after[3].tobytes() == before[3].tobytes()
    assert h.order(oid)["status"] == R.STATUS_NEW


# ==================================================================== cancel-all
def book_of_orders(h):
    """Orders of every kind of life; returns {name: order id}."""
    h.send(add_symbol(3, "CCC"))
    ids = {}
    ids["c1_aaa_v1"] = h.open_order("A1")
    ids["c1_aaa_v2"] = h.open_order("A2", venue_id=2)
    r, ids["c2_aaa_v1_pending_new"] = h.new("B1", client_id=2)
    assert r == 0
    ids["c1_ccc_v1"] = h.open_order("C1", symbol_id=3)
    ids["c2_ccc_v2_partial"] = h.open_order("C2", client_id=2, symbol_id=3, venue_id=2)
    h.send(fill(ids["c2_ccc_v2_partial"], 10))
    done = h.open_order("D1")
    h.send(fill(done, 100))
    gone = h.open_order("D2")
    h.send(cancel("XD2", order_id=gone), cancelled(gone))
    pend = h.open_order("D3")
    assert h.request(cancel("XD3", order_id=pend)) == 0          # already pending cancel: skipped
    return ids


IN_SCOPE = {
    (R.KILL_GLOBAL, 0): ["c1_aaa_v1", "c1_aaa_v2", "c2_aaa_v1_pending_new", "c1_ccc_v1", "c2_ccc_v2_partial"],
    (R.KILL_NEW_ORDERS, 0): ["c1_aaa_v1", "c1_aaa_v2", "c2_aaa_v1_pending_new", "c1_ccc_v1", "c2_ccc_v2_partial"],
    (R.KILL_SYMBOL, 3): ["c1_ccc_v1", "c2_ccc_v2_partial"],
    (R.KILL_SYMBOL, 1): ["c1_aaa_v1", "c1_aaa_v2", "c2_aaa_v1_pending_new"],
    (R.KILL_CLIENT, 2): ["c2_aaa_v1_pending_new", "c2_ccc_v2_partial"],
    (R.KILL_VENUE, 2): ["c1_aaa_v2", "c2_ccc_v2_partial"],
    (R.KILL_VENUE, 7): [],
}


def check_cancel_all(h, ev, ids, names, scope):
    """ev: a PENDING_CANCEL report and a VenueCancel per order in id order, then the count alert."""
    want = sorted(ids[n] for n in names)
    assert kinds(ev) == ["ER:6", "VC"] * len(want) + [f"AL:{R.REASON_KILL_CANCEL}"]
    ers, vcs = ev[0:-1:2], ev[1:-1:2]
    assert [int(e["order_id"]) for e in ers] == want == [int(e["order_id"]) for e in vcs]
    for er, vc in zip(ers, vcs):
        o = h.order(int(er["order_id"]))
        assert er["ord_status"] == R.STATUS_PENDING_CANCEL and o["pending"] == R.VENUE_ACTION_CANCEL
        assert (er["leaves_qty"], er["cum_qty"]) == (o["leaves"], o["cum"])
        # no client request: the report names the order by its own ClOrdID
        assert text(er["cl_ord_id"]) == text(o["cl_ord_id"]) != ""
        assert (vc["client_id"], vc["symbol_id"], vc["venue_id"]) == (o["client_id"], o["symbol_id"], o["venue_id"])
    al = ev[-1]
    assert (al["a"], al["b"], al["severity"]) == (len(want), scope, R.SEVERITY_WARNING)


@pytest.mark.parametrize("scope, target", list(IN_SCOPE))
def test_admin_cancel_all_per_scope(h, scope, target):
    ids = book_of_orders(h)
    switches = h.state.scalars[[S_KILL_GLOBAL, S_KILL_NEW]].copy()
    ev = h.send(cancel_all(scope, target))
    check_cancel_all(h, ev, ids, IN_SCOPE[scope, target], scope)
    # the switches are unchanged: new orders still go
    assert (h.state.scalars[[S_KILL_GLOBAL, S_KILL_NEW]] == switches).all()
    assert h.state.symbols["killed"].sum() + h.state.clients["killed"].sum() + h.state.venues["killed"].sum() == 0
    assert h.reason("N1") == 0
    # a second cancel-all skips what is already being cancelled: only N1 if it is in scope
    n1 = scope in (R.KILL_GLOBAL, R.KILL_NEW_ORDERS) or (scope, target) == (R.KILL_SYMBOL, 1)
    ev = h.send(cancel_all(scope, target))
    assert kinds(ev) == ["ER:6", "VC"] * n1 + [f"AL:{R.REASON_KILL_CANCEL}"] and ev[-1]["a"] == n1


@pytest.mark.parametrize("scope, target", [k for k in IN_SCOPE if k[1] != 7])
def test_kill_with_cancel_all_per_scope(h, scope, target):
    ids = book_of_orders(h)
    ev = h.send(kill(scope, target, on=1, cancel=1))
    check_switch_alert(ev[:1], scope, target, 1)
    check_cancel_all(h, ev[1:], ids, IN_SCOPE[scope, target], scope)
    # and the venues confirm: every order cancelled, nothing held any more
    for name in IN_SCOPE[scope, target]:
        (er,) = h.send(cancelled(ids[name]))
        o = h.order(ids[name])
        assert er["exec_type"] == R.EXEC_CANCELED and o["status"] == R.STATUS_CANCELED
        assert text(er["cl_ord_id"]) == text(o["cl_ord_id"])              # kept its ClOrdID
        assert o["reserved"] == 0 and o["leaves"] == 0


def test_kill_off_with_cancel_flag_cancels_nothing(h):
    oid = h.open_order("O1")
    ev = h.send(kill(R.KILL_GLOBAL, on=0, cancel=1))
    check_switch_alert(ev, R.KILL_GLOBAL, 0, 0)
    assert h.order(oid)["status"] == R.STATUS_NEW


def test_kill_releases_holds_only_when_the_venue_confirms(h):
    h.send(add_client(3, cash=10_000 * PX))
    oid = h.open_order("O1", client_id=3, qty=200)
    h.send(kill(R.KILL_CLIENT, 3, cancel=1))
    c = h.client(3)
    assert c["reserved"] == 10_000 * PX and c["open_orders"] == 1
    h.send(fill(oid, 50))                                           # a fill may still land
    assert h.client(3)["reserved"] == 7_500 * PX
    h.send(cancelled(oid))
    c = h.client(3)
    assert (c["reserved"], c["open_orders"], c["open_notional"]) == (0, 0, 0)
    assert h.order(oid)["status"] == R.STATUS_CANCELED


def test_cancel_all_of_an_unacknowledged_order(h):
    r, oid = h.new("O1")
    h.send(cancel_all(R.KILL_GLOBAL))
    assert h.send(ack(oid)) == []                        # acknowledged while the cancel is pending: quiet
    assert h.order(oid)["prev_status"] == R.STATUS_NEW
    (er,) = h.send(cancelled(oid))
    assert er["exec_type"] == R.EXEC_CANCELED


def test_venue_refusing_the_operators_cancel_answers_nobody(h):
    oid = h.open_order("O1")
    h.send(fill(oid, 10))
    h.send(cancel_all(R.KILL_CLIENT, 1))
    assert h.send(venue_reject(oid, reject_of=R.VENUE_ACTION_CANCEL)) == []
    o = h.order(oid)
    assert (o["status"], o["pending"]) == (R.STATUS_PARTIAL, 0)
    assert h.request(cancel("X1", order_id=oid)) == 0                 # the client can cancel it again


def test_cancel_all_of_a_pending_replace(h):
    oid = h.open_order("O1", qty=100)
    assert h.request(replace("R1", order_id=oid, qty=200, price=50 * PX)) == 0
    ev = h.send(cancel_all(R.KILL_GLOBAL))
    assert kinds(ev) == ["ER:6", "VC", f"AL:{R.REASON_KILL_CANCEL}"]
    (er,) = h.send(cancelled(oid))                                    # the replace dies with the order
    assert er["exec_type"] == R.EXEC_CANCELED and h.order(oid)["qty"] == 100
    assert h.client(1)["reserved"] == 0 and h.client(1)["open_orders"] == 0


def test_venue_scope_cancels_children_of_routed_orders_there():
    h = RiskHarness()
    h.send(add_venue(1), add_venue(2))
    h.quote(1, 0, 50 * PX, venue_id=1, qty=100)
    h.quote(1, 0, 50 * PX, venue_id=2, qty=100)
    ev = h.send(new_order("P1", qty=200, version=2, strategy=R.STRATEGY_SWEEP))
    assert kinds(ev) == ["ER:A", "VO", "VO"]
    parent = int(ev[0]["order_id"])
    child = {int(e["venue_id"]): int(e["order_id"]) for e in ev[1:]}
    assert set(child) == {1, 2}
    direct = h.open_order("D1", venue_id=2, qty=10)
    ev = h.send(cancel_all(R.KILL_VENUE, 2))
    # the direct order gets its report; the child only its venue cancel (children report through the parent)
    assert kinds(ev) == ["VC", "ER:6", "VC", f"AL:{R.REASON_KILL_CANCEL}"]
    assert ev[0]["order_id"] == child[2] and ev[0]["venue_id"] == 2
    assert ev[1]["order_id"] == direct and ev[2]["order_id"] == direct
    assert ev[3]["a"] == 2
    assert h.order(parent)["pending"] == 0 and h.order(child[1])["pending"] == 0
    assert h.send(cancelled(child[2])) == []                 # the parent keeps working at venue 1
    p = h.order(parent)
    assert (p["children"], p["working"], p["leaves"]) == (1, 100, 200)
    # a client-scope cancel-all cancels the parent, which cancels its remaining child
    ev = h.send(cancel_all(R.KILL_CLIENT, 1))
    assert kinds(ev) == ["ER:6", "VC", f"AL:{R.REASON_KILL_CANCEL}"]
    assert ev[0]["order_id"] == parent and ev[1]["order_id"] == child[1]
    (er,) = h.send(cancelled(child[1]))
    assert er["order_id"] == parent and er["exec_type"] == R.EXEC_CANCELED


# ==================================================================== thousands of orders in one input
N_BULK = 2500


def bulk_stream() -> np.ndarray:
    cmds = [add_client(1, max_qty=10**6, max_notional=10**18, cash=10**17), add_client(2),
            add_symbol(1, "AAA"), add_symbol(2, "BBB")]
    cmds += [new_order(f"O{i}", client_id=1, symbol_id=1 + i % 2, qty=1 + i % 7) for i in range(N_BULK)]
    cmds += [ack(i + 1) for i in range(0, N_BULK, 2)]
    cmds += [fill(i + 1, 1) for i in range(0, N_BULK, 5)]
    cmds += [cancel_all(R.KILL_GLOBAL)]
    cmds += [new_order("LATE", client_id=2, qty=5)]
    cmds += [cancelled(i + 1) for i in range(N_BULK)]
    cmds += [timer_tick(), kill(R.KILL_CLIENT, 1, on=1, cancel=1), cancel_all(R.KILL_SYMBOL, 1)]
    raw = np.concatenate(cmds)
    h = raw.view(R.COMMAND_HEADER)
    h["seq"] = np.arange(1, len(raw) + 1)
    h["ts"] = h["seq"] * 1000
    return raw


def run_in_chunks(raw, cuts):
    bl = BusinessLogic(State.create(Capacity(orders=4096, clients=8, symbols=8)), digest_every=1000)
    out = [bl.apply(raw[lo:hi]) for lo, hi in zip([0] + cuts, cuts + [len(raw)])]
    return np.concatenate(out), bl.state


@pytest.fixture(scope="module")
def bulk():
    raw = bulk_stream()
    events, state = run_in_chunks(raw, [])
    return raw, events, state


def test_bulk_cancel_all_writes_every_orders_events(bulk):
    raw, events, state = bulk
    seq_of_cancel_all = 4 + N_BULK + len(range(0, N_BULK, 2)) + len(range(0, N_BULK, 5)) + 1
    mine = events[events.view(R.EVENT_HEADER)["seq"] == seq_of_cancel_all]
    ev = typed(mine)
    live = [i + 1 for i in range(N_BULK) if not (i % 5 == 0 and 1 + i % 7 == 1)]  # filled 1 of 1 are done
    assert kinds(ev) == ["ER:6", "VC"] * len(live) + [f"AL:{R.REASON_KILL_CANCEL}"]
    assert [int(e["order_id"]) for e in ev[0:-1:2]] == live == [int(e["order_id"]) for e in ev[1:-1:2]]
    assert ev[-1]["a"] == len(live)
    # every venue confirmation then closes its order; the late order was not touched by it,
    # only by the symbol cancel-all at the end
    c = state.clients[1]
    assert (c["open_orders"], c["reserved"], c["open_notional"]) == (0, 0, 0)
    assert state.live_orders() == 1 and state.clients[1]["killed"] == 1
    late = state.order(N_BULK + 1)
    assert late["client_id"] == 2 and late["status"] == R.STATUS_PENDING_CANCEL
    last = typed(events[-3:])
    assert kinds(last) == ["ER:6", "VC", f"AL:{R.REASON_KILL_CANCEL}"] and last[0]["order_id"] == N_BULK + 1


def test_bulk_cancel_all_output_is_the_same_whatever_the_batch_cuts(bulk, monkeypatch):
    raw, events, state = bulk
    n = len(raw)
    rng = np.random.default_rng(7)
    where = int(np.flatnonzero(raw.view(R.Admin)["action"] == R.ADMIN_CANCEL_ALL)[0])
    cut_sets = [
        [where, where + 1],                                   # the cancel-all alone
        sorted(set(rng.integers(1, n, 40).tolist())),         # random cuts
        list(range(where - 3, where + 4)),
    ]
    for cuts in cut_sets:
        again, st = run_in_chunks(raw, cuts)
        assert again.tobytes() == events.tobytes()
        assert st.digest() == state.digest()
    # a small scratch buffer makes the kernel stop early and logic.py drain it many times
    monkeypatch.setattr(logic, "EXTRA_EVENTS", 8)
    again, st = run_in_chunks(raw, [where - 100, where + 1])
    assert again.tobytes() == events.tobytes() and st.digest() == state.digest()
    one_by_one, st = run_in_chunks(raw[:where + 5], list(range(where - 2, where + 3)))
    assert one_by_one.tobytes() == events[:len(one_by_one)].tobytes()
