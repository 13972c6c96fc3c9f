"""Benchmarks of the venue protocol codecs: ITCH 5.0 batch decode into MarketData
records (a Numba kernel over one buffer) and OUCH 4.2 encode/decode."""

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


BENCHMARKS = [itch_decode, ouch_codec]
