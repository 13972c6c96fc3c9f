"""Property tests of parent / child orders: random streams of routed, algo and direct
orders where the venues answer the VenueOrder / VenueCancel events the core actually
emitted (acks, partial and full fills, cancels, rejects), with market data, timer ticks,
client cancels / replaces and operator switches in between.

After every input the parents' roll-up must hold (cum, working, leaves, live children);
over the whole stream exec ids are gapless, the accounting adds up, and the output bytes
do not depend on how the stream is cut into batches or restored from a snapshot.
"""

import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer import records as R
from sequencer.kernel_base import MAX_LIVE_CHILDREN
from sequencer.logic import BusinessLogic
from sequencer.state import KIND_CHILD, KIND_DIRECT, KIND_PARENT, Capacity, State

from parent_testkit import (
    CENT, ack, add_venue, ask, bid, cancelled, executed, fill, kill, parent, printed, tick, venue_reject,
)
from seq_testkit import PX, add_client, add_symbol, admin, cancel, new_order, replace
from test_determinism_properties import check_invariants

CAP = Capacity(orders=512, clients=4, symbols=4, algos=16, books=8, book_levels=8, book_orders=64)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
S = 1_000_000_000
DONE = [R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_REJECTED, R.STATUS_EXPIRED]
DIGEST_EVERY = 11

STRATEGIES = [R.STRATEGY_DIRECT, R.STRATEGY_BEST_PRICE, R.STRATEGY_SWEEP, R.STRATEGY_COST,
              R.STRATEGY_TWAP, R.STRATEGY_VWAP]
PRICES = [50 * PX - CENT, 50 * PX, 50 * PX + CENT, 50 * PX + 2 * CENT]


def reference() -> list:
    return [add_client(1), add_client(2), add_symbol(1, "AAA"), add_symbol(2, "BBB", ref=0, venue=0),
            add_venue(1, 30, -20), add_venue(2, 25, -10), add_venue(3, 30, 0),
            ask(1, 1, 50 * PX + CENT, 200), ask(2, 2, 50 * PX, 100), ask(3, 3, 50 * PX, 150),
            bid(1, 4, 50 * PX - CENT, 300), bid(3, 5, 50 * PX - CENT, 100)]


