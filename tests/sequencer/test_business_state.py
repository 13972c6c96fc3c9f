"""State layout, capacities, digest and rebuilding from arrays (snapshots)."""

import numpy as np
import pytest

from sequencer.state import ARRAY_NAMES, ORDER, Capacity, N_SCALARS, State

from seq_testkit import SMALL, Harness, fill, new_order, ack


def test_capacity_defaults():
    c = Capacity()
    assert (c.orders, c.clients, c.symbols) == (1 << 20, 1024, 4096)
    assert (c.clord_slots, c.symbol_slots) == (1 << 21, 8192)
    assert Capacity(orders=1000).clord_slots == 2048


@pytest.mark.parametrize("kw", [dict(clord_slots=1000), dict(symbol_slots=3), dict(orders=1),
                                dict(orders=64, clord_slots=32)])
def test_capacity_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        Capacity(**kw)


def test_default_state_fits_in_memory_budget():
    assert ORDER.itemsize == 208
    nbytes = sum(a.nbytes for a in State.create().arrays().values())
    assert nbytes < 300 * 2**20, nbytes  # ~252 MiB for 1M orders, 64k positions, 512 books


def test_arrays_in_fixed_order():
    s = State.create(SMALL)
    assert tuple(s.arrays()) == ARRAY_NAMES
    assert s.capacity == SMALL
    assert s.scalars.shape == (N_SCALARS,)


def test_digest_covers_every_used_array():
    assert State.create(SMALL).digest() == State.create(SMALL).digest()
    h = Harness()
    h.open_order("O1")
    s = h.state
    base = s.digest()
    seen = {base}
    for name, arr in s.used_arrays().items():
        raw = arr.reshape(-1).view(np.uint8)
        raw[-1] ^= 1
        d = s.digest()
        raw[-1] ^= 1
        assert d not in seen, f"flipping a byte of {name} did not change the digest"
        seen.add(d)
    assert s.digest() == base


def test_from_arrays_round_trip_copies():
    h = Harness()
    oid = h.open_order("O1")
    h.send(fill(oid, 10))
    arrays = h.state.arrays()
    copy = State.from_arrays(arrays)
    assert copy.digest() == h.state.digest()
    h.send(fill(oid, 10))
    assert copy.digest() != h.state.digest(), "the copy must not share memory"


def test_used_arrays_round_trip_restores_full_capacity():
    """Snapshots hold only the handed-out order rows; restoring pads back to capacity."""
    h = Harness()
    oid = h.open_order("O1")
    h.send(fill(oid, 10))
    used = h.state.used_arrays()
    assert len(used["orders"]) == oid < len(h.state.orders)
    copy = State.from_used_arrays(used, len(h.state.orders))
    assert copy.digest() == h.state.digest()
    assert all(np.array_equal(a, b) for a, b in zip(copy.arrays().values(), h.state.arrays().values()))
    with pytest.raises(ValueError, match="more than the capacity"):
        State.from_used_arrays(used, oid - 1)


def test_from_arrays_accepts_read_only_buffers():
    s = State.create(SMALL)
    frozen = {n: np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape) for n, a in s.arrays().items()}
    t = State.from_arrays(frozen)
    assert t.digest() == s.digest()
    assert t.orders.flags.writeable


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("orders"), "missing ['orders']"),
    (lambda d: d.update(extra=np.zeros(1)), "unexpected ['extra']"),
    (lambda d: d.update(scalars=np.zeros(N_SCALARS, np.int32)), "'scalars': dtype int32"),
    (lambda d: d.update(scalars=np.zeros(N_SCALARS + 1, np.int64)), "'scalars': shape"),
    (lambda d: d.update(positions=np.zeros(64, np.int64)), "'positions': dtype int64"),
    (lambda d: d.update(book_index=d["book_index"][:4]), "'book_index': shape"),
    (lambda d: d.update(clord_table=d["clord_table"][:100]), "clord_slots must be a power of two"),
])
def test_from_arrays_names_what_is_wrong(mutate, message):
    d = dict(State.create(SMALL).arrays())
    mutate(d)
    with pytest.raises(ValueError) as e:
        State.from_arrays(d)
    assert message in str(e.value)


def test_order_accessor():
    h = Harness()
    h.send(new_order("O1"), ack(1))
    assert h.state.order(1)["qty"] == 100
    with pytest.raises(KeyError):
        h.state.order(2)


def test_capacities_come_from_the_config_and_older_journals_keep_the_defaults(tmp_path):
    import json

    from sequencer.replay import LogicParams, read_params
    from tandem import config

    cfg = config.load(None, {"capacity": {"books": 8, "book_levels": 4, "positions": 32, "algos": 2}})
    cap = LogicParams.from_config(cfg).capacity()
    assert (cap.books, cap.book_levels, cap.positions, cap.algos) == (8, 4, 32, 2)
    assert State.create(Capacity(orders=16, clients=4, symbols=4, books=8, book_levels=4)).book_levels.shape == (8, 2, 4)
    # a journal pinned before these capacities existed reads as the defaults it was made with
    (tmp_path / "logic.json").write_text(json.dumps(
        {"orders": 16, "clients": 4, "symbols": 4, "digest_every": 0, "max_sources": 8}))
    assert read_params(tmp_path).capacity().books == Capacity().books
