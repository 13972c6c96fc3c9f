"""Differential test: the kernels against RefRisk (sequencer/reference.py), a plain-Python
model of pre-trade risk, the kill switch and positions for direct orders.

Random streams of reference data with assorted limits, client orders, replaces and
cancels, venue acks, fills, cancels and rejects, market-data trades, adds and deletes
moving the marks, timer ticks and operator commands go through both, one input at a
time; every input's outcome (reject reason, alerts) and, after it, every client's money
and counts, every position and every order must be the same.
"""

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer import positions as P
from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.reference import RefRisk, ref_risk_ns_per_input
from sequencer.state import S_KILL_GLOBAL, S_KILL_NEW, S_ORDERS, Capacity, State

from seq_testkit import PX, _one, typed

CAP = Capacity(orders=40, clients=5, symbols=5, clord_slots=128, positions=10, books=6, book_levels=4,
               book_orders=12)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CLIENT_FIELDS = ("max_qty", "max_notional", "cash", "fees", "max_open", "max_position", "max_gross", "max_rate",
                 "im_bps", "mm_bps", "open_orders", "reserved", "open_notional", "gross", "realized")
POSITION_FIELDS = ("qty", "avg_px", "realized", "fees", "bought", "sold", "buy_value", "sell_value",
                   "open_buy", "open_sell")
ORDER_FIELDS = ("client_id", "symbol_id", "venue_id", "side", "ord_type", "status", "prev_status", "pending",
                "price", "qty", "leaves", "cum", "notional", "reserved", "value_px")


# ==================================================================== comparing
def kernel_outcome(events) -> tuple:
    """(reason, alerts) of one input's events, as RefRisk reports them."""
    reason, alerts = 0, []
    for e in typed(events):
        t = int(e["type"])
        if not reason and ((t == R.EXEC_REPORT and e["exec_type"] == R.EXEC_REJECTED) or t == R.CANCEL_REJECT):
            reason = int(e["reason"])
        elif t == R.ALERT:
            alerts.append((int(e["code"]), int(e["a"]), int(e["b"])))
    return reason, tuple(alerts)


def check_same_state(state: State, ref: RefRisk, where: str):
    for cid in range(1, len(ref.clients)):
        rc, kc = ref.clients[cid], state.clients[cid]
        assert bool(kc["active"]) == rc.active, where
        if not rc.active:
            continue
        got = {f: int(kc[f]) for f in CLIENT_FIELDS} | {"killed": bool(kc["killed"]), "margin_call": bool(kc["margin_call"])}
        want = {f: getattr(rc, f) for f in CLIENT_FIELDS} | {"killed": rc.killed, "margin_call": rc.margin_call}
        assert got == want, f"{where}: client {cid}"
    rows = state.position_rows()
    got = {(int(r["client_id"]), int(r["symbol_id"])): {f: int(r[f]) for f in POSITION_FIELDS} for r in rows}
    want = {k: {f: getattr(p, f) for f in POSITION_FIELDS} for k, p in ref.positions.items()}
    assert got == want, f"{where}: positions"
    n = int(state.scalars[S_ORDERS])
    assert n == len(ref.orders), f"{where}: order count"
    for i, o in enumerate(ref.orders):
        k = state.orders[i]
        got = {f: int(k[f]) for f in ORDER_FIELDS}
        want = {f: getattr(o, f) for f in ORDER_FIELDS}
        assert got == want, f"{where}: order {i + 1}"
    assert (bool(state.scalars[S_KILL_GLOBAL]), bool(state.scalars[S_KILL_NEW])) == (ref.kill_global, ref.kill_new)
    assert [bool(x) for x in state.symbols["killed"]] == [s.killed for s in ref.symbols], where
    assert [bool(x) for x in state.venues["killed"]] == ref.venue_killed, where
    args = state.kernel_args()
    marks = np.zeros(len(state.symbols), np.int64)
    P.marks(args, marks)
    assert marks.tolist() == [ref.mark(s) for s in range(len(ref.symbols))], f"{where}: marks"
    out = np.zeros(4, np.int64)
    for cid in range(1, len(ref.clients)):
        if ref.clients[cid].active:
            P.client_summary(args, cid, out)
            assert tuple(out.tolist()) == ref.summary(cid), f"{where}: summary of client {cid}"