class Sim:
    """A BusinessLogic fed one input at a time, remembering what the core asked the
    venues to do, so the next venue answer can refer to it."""

    def __init__(self, pick, integer):
        self.pick = pick          # pick(options): one of a list
        self.integer = integer    # integer(lo, hi): lo..hi inclusive
        self.bl = BusinessLogic(State.create(CAP), DIGEST_EVERY)
        self.state = self.bl.state
        self.seq = 0
        self.now = S
        self.log: list[np.ndarray] = []
        self.out: list[np.ndarray] = []
        self.venue_orders: list[int] = []    # ids named by VenueOrder events (direct orders and children)
        self.cancel_asked: set[int] = set()  # ids named by VenueCancel events
        self.client_orders: list[tuple[int, int, str]] = []  # (order id, client, ClOrdID) accepted
        self.md_refs = {1: [1, 4], 2: [2], 3: [3, 5]}
        self.next_ref = 100
        self.n = 0
        self.switches_on: set[tuple[int, int]] = set()  # (kill scope, target)
        # how busy the venues are: with few answers, children pile up at the venues
        self.kinds = (["new"] * 5 + ["answer"] * self.pick([2, 6, 12]) + ["md"] * 3 + ["tick"] * 4
                      + ["cancel"] * 2 + ["replace", "admin", "late"])
        for cmd in reference():
            self.apply(cmd)

    def apply(self, cmd: np.ndarray) -> np.ndarray:
        h = cmd.view(R.COMMAND_HEADER)
        self.seq += 1
        h["seq"], h["ts"] = self.seq, self.now
        h["source_id"], h["source_seq"] = 1, self.seq
        if h["type"][0] == R.NEW_ORDER and cmd.view(R.NewOrder)["strategy"][0] != 0:
            h["version"] = 2
        self.log.append(cmd)
        ev = self.bl.apply(cmd)
        self.out.append(ev)
        eh = ev.view(R.EVENT_HEADER)["type"]
        for vo in ev.view(R.VenueOrder)[eh == R.VENUE_ORDER]:
            if vo["action"] == R.VENUE_ACTION_NEW:
                self.venue_orders.append(int(vo["order_id"]))
        for vc in ev.view(R.VenueCancel)[eh == R.VENUE_CANCEL]:
            self.cancel_asked.add(int(vc["order_id"]))
        if h["type"][0] == R.NEW_ORDER:
            er = ev.view(R.ExecReport)[eh == R.EXEC_REPORT]
            if len(er) and er["order_id"][0] != 0:
                c = cmd.view(R.NewOrder)[0]
                self.client_orders.append((int(er["order_id"][0]), int(c["client_id"]),
                                           R.ascii_text(c["cl_ord_id"])))
        check_roll_up(self.state, ev)
        return ev

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # ---------------------------------------------------------------- one random step
    def step(self):
        kind = self.pick(self.kinds)
        getattr(self, "do_" + kind)()

    def do_new(self):
        strategy = self.pick(STRATEGIES)
        kw = dict(client_id=self.pick([1, 1, 2]),
                  side=self.pick([R.SIDE_BUY, R.SIDE_BUY, R.SIDE_SELL_SHORT]),
                  qty=self.pick([10, 50, 100, 250, 400]),
                  price=self.pick(PRICES),
                  symbol_id=self.pick([1] * 9 + [2]))
        if strategy in R.ALGO_STRATEGIES:
            start = self.now + self.pick([0, 0, S // 2, 2 * S])
            cmd = parent(self.fresh("A"), strategy, start_ts=start,
                         end_ts=start + self.pick([S, 3 * S, 8 * S]),
                         max_pct=self.pick([0, 0, 2500, 10_000]), **kw)
        else:
            kw["tif"] = self.pick([R.TIF_DAY] * 3 + [R.TIF_IOC, R.TIF_FOK])
            if self.integer(0, 5) == 0:
                kw["ord_type"], kw["price"] = R.ORD_MARKET, 0
            cmd = (parent(self.fresh("P"), strategy, **kw) if strategy != R.STRATEGY_DIRECT
                   else new_order(self.fresh("D"), **kw))
        self.apply(cmd)

    def do_answer(self):
        live = [i for i in self.venue_orders if self.state.order(i)["status"] not in DONE]
        if not live:
            return self.do_tick()
        oid = self.pick(live)
        o = self.state.order(oid)
        venue = int(o["venue_id"])
        choices = ["fill_part", "fill_part", "fill_all"]
        if o["status"] == R.STATUS_PENDING_NEW:
            choices += ["ack", "ack", "ack", "reject"]
        if oid in self.cancel_asked and o["pending"] == R.VENUE_ACTION_CANCEL:
            choices += ["cancelled", "cancelled", "cancel_reject"]
        elif o["pending"] == R.VENUE_ACTION_REPLACE:
            choices += ["replace_ack", "replace_reject"]
        else:
            choices += ["cancelled"]  # unsolicited: IOC remainder, venue expiry
        what = self.pick(choices)
        leaves = int(o["leaves"])
        px = int(o["price"]) or 50 * PX
        if what == "ack":
            cmd = ack(oid, venue_id=venue, venue_order_id=oid + 1000)
        elif what == "reject":
            cmd = venue_reject(oid, venue_id=venue)
        elif what == "fill_all" or (what == "fill_part" and leaves == 1):
            cmd = fill(oid, leaves, price=px, fee=leaves, venue_id=venue, venue_exec_id=self.seq)
        elif what == "fill_part":
            cmd = fill(oid, self.integer(1, leaves - 1), price=px, venue_id=venue, venue_exec_id=self.seq)
        elif what == "cancelled":
            cmd = cancelled(oid, venue_id=venue, qty=leaves)
        elif what == "cancel_reject":
            cmd = venue_reject(oid, reject_of=R.VENUE_ACTION_CANCEL, venue_id=venue)
        elif what == "replace_ack":
            cmd = ack(oid, ack_of=R.VENUE_ACTION_REPLACE, venue_id=venue, qty=int(o["pend_qty"]),
                      price=int(o["pend_price"]))
        else:
            cmd = venue_reject(oid, reject_of=R.VENUE_ACTION_REPLACE, venue_id=venue)
        self.apply(cmd)

    def do_late(self):
        """A venue message that crossed with the order's end (it filled while the cancel
        was on its way: "too late to cancel"), or one naming a parent, a stale or a live
        order at random: alerted or answered, never applied twice."""
        done = [i for i in self.venue_orders if self.state.order(i)["status"] in DONE]
        crossed = [i for i in done if i in self.cancel_asked]
        ids = [i for i, _, _ in self.client_orders] + self.venue_orders
        if not ids:
            return self.do_tick()
        if crossed and self.pick([True, False]):
            oid = self.pick(crossed)
            cmd = self.pick([venue_reject(oid, reject_of=R.VENUE_ACTION_CANCEL), cancelled(oid)])
        else:
            oid = self.pick(done or ids) if self.pick([True, False]) else self.pick(ids)
            cmd = self.pick([fill(oid, 10), ack(oid), cancelled(oid), venue_reject(oid),
                             venue_reject(oid, reject_of=R.VENUE_ACTION_CANCEL),
                             venue_reject(oid, reject_of=R.VENUE_ACTION_REPLACE),
                             ack(oid, ack_of=R.VENUE_ACTION_REPLACE, qty=10, price=50 * PX)])
        self.apply(cmd)

    def do_md(self):
        venue = self.pick([1, 2, 3])
        what = self.pick(["add", "add", "exec", "print"])
        if what == "add":
            self.next_ref += 1
            side = self.pick([R.SIDE_BUY, R.SIDE_SELL])
            px = self.pick(PRICES)
            self.md_refs[venue].append(self.next_ref)
            cmd = (ask if side == R.SIDE_SELL else bid)(venue, self.next_ref, px, self.pick([50, 100, 300]))
        elif what == "exec" and self.md_refs[venue]:
            ref = self.pick(self.md_refs[venue])
            cmd = executed(venue, ref, self.pick([10, 50, 100]))
        else:
            cmd = printed(venue, 50 * PX, self.pick([20, 100, 500]))
        self.apply(cmd)

    def do_tick(self):
        if self.switches_on and self.pick([True, False]):  # kill switches stay on a while only
            for scope, target in sorted(self.switches_on):
                self.apply(kill(scope, target, 0))
            self.switches_on.clear()
        self.now += self.pick([S // 10, S // 2, S, 2 * S])
        self.apply(tick())

    def _client_target(self):
        if not self.client_orders:
            return None
        return self.pick(self.client_orders)

    def do_cancel(self):
        t = self._client_target()
        if t is None:
            return self.do_tick()
        oid, client, clord = t
        how = self.pick(["id", "clord", "clord", "child", "other"])
        if how == "child" and self.venue_orders:  # clients cannot name child orders
            cmd = cancel(self.fresh("X"), order_id=self.pick(self.venue_orders), client_id=client)
        elif how == "id":
            cmd = cancel(self.fresh("X"), order_id=oid, client_id=client)
        elif how == "other":
            cmd = cancel(self.fresh("X"), order_id=oid, client_id=3 - client)
        else:
            cmd = cancel(self.fresh("X"), orig_cl_ord_id=clord, client_id=client)
        self.apply(cmd)

    def do_replace(self):
        t = self._client_target()
        if t is None:
            return self.do_tick()
        oid, client, _ = t
        qty = int(self.state.order(oid)["qty"]) + self.pick([-5, 10, 50])
        self.apply(replace(self.fresh("R"), order_id=oid, client_id=client, qty=max(qty, 1),
                           price=self.pick(PRICES)))

    def do_admin(self):
        what = self.pick(["venue", "venue", "symbol", "client", "cancel_all"])
        if what == "venue":
            switch = (R.KILL_VENUE, self.pick([1, 2, 3]))
        elif what == "symbol":
            switch = (R.KILL_SYMBOL, 1)
        elif what == "client":
            switch = (R.KILL_CLIENT, self.pick([1, 2]))
        if what != "cancel_all":
            on = self.pick([0, 1, 1])
            (self.switches_on.add if on else self.switches_on.discard)(switch)
            cmd = kill(*switch, on, self.pick([0, 0, 1]))
        else:
            cmd = admin(R.ADMIN_CANCEL_ALL, self.pick([1, 2]), scope=R.KILL_CLIENT)
        self.apply(cmd)

    def finish(self):
        """Let every algo window end and the venues cancel whatever is still out."""
        self.now += 10 * S
        self.apply(tick())
        for oid in self.venue_orders:
            o = self.state.order(oid)
            if o["status"] not in DONE:
                if o["status"] == R.STATUS_PENDING_NEW:
                    self.apply(ack(oid, venue_id=int(o["venue_id"])))
                self.apply(cancelled(oid, venue_id=int(o["venue_id"])))

    def stream(self):
        return np.concatenate(self.log)

    def events(self):
        return np.concatenate(self.out)


def check_roll_up(state, events):
    """Parent / child invariants on the state, and on the events of the last input."""
    o = state.orders[: state.scalars[0]]
    n = len(o)
    kind = o["kind"]
    done = np.isin(o["status"], DONE)
    kids = np.flatnonzero(kind == KIND_CHILD)
    par = o["parent"][kids].astype(np.int64) - 1
    live_kid = ~done[kids]
    assert (kind[par] == KIND_PARENT).all(), "a child's parent is a parent"
    assert (par < kids).all()
    assert (o["client_id"][kids] == o["client_id"][par]).all() and (o["side"][kids] == o["side"][par]).all()

    def per_parent(values):
        out = np.zeros(n, np.int64)
        np.add.at(out, par, values.astype(np.int64))
        return out

    cum = per_parent(o["cum"][kids])
    notional = per_parent(o["notional"][kids])
    working = per_parent(np.where(live_kid, o["leaves"][kids], 0))
    live = per_parent(live_kid)
    parents = kind == KIND_PARENT
    assert (o["cum"][parents] == cum[parents]).all(), "parent cum = sum of its children's cum"
    assert (o["notional"][parents] == notional[parents]).all()
    assert (o["working"][parents] == working[parents]).all(), "parent working = live children's leaves"
    assert (o["children"][parents] == live[parents]).all(), "parent children = its live children"
    assert (live <= MAX_LIVE_CHILDREN).all()
    assert (working[parents] <= o["leaves"][parents]).all(), "children never exceed the parent's leaves"
    open_ = ~done & (kind != KIND_CHILD)
    assert (o["leaves"][open_] == (o["qty"] - o["cum"])[open_]).all(), "leaves = qty - cum while live"
    assert (o["leaves"][open_] > 0).all()
    fin = done & parents
    assert (live[fin] == 0).all(), "a final parent has no live child"
    assert (o["leaves"][fin] == 0).all() and (o["working"][fin] == 0).all()
    assert (o["working"][kind != KIND_PARENT] == 0).all()
    # a child: qty = cum + leaves while live; nothing left once done
    c = o[kids]
    assert (c["leaves"][live_kid] == (c["qty"] - c["cum"])[live_kid]).all()
    assert (c["leaves"][~live_kid] == 0).all()
    # children report nothing: every client-facing event names a client's order
    h = events.view(R.EVENT_HEADER)["type"]
    for code, dtype in ((R.EXEC_REPORT, R.ExecReport), (R.TRADE, R.Trade)):
        ids = events.view(dtype)["order_id"][h == code].astype(np.int64)
        ids = ids[ids > 0]
        assert (kind[ids - 1] != KIND_CHILD).all()
    for code, dtype in ((R.VENUE_ORDER, R.VenueOrder), (R.VENUE_CANCEL, R.VenueCancel)):
        ids = events.view(dtype)["order_id"][h == code].astype(np.int64)
        assert np.isin(kind[ids - 1], [KIND_DIRECT, KIND_CHILD]).all(), "venues see only venue orders"
    ids = events.view(R.CancelReject)["order_id"][h == R.CANCEL_REJECT].astype(np.int64)
    assert (kind[ids[ids > 0] - 1] != KIND_CHILD).all(), "a cancel reject never names a child"
    er = events.view(R.ExecReport)[h == R.EXEC_REPORT]
    er = er[er["order_id"] > 0]
    assert (er["working_qty"] <= er["leaves_qty"]).all()
    # an input's last report on an order tells the order as the input left it
    last = {int(e["order_id"]): e for e in er}
    for oid, e in last.items():
        row = o[oid - 1]
        assert (e["ord_status"], e["cum_qty"], e["leaves_qty"], e["working_qty"]) == (
            row["status"], row["cum"], row["leaves"], row["working"]), (oid, e, row)
    live_er = ~np.isin(er["ord_status"], DONE)
    assert (er["leaves_qty"][live_er] + er["cum_qty"][live_er] == er["qty"][live_er]).all()


def run(stream, cuts=()):
    bl = BusinessLogic(State.create(CAP), DIGEST_EVERY)
    bounds = [0, *sorted(set(cuts)), len(stream)]
    return np.concatenate([bl.apply(stream[a:b]) for a, b in zip(bounds, bounds[1:])]), bl


def hypothesis_sim(data) -> Sim:
    return Sim(lambda options: data.draw(st.sampled_from(options)),
               lambda lo, hi: data.draw(st.integers(lo, hi)))


def random_sim(seed) -> Sim:
    rng = random.Random(seed)
    return Sim(rng.choice, rng.randint)


@SETTINGS
@given(st.data())
def test_parent_child_roll_up_and_batch_independence(data):
    sim = hypothesis_sim(data)
    for _ in range(data.draw(st.integers(10, 80), label="steps")):
        sim.step()
    sim.finish()
    stream, ref = sim.stream(), sim.events()
    state = sim.state
    # over the whole stream: accounting, gapless exec ids, nothing left at any venue
    check_invariants(ref, state)
    o = state.orders[: state.scalars[0]]
    assert not (o["kind"] == KIND_CHILD)[~np.isin(o["status"], DONE)].any(), "every venue order was answered"
    algo_parents = (o["kind"] == KIND_PARENT) & (o["algo"] > 0)
    assert np.isin(o["status"][algo_parents], DONE).all(), "every algo ended with its window"
    # the same bytes whatever the batches: one batch, random cuts, a snapshot part-way
    one, bl = run(stream)
    assert one.tobytes() == ref.tobytes() and bl.state.digest() == state.digest()
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts")
    cut, bl = run(stream, cuts)
    assert cut.tobytes() == ref.tobytes() and bl.state.digest() == state.digest()
    at = data.draw(st.integers(0, len(stream)), label="snapshot at")
    a = BusinessLogic(State.create(CAP), DIGEST_EVERY)
    first = a.apply(stream[:at])
    b = BusinessLogic(State.from_used_arrays(a.state.used_arrays(), CAP.orders), DIGEST_EVERY)
    assert np.concatenate([first, b.apply(stream[at:])]).tobytes() == ref.tobytes()
    assert b.state.digest() == state.digest()


def test_the_generator_reaches_every_ending():
    """Long seeded runs of the same generator reach every way a parent ends and every
    event type (guards the property test against drifting into streams that test little)."""
    seen = set()
    most = 0  # live children of one parent
    for seed in range(6):
        sim = random_sim(seed)
        for _ in range(200):
            sim.step()
            most = max(most, int(sim.state.orders["children"].max()))
        sim.finish()
        check_invariants(sim.events(), sim.state)
        o = sim.state.orders[: sim.state.scalars[0]]
        p = o[o["kind"] == KIND_PARENT]
        seen |= {("algo" if a else "routed", chr(s)) for a, s in zip(p["algo"], p["status"])}
        seen |= {R.TYPE_NAMES[int(t)] for t in np.unique(sim.events().view(R.EVENT_HEADER)["type"])}
    wanted = [("routed", "2"), ("routed", "4"), ("routed", "8"), ("algo", "C"), ("algo", "4"),
              "ExecReport", "CancelReject", "Trade", "VenueOrder", "VenueCancel", "StateDigest", "Alert"]
    assert [w for w in wanted if w not in seen] == [], sorted(map(str, seen))
    assert most == MAX_LIVE_CHILDREN
