"""Benchmarks of the venue side: ITCH 5.0 batch decode into MarketData records (a Numba
kernel over one buffer), OUCH 4.2 encode/decode, the simulator's matching rate through
its OUCH interface, and the adapter's per-order translation (request → OUCH → answer
→ record)."""

from __future__ import annotations

import time

from perf.core import figure
from venues.protocols import itch50, ouch42


def itch_decode(n):
    """Framed ITCH messages of a mixed flow to Tandem MarketData records, in one call."""
    return [figure("itch: batch decode to MarketData", itch50.bench_decode(min(n, 1_000_000)), "msgs/s",
                   1_000_000)]


def ouch_codec(n):
    """OUCH 4.2 Executed messages: encode one by one, decode as a batch (decode_many)."""
    n = min(n, 200_000)
    fields = dict(timestamp=34_200_000_000_000, order_token="T0000000000001", executed_shares=100,
                  execution_price=1_234_500, liquidity_flag="A", match_number=1)
    t0 = time.perf_counter()
    payloads = [ouch42.encode_executed(**fields) for _ in range(n)]
    enc = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    groups = ouch42.decode_many(payloads)
    dec = n / (time.perf_counter() - t0)
    assert len(groups["E"][1]) == n
    return [figure("ouch: encode Executed (per message, Python)", enc, "msgs/s", None),
            figure("ouch: decode_many Executed", dec, "msgs/s", 1_000_000)]


def sim_matching(n):
    """Enter Orders into one simulated venue, every other one crossing the book: OUCH
    decode, the core's matching engine, OUCH answers and ITCH out, per order."""
    from sequencer.records import PRICE_SCALE
    from venues.sim.engine import VenueConfig, VenueEngine

    n = min(n, 100_000)
    eng = VenueEngine(VenueConfig(symbols=["AAA"], initial_prices={"AAA": 100 * PRICE_SCALE},
                                  max_orders=1 << 17))
    ts = 34_200_000_000_000
    eng.start_of_day(ts)
    orders = []
    for i in range(n):
        buy = i % 2 == 0
        orders.append(ouch42.encode_enter_order(
            order_token=f"T{i:013d}", side="B" if buy else "S", shares=100, stock="AAA",
            price=1_000_000 + (i % 7) * 100 * (1 if buy else -1), time_in_force=99999, firm="TNDM",
            display="Y", capacity="A", intermarket_sweep="N", minimum_quantity=0, cross_type="N",
            customer_type=" "))
    t0 = time.perf_counter()
    for i, m in enumerate(orders):
        eng.on_ouch("TNDM01", m, ts + i)
    rate = n / (time.perf_counter() - t0)
    return [figure("venue sim: orders matched (OUCH in, OUCH + ITCH out)", rate, "orders/s", None)]


def adapter_translation(n):
    """The adapter's work per order: a VenueOrder event to an OUCH Enter Order, and the
    venue's Accepted back to a VenueAck record (Python objects per order: venue order
    flow is far below the core's rate)."""
    from sequencer import records as R
    from venues.ouch_adapter import decode_answer, encode_request
    from venues.session_state import SessionState

    n = min(n, 100_000)
    ev = R.new_events(n).view(R.VenueOrder)
    ev["type"], ev["version"], ev["order_id"] = R.VENUE_ORDER, 1, range(1, n + 1)
    ev["action"], ev["side"], ev["qty"], ev["price"] = R.VENUE_ACTION_NEW, R.SIDE_BUY, 100, 100 * R.PRICE_SCALE
    ev["ord_type"], ev["venue_id"] = R.ORD_LIMIT, 1
    ev["symbol"][:, :3] = list(b"AAA")
    acks = [ouch42.encode_accepted(
        timestamp=1, order_token=f"{i:010d}0000", side="B", shares=100, stock="AAA", price=1_000_000,
        time_in_force=99999, firm="TNDM", display="Y", order_reference_number=i, capacity="A",
        intermarket_sweep="N", minimum_quantity=0, cross_type="N", order_state="L", bbo_weight_indicator=" ")
        for i in range(1, n + 1)]
    state = SessionState(1, 102)
    t0 = time.perf_counter()
    for i in range(n):
        encode_request(state.request(ev[i]), "TNDM")
    out = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i, m in enumerate(acks):
        decode_answer(state, i + 1, m)
    back = n / (time.perf_counter() - t0)
    return [figure("adapter: VenueOrder -> OUCH Enter Order", out, "orders/s", None),
            figure("adapter: OUCH Accepted -> VenueAck record", back, "msgs/s", None)]


BENCHMARKS = [itch_decode, ouch_codec, sim_matching, adapter_translation]
