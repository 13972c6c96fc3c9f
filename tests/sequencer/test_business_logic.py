"""BusinessLogic: digest placement, batching independence, snapshots."""

import numpy as np
import pytest

from sequencer import logic
from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State
from sequencer.workload import generate

from seq_testkit import Harness, admin, new_order, typed

CAP = Capacity(orders=4096, clients=128, symbols=64)


@pytest.fixture(scope="module")
def stream():
    return generate(7, 3000, n_clients=20, n_symbols=30, round_size=200)


def run(raw, sizes, digest_every=100, capacity=CAP):
    """Apply raw in batches cycling through sizes; return (events, BusinessLogic)."""
    bl = BusinessLogic(State.create(capacity), digest_every)
    out, i, k = [], 0, 0
    while i < len(raw):
        n = sizes[k % len(sizes)]
        out.append(bl.apply(raw[i:i + n]))
        i += n
        k += 1
    return np.concatenate(out), bl


def digests(events):
    h = events.view(R.EVENT_HEADER)
    return events.view(R.StateDigest)[h["type"] == R.STATE_DIGEST]


def test_digests_land_on_seq_multiples_whatever_the_batches(stream):
    ref, bl = run(stream, [len(stream)])
    d = digests(ref)
    assert list(d["seq"]) == list(range(100, 3001, 100))
    assert list(d["inputs"]) == list(d["seq"])  # fresh state, stream from seq 1
    assert set(d["reason"]) == {R.DIGEST_PERIODIC}
    assert d["digest"][-1] == bl.state.digest()
    for sizes in ([1], [7], [100], [99, 101], [4096], [1, 2, 300, 5]):
        out, _ = run(stream, sizes)
        assert out.tobytes() == ref.tobytes(), sizes


def test_event_headers_follow_their_input(stream):
    ev, _ = run(stream, [512])
    h = ev.view(R.EVENT_HEADER)
    cmd_h = stream.view(R.COMMAND_HEADER)
    assert all(int(v) == R.RECORD_VERSIONS[int(t)] for t, v in zip(h["type"], h["version"]))
    assert (np.diff(h["seq"].astype(np.int64)) >= 0).all()
    kernel = h["type"] != R.STATE_DIGEST
    by_seq = cmd_h[h["seq"][kernel].astype(np.int64) - 1]
    assert (h["ts"][kernel] == by_seq["ts"]).all()
    assert (h["source_id"][kernel] == by_seq["source_id"]).all()
    assert (h["source_seq"][kernel] == by_seq["source_seq"]).all()


def test_on_demand_digest():
    h = Harness(digest_every=10)  # harness used seq 1..4
    ev = h.send(admin(R.ADMIN_DIGEST, source_id=9, source_seq=77), new_order("O1"),
                *[admin(R.ADMIN_DIGEST) for _ in range(5)])
    d = [e for e in ev if e["type"] == R.STATE_DIGEST]
    assert [int(e["seq"]) for e in d] == [5, 7, 8, 9, 10, 11]
    assert [int(e["reason"]) for e in d] == [R.DIGEST_ON_DEMAND] * 6  # seq 10 gets one digest, on demand
    assert (d[0]["source_id"], d[0]["source_seq"], d[0]["inputs"]) == (9, 77, 5)
    assert d[-1]["digest"] == h.state.digest()
    final = typed(h.bl.digest_event(R.DIGEST_FINAL))[0]
    assert (final["seq"], final["ts"], final["inputs"], final["reason"]) == (11, 11_000_000, 11, R.DIGEST_FINAL)
    assert final["digest"] == h.state.digest() and final["source_id"] == 0


def test_periodic_digest_is_internal():
    h = Harness(digest_every=5)
    ev = h.send(new_order("O1", source_id=3, source_seq=1))
    d = [e for e in ev if e["type"] == R.STATE_DIGEST][0]
    assert (d["seq"], d["source_id"], d["source_seq"], d["reason"]) == (5, 0, 0, R.DIGEST_PERIODIC)


def test_no_periodic_digest_when_disabled(stream):
    ev, _ = run(stream, [1000], digest_every=0)
    assert len(digests(ev)) == 0


def test_apply_edge_cases():
    bl = BusinessLogic(State.create(CAP))
    assert len(bl.apply(R.new_commands(0))) == 0
    with pytest.raises(ValueError):
        bl.apply(R.new_events(3))
    with pytest.raises(ValueError):
        BusinessLogic(State.create(CAP), digest_every=-1)


def test_apply_returns_a_copy(stream):
    bl = BusinessLogic(State.create(CAP))
    first = bl.apply(stream[:700])
    keep = first.copy()
    bl.apply(stream[700:1400])
    assert first.tobytes() == keep.tobytes()


def test_internal_chunking_is_invisible(stream, monkeypatch):
    ref, _ = run(stream, [len(stream)])
    monkeypatch.setattr(logic, "CHUNK", 37)
    out, _ = run(stream, [len(stream)])
    assert out.tobytes() == ref.tobytes()


def test_snapshot_then_continue_matches_uninterrupted(stream):
    ref, bl = run(stream, [256])
    for cut in (1, 600, 1777, 2999):
        a = BusinessLogic(State.create(CAP), 100)
        first = a.apply(stream[:cut])
        b = BusinessLogic(State.from_arrays(a.state.arrays()), 100)
        rest = b.apply(stream[cut:])
        assert np.concatenate([first, rest]).tobytes() == ref.tobytes()
        assert b.state.digest() == bl.state.digest()
        assert b.inputs_processed == len(stream)


def test_apply_without_copy_gives_the_same_events():
    """copy=False hands out the scratch buffer: same bytes, valid until the next apply."""
    stream = generate(3, 3_000, n_clients=8, n_symbols=16)
    a = BusinessLogic(State.create(Capacity(orders=4096, clients=16, symbols=32)), 500)
    b = BusinessLogic(State.create(Capacity(orders=4096, clients=16, symbols=32)), 500)
    for lo in range(0, len(stream), 700):
        ea = a.apply(stream[lo:lo + 700])
        eb = b.apply(stream[lo:lo + 700], copy=False)
        assert ea.tobytes() == eb.tobytes()
    assert a.state.digest() == b.state.digest()