def run_both(raw: np.ndarray):
    """Apply ``raw`` input by input to the kernels and to RefRisk, comparing as they go."""
    bl = BusinessLogic(State.create(CAP), digest_every=0)
    ref = RefRisk(CAP)
    outcomes = []
    for i in range(len(raw)):
        events = bl.apply(raw[i:i + 1])
        got = kernel_outcome(events)
        (want,) = ref.run(raw[i:i + 1])
        where = f"input {i} ({R.TYPE_NAMES[int(R.header(raw)['type'][i])]})"
        assert got == want, f"{where}: kernels {got}, reference {want}"
        check_same_state(bl.state, ref, where)
        outcomes.append(got)
    return outcomes, bl, ref


# ==================================================================== streams
def rec(dtype, code, **fields):
    return _one(dtype, code, **fields)


def admin_rec(action, target=0, v0=0, v1=0, v2=0, scope=0, name=""):
    return rec(R.Admin, R.ADMIN, action=action, target_id=target, v0=v0, v1=v1, v2=v2, scope=scope, name=name)


MONEY = [500 * PX, 5_000 * PX, 50_000 * PX, 1_000_000 * PX]
PRICES = [10 * PX, 10 * PX, 50 * PX, 50 * PX, 49 * PX, 51 * PX, 55 * PX, 10 * PX + PX // 2, 9 * PX, 0, 500 * PX]
QTYS = [1, 10, 10, 50, 100, 100, 300, 1000, 0, 2000]
CLORDS = [f"C{i}" for i in range(24)] + ["C1", "C2", ""]
ORDER_IDS = list(range(1, 13)) + list(range(1, 9)) * 3 + [0, 0, 41, 2**64 - 1]
REF_LIMITS = {
    R.RISK_MAX_OPEN_ORDERS: [0, 0, 2, 4],
    R.RISK_MAX_POSITION: [0, 0, 100, 500],
    R.RISK_MAX_GROSS: [0, 0, 500 * PX, 1_000 * PX, 5_000 * PX],
    R.RISK_ORDER_RATE: [0, 0, 1, 2, 3],
}


# Generators take ``pick(list) -> element``: hypothesis draws (shrinkable) or a seeded RNG.
def reference_data(pick, refs):
    """Clients 1-3 and symbols 1-3 with assorted limits; refs[sid] = the reference price chosen."""
    cmds = []
    for cid in (1, 2, 3):
        cmds.append(admin_rec(R.ADMIN_ADD_CLIENT, cid, pick([50, 500, 1000]),
                              pick([2_000 * PX, 20_000 * PX, 100_000 * PX]), pick(MONEY), name=f"ACC{cid}"))
        for scope, values in REF_LIMITS.items():
            v = pick(values)
            if v:
                cmds.append(admin_rec(R.ADMIN_SET_RISK, cid, v, scope=scope))
        im, mm = pick([(0, 0), (0, 0), (5000, 2500), (3000, 3000), (10_000, 5000)])
        if im or mm:
            cmds.append(admin_rec(R.ADMIN_SET_RISK, cid, im, mm, scope=R.RISK_MARGIN))
    for sid, name in ((1, "AAA"), (2, "BBB"), (3, "CCC")):
        refs[sid] = pick([10 * PX, 50 * PX, 50 * PX, 0])
        cmds.append(admin_rec(R.ADMIN_ADD_SYMBOL, sid, refs[sid], pick([1, 1, 2, 0]), name=name))
        bps, absolute = pick([(0, 0), (0, 0), (1000, 0), (0, 2 * PX), (500, 3 * PX)])
        if bps or absolute:
            cmds.append(admin_rec(R.ADMIN_SET_SYMBOL, sid, bps, absolute, scope=R.SYM_COLLAR))
        if pick(range(10)) == 0:
            cmds.append(admin_rec(R.ADMIN_SET_SYMBOL, sid, 1, scope=R.SYM_RESTRICTED))
        if pick(range(4)) == 0:
            cmds.append(admin_rec(R.ADMIN_SET_SYMBOL, sid, 0, scope=R.SYM_SHORTABLE))
    return cmds


def near(pick, ref):
    """A price around a reference price (or a usual one when there is none)."""
    ref = ref or 50 * PX
    return ref + pick([0, 0, -PX // 100, PX // 100, -PX // 2, PX // 2, -ref // 20, ref // 10, 2 * PX, -3 * PX])


def target(pick, shadow):
    """An order the stream so far created (a live one if any, as a shadow RefRisk sees it),
    or None: then the command names an id drawn blindly."""
    if not shadow.orders or pick([False, True, True, True]) is False:
        return None
    live = [o for o in shadow.orders if not o.done]
    return pick(live if live and pick([True, True, True, False]) else shadow.orders)


def one(pick, kind, refs, shadow):
    if kind == "new":
        if pick([True, True, True, False]):  # plausible: known ids, valid fields, a price near the reference
            sid = pick([1, 1, 2, 3])
            fields = dict(client_id=pick([1, 1, 2, 3]), symbol_id=sid, side=pick([1, 1, 1, 2, 5]),
                          ord_type=pick([2, 2, 2, 1]), tif=pick([0, 0, 3]), qty=pick([1, 10, 10, 20, 50, 100, 300]),
                          price=near(pick, refs[sid]), venue_id=pick([0, 0, 1, 2]), cl_ord_id=pick(CLORDS[:-1]))
        else:
            sid = pick([1, 1, 2, 3, 0, 4])
            fields = dict(client_id=pick([1, 1, 1, 2, 3, 0, 4]), symbol_id=sid, side=pick([1, 1, 2, 5, 5, 3]),
                          ord_type=pick([2, 2, 2, 1, 7]), tif=pick([0, 0, 0, 3, 4, 9]), qty=pick(QTYS),
                          price=pick(PRICES), venue_id=pick([0, 0, 0, 1, 2, 3, 16]), cl_ord_id=pick(CLORDS))
        if sid == 0:
            fields["symbol"] = pick(["AAA", "BBB", "ZZZ", ""])
        r = rec(R.NewOrder, R.NEW_ORDER, **fields)
        if pick([False, True]):
            r.view(R.NewOrder)["version"] = 2  # strategy 0: direct
        return r
    if kind in ("cancel", "replace"):
        o = target(pick, shadow)
        if o is None:
            fields = dict(client_id=pick([1, 1, 1, 2, 3]), order_id=pick(ORDER_IDS), cl_ord_id=pick(CLORDS))
            qty, price = pick(QTYS), pick(PRICES + [near(pick, refs[1])] * 3)
        else:
            fields = dict(client_id=pick([o.client_id] * 5 + [1, 2]), order_id=o.order_id, cl_ord_id=pick(CLORDS))
            qty = max(0, pick([o.qty, o.qty, o.qty // 2, o.qty + 10, o.qty * 3, o.cum, o.cum + 1]))
            price = pick([o.price, o.price, near(pick, o.price), 0]) if o.price else pick([0, 50 * PX])
        if pick([False, False, False, True]):  # name the order by a ClOrdID instead
            fields["order_id"] = 0
            fields["orig_cl_ord_id"] = pick(CLORDS)
        if kind == "cancel":
            return rec(R.Cancel, R.CANCEL, **fields)
        return rec(R.Replace, R.REPLACE, qty=qty, price=price, **fields)
    o = target(pick, shadow) if kind in ("ack", "fill", "cancelled", "vreject") else None
    oid = o.order_id if o is not None else pick(ORDER_IDS)
    if kind == "ack":
        if o is not None and o.status == R.STATUS_PENDING_NEW and pick([True, True, True, False]):
            of = R.VENUE_ACTION_NEW
        elif o is not None and o.pending == R.VENUE_ACTION_REPLACE and pick([True, True, True, False]):
            of = R.VENUE_ACTION_REPLACE
        else:
            of = pick([1, 1, 2, 3])
        return rec(R.VenueAck, R.VENUE_ACK, order_id=oid, ack_of=of, venue_id=1)
    if kind == "fill":
        qty = pick([1, 10, 10, 50, 100, 300, 1000, 0]) if o is None or o.leaves == 0 or pick(range(5)) == 0 \
            else pick([o.leaves, o.leaves, max(1, o.leaves // 2), 1, o.leaves + 1])
        price = pick([o.price or 50 * PX, near(pick, o.price)]) if o is not None and pick([True, False]) \
            else pick([10 * PX, 50 * PX, 48 * PX, 52 * PX, 9 * PX, 0])
        return rec(R.VenueFill, R.VENUE_FILL, order_id=oid, qty=qty, price=price, fee=pick([0, 0, 7, -3, PX // 100]),
                   venue_id=1)
    if kind == "cancelled":
        return rec(R.VenueCancelled, R.VENUE_CANCELLED, order_id=oid, venue_id=1)
    if kind == "vreject":
        of = o.pending if o is not None and o.pending and pick([True, False]) else pick([1, 1, 2, 3, 3])
        return rec(R.VenueReject, R.VENUE_REJECT, order_id=oid, reject_of=of, venue_id=1)
    if kind == "md":
        action = pick(["P", "A", "A", "A", "D", "E"])
        return rec(R.MarketData, R.MARKET_DATA, symbol_id=pick([1, 1, 2, 3, 0, 9]), venue_id=pick([1, 1, 2, 3, 0]),
                   action=ord(action), side=pick([R.SIDE_BUY, R.SIDE_SELL]),
                   price=pick([9 * PX, 10 * PX, 11 * PX, 48 * PX, 50 * PX, 52 * PX, 60 * PX]),
                   qty=pick([10, 100, 0]), ref=pick([1, 2, 3, 4, 5, 6]))
    if kind == "timer":
        return rec(R.Timer, R.TIMER, timer_id=1, kind=pick([R.TIMER_TICK, R.TIMER_TICK, 2]))
    # operator commands
    what = pick(["kill", "kill", "kill", "cancel_all", "cancel_all", "risk", "risk", "symbol", "symbol", "limits",
                 "client"] * 2 + ["replication"])
    if what == "kill":
        scope = pick([1, 2, 3, 3, 4, 4, 5, 5, 0])
        return admin_rec(R.ADMIN_KILL, pick([0, 1, 2, 3, 4]), pick([1, 0, 0, 0, 2]), pick([0, 0, 1]), scope=scope)
    if what == "cancel_all":
        return admin_rec(R.ADMIN_CANCEL_ALL, pick([0, 1, 2, 3]), scope=pick([1, 2, 3, 4, 5, 6]))
    if what == "risk":
        scope = pick([1, 2, 3, 4, 5, 9])
        v0, v1 = (pick([(0, 0), (5000, 2500), (10_000, 10_000), (20_000, 0)]) if scope == R.RISK_MARGIN
                  else (pick(REF_LIMITS.get(scope, [0, 1]) + [-1]), 0))
        return admin_rec(R.ADMIN_SET_RISK, pick([1, 2, 3, 4]), v0, v1, scope=scope)
    if what == "symbol":
        scope = pick([1, 2, 3, 4, 9])
        v0 = {R.SYM_COLLAR: pick([0, 200, 1000]), R.SYM_REFERENCE_PRICE: pick([0, 10 * PX, 50 * PX, 45 * PX]),
              R.SYM_RESTRICTED: pick([0, 0, 1, 2]), R.SYM_SHORTABLE: pick([0, 1, 1, 2])}.get(scope, pick([0, 1]))
        return admin_rec(R.ADMIN_SET_SYMBOL, pick([1, 2, 3, 4]), v0, pick([0, PX, -1]), scope=scope)
    if what == "limits":
        return admin_rec(R.ADMIN_SET_LIMITS, pick([1, 2, 3]), pick([100, 1000]), pick([5_000 * PX, 100_000 * PX]))
    if what == "client":
        return admin_rec(R.ADMIN_ADD_CLIENT, 4, 1000, 100_000 * PX, pick(MONEY), name="ACC4")
    return admin_rec(R.ADMIN_REPLICATION, 0, pick([R.REPLICATION_DOWN, R.REPLICATION_UP, R.REPLICATION_UP]),
                     pick([R.POLICY_REJECT_NEW, R.POLICY_DEGRADE]), 7)


KINDS = ["new"] * 10 + ["cancel"] * 2 + ["replace"] * 4 + ["ack"] * 5 + ["fill"] * 6 + ["cancelled"] * 2 \
    + ["vreject"] + ["md"] * 3 + ["timer"] + ["admin"] * 2
STEPS_NS = [0, 0, 0, 1_000_000, 10_000_000, 50_000_000, 100_000_000, 400_000_000, 900_000_000, 1_000_000_000]


def make_stream(pick, size):
    """Reference data then ``size`` commands. A shadow RefRisk follows the stream as it is
    built, so most requests and venue messages name an order that exists (the outcomes are
    still the kernels' and the reference's to decide)."""
    refs = {}
    shadow = RefRisk(CAP)
    cmds = []
    ts = 1_000_000_000

    def add(r, step):
        nonlocal ts
        ts += step
        h = r.view(R.COMMAND_HEADER)
        h["seq"], h["ts"] = len(cmds) + 1, ts
        shadow.run(r)
        cmds.append(r)

    for r in reference_data(pick, refs):
        add(r, 0)
    for _ in range(size):
        add(one(pick, pick(KINDS), refs, shadow), pick(STEPS_NS))
    return np.concatenate(cmds)


@st.composite
def streams(draw, max_size=70):
    return make_stream(lambda xs: draw(st.sampled_from(list(xs))), draw(st.integers(1, max_size)))


def seeded_stream(seed: int, size: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_stream(lambda xs: list(xs)[rng.integers(len(xs))], size)


# ==================================================================== tests
@SETTINGS
@given(streams())
def test_kernels_agree_with_the_reference(raw):
    run_both(raw)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_reference_run_over_a_whole_stream(raw):
    """RefRisk.run on a numpy stream gives the kernels' outcomes of the same batch."""
    bl = BusinessLogic(State.create(CAP), digest_every=0)
    events = bl.apply(raw)
    by_seq = defaultdict(list)
    seqs = events.view(R.EVENT_HEADER)["seq"]
    for j in range(len(events)):
        by_seq[int(seqs[j])].append(j)
    got = [kernel_outcome(events[by_seq[s]]) for s in raw.view(R.COMMAND_HEADER)["seq"].tolist()]
    assert RefRisk(CAP).run(raw) == got


def test_the_streams_reach_every_reason():
    """The generator is worth something: over a fixed sample of streams, the outcomes cover
    the kill switches, every risk check and the venue anomalies."""
    seen = set()
    for seed in range(40):
        for reason, alerts in RefRisk(CAP).run(seeded_stream(seed)):
            seen.add(reason)
            seen.update(code for code, _, _ in alerts)
    wanted = {R.REASON_KILL_GLOBAL, R.REASON_KILL_NEW_ORDERS, R.REASON_KILL_SYMBOL, R.REASON_KILL_CLIENT,
              R.REASON_KILL_VENUE, R.REASON_MAX_OPEN_ORDERS, R.REASON_MAX_POSITION, R.REASON_MAX_GROSS,
              R.REASON_BUYING_POWER, R.REASON_ORDER_RATE, R.REASON_PRICE_COLLAR, R.REASON_RESTRICTED,
              R.REASON_NOT_SHORTABLE, R.REASON_SELL_EXCEEDS_POSITION, R.REASON_MAX_QTY, R.REASON_MAX_NOTIONAL,
              R.REASON_NO_REFERENCE_PRICE, R.REASON_DUPLICATE_CLORDID, R.REASON_INVALID_FIELD,
              R.REASON_UNKNOWN_CLIENT, R.REASON_UNKNOWN_SYMBOL, R.REASON_UNKNOWN_ORDER, R.REASON_PENDING,
              R.REASON_TOO_LATE, R.REASON_NOT_OWNER, R.REASON_OVERFILL, R.REASON_KILL_CANCEL,
              R.REASON_MARGIN_CALL, R.REASON_VENUE_REJECT, R.REASON_NOT_REPLICATED}
    assert wanted - seen == set()


@pytest.mark.parametrize("seed", range(10))
def test_long_seeded_streams_agree(seed):
    """Longer streams than hypothesis draws: capacity limits and long-lived orders."""
    run_both(seeded_stream(1000 + seed, 300))


def test_ref_risk_is_callable_by_the_bench():
    raw = np.concatenate([admin_rec(R.ADMIN_ADD_CLIENT, 1, 1000, 100_000 * PX, 1_000_000 * PX, name="A"),
                          admin_rec(R.ADMIN_ADD_SYMBOL, 1, 50 * PX, 1, name="AAA")]
                         + [rec(R.NewOrder, R.NEW_ORDER, client_id=1, symbol_id=1, side=1, ord_type=2, qty=10,
                                price=50 * PX, cl_ord_id=f"O{i}") for i in range(20)])
    out = RefRisk(CAP).run(raw)
    assert out[:2] == [(0, ()), (0, ())] and all(o == (0, ()) for o in out[2:]), out
    assert ref_risk_ns_per_input(raw, CAP) > 0
