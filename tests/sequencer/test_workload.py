"""The synthetic flow: reproducible, well-formed, and consistent with the kernels."""

import numpy as np
import pytest

from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State
from sequencer.workload import FlowGenerator, generate, live_orders, reference_data

N = 20_000


@pytest.fixture(scope="module")
def stream():
    return generate(3, N)


@pytest.fixture(scope="module")
def replayed(stream):
    bl = BusinessLogic(State.create(Capacity(orders=1 << 15)), digest_every=0)
    return bl.apply(stream), bl


def counts(values):
    u, c = np.unique(values, return_counts=True)
    return dict(zip(u.tolist(), c.tolist()))


def test_reference_data():
    raw = reference_data(3, 2)
    a = raw.view(R.Admin)
    assert list(a["action"]) == [R.ADMIN_ADD_CLIENT] * 3 + [R.ADMIN_ADD_SYMBOL] * 2
    assert list(a["target_id"]) == [1, 2, 3, 1, 2]
    assert R.ascii_text(a["name"][3]) == "SYM0001" and R.ascii_text(a["name"][0]) == "ACC00001"
    assert (a["v0"][3:] > 0).all() and (a["v1"][3:] == 1).all()
    assert (a["seq"] == 0).all()


def test_generate_is_reproducible(stream):
    assert generate(3, N).tobytes() == stream.tobytes()
    assert generate(4, N).tobytes() != stream.tobytes()
    assert generate(3, 5000).tobytes() == stream[:5000].tobytes(), "a shorter run is a prefix"


def test_stream_is_stamped(stream):
    h = stream.view(R.COMMAND_HEADER)
    assert (h["seq"] == np.arange(1, N + 1)).all()
    assert (np.diff(h["ts"]) > 0).all()
    assert all(int(v) == R.RECORD_VERSIONS[int(t)] for t, v in zip(h["type"], h["version"]))
    for sid in (1, 2):  # each producer's own counter runs 1, 2, 3... in stream order
        s = h["source_seq"][h["source_id"] == sid]
        assert (s == np.arange(1, len(s) + 1)).all()
    assert (h["type"][:600] == R.ADMIN).all()


def test_mix(stream):
    c = counts(stream.view(R.COMMAND_HEADER)["type"])
    for t in (R.NEW_ORDER, R.CANCEL, R.REPLACE, R.VENUE_ACK, R.VENUE_FILL, R.VENUE_CANCELLED,
              R.VENUE_REJECT, R.MARKET_DATA):
        assert c.get(t, 0) > 0.002 * N, R.TYPE_NAMES[t]


def test_outcomes_cover_rejects_and_states(replayed):
    events, bl = replayed
    h = events.view(R.EVENT_HEADER)
    er = events.view(R.ExecReport)[h["type"] == R.EXEC_REPORT]
    execs = counts(er["exec_type"])
    for x in "A08F46E5":
        assert execs.get(ord(x), 0) > 0, x
    reasons = counts(er["reason"])
    for r in (R.REASON_UNKNOWN_SYMBOL, R.REASON_MAX_QTY, R.REASON_MAX_NOTIONAL,
              R.REASON_DUPLICATE_CLORDID, R.REASON_INVALID_FIELD, R.REASON_VENUE_REJECT):
        assert reasons.get(r, 0) > 0, R.REASON_TEXT[r]
    cr = counts(events.view(R.CancelReject)[h["type"] == R.CANCEL_REJECT]["reason"])
    for r in (R.REASON_UNKNOWN_ORDER, R.REASON_NOT_OWNER, R.REASON_TOO_LATE):
        assert cr.get(r, 0) > 0, R.REASON_TEXT[r]


def test_venue_model_agrees_with_the_kernels(replayed):
    """The only alerts are the deliberate fills for unknown orders."""
    events, _ = replayed
    h = events.view(R.EVENT_HEADER)
    codes = counts(events.view(R.Alert)[h["type"] == R.ALERT]["code"])
    assert set(codes) <= {R.REASON_UNKNOWN_ORDER}, codes


def test_same_outcome_on_default_capacity(stream, replayed):
    events, _ = replayed
    bl = BusinessLogic(State.create(Capacity(orders=1 << 14, clients=1024, symbols=4096)), digest_every=0)
    assert bl.apply(stream).tobytes() == events.tobytes()


def test_live_generator_round_trip():
    """Drive a BusinessLogic the way a producer process would: client batches, then venue answers."""
    bl = BusinessLogic(State.create(Capacity(orders=1 << 14, clients=64, symbols=64)), digest_every=0)
    gen = FlowGenerator(11, n_clients=10, n_symbols=20, client_source=5, venue_source=6)
    seq = 0

    def sequence(raw):
        nonlocal seq
        h = raw.view(R.COMMAND_HEADER)
        h["seq"] = np.arange(seq + 1, seq + 1 + len(raw))
        h["ts"] = h["seq"] * 1000
        seq += len(raw)
        return bl.apply(raw)

    sequence(reference_data(10, 20))
    for _ in range(30):
        cli = gen.next_client_batch(100)
        h = cli.view(R.COMMAND_HEADER)
        assert (h["seq"] == 0).all() and (h["ts"] == 0).all() and (h["source_id"] == 5).all()
        events = sequence(cli)
        answers = gen.venue_responses(events)
        assert (answers.view(R.COMMAND_HEADER)["source_id"] == 6).all()
        vo = events.view(R.VenueOrder)[events.view(R.EVENT_HEADER)["type"] == R.VENUE_ORDER]
        answered = answers.view(R.VenueAck)["order_id"]
        assert np.isin(vo["order_id"], answered).all(), "every venue order gets an answer"
        gen.observe(sequence(answers))  # acks and fills tell the client side what is open
    assert gen.client_seq == 3000
    o = bl.state.orders[: bl.state.scalars[0]]
    status = counts(o["status"])
    assert status.get(R.STATUS_FILLED, 0) > 0 and status.get(R.STATUS_CANCELED, 0) > 0


def test_live_orders_all_accepted():
    bl = BusinessLogic(State.create(Capacity(orders=4096, clients=16, symbols=32)), digest_every=1000)
    bl.apply(reference_data(10, 20))
    ev = bl.apply(live_orders(3000, 10, 20))  # unstamped (seq 0): no periodic digests either
    h = ev.view(R.EVENT_HEADER)
    assert counts(h["type"]) == {R.EXEC_REPORT: 3000, R.VENUE_ORDER: 3000}
    assert bl.state.live_orders() == 3000


def test_two_producers_share_a_sequencer():
    """Each generator answers only the venue orders its own client flow caused."""
    bl = BusinessLogic(State.create(Capacity(orders=1 << 14, clients=64, symbols=64)), digest_every=0)
    gens = [FlowGenerator(s, n_clients=10, n_symbols=20, client_source=2 * s + 1, venue_source=2 * s + 2)
            for s in (1, 2)]
    bl.apply(reference_data(10, 20))
    events = R.new_events(0)
    for _ in range(20):
        answers = [g.venue_responses(events) for g in gens]
        batch = np.concatenate([*answers, *[g.next_client_batch(50) for g in gens]])
        events = bl.apply(batch)
        codes = counts(events.view(R.Alert)[events.view(R.EVENT_HEADER)["type"] == R.ALERT]["code"])
        assert set(codes) <= {R.REASON_UNKNOWN_ORDER}, codes
    a, b = (g.track["v_state"] != 0 for g in gens)
    n = min(len(a), len(b))
    assert a.any() and b.any() and not (a[:n] & b[:n]).any(), "no order answered by both venues"
