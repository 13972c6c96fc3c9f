"""The ITCH/MoldUDP64 feed adapter over real UDP and a real Aeron driver: packets lost on
the way are asked for on the retransmission port, and what reaches the inbound stream
is exactly the book messages of the feed, in order, numbered without a gap."""

import time

import numpy as np

from sequencer import records as R
from tandem import config as config_mod
from tandem import topology
from venues.itch_adapter import ItchFeedAdapter
from venues.protocols import itch50 as itch
from venues.protocols import ouch42 as ouch
from venues.sim.engine import VenueConfig, VenueEngine
from venues.sim.feed import MoldFeed

TS = 34_200_000_000_000
SYMBOLS = {"AAA": 1, "BBB": 2}
DISCARD = ("127.0.0.1", 9)   # the discard port: packets sent there are lost


def flow(engine, start, n):
    for i in range(start, start + n):
        engine.on_ouch("FIRM01", ouch.encode_enter_order(
            order_token=f"T{i}", side="B" if i % 2 else "S", shares=100, stock="AAA" if i % 3 else "BBB",
            price=1_000_000 + (i % 5 - 2) * 100, time_in_force=99_999, firm="FRMA", display="Y", capacity="A",
            intermarket_sweep="N", minimum_quantity=0, cross_type="N", customer_type=" "), TS + i)


def test_gap_is_retransmitted_and_records_are_exact(tmp_path):
    cfg = config_mod.load(None, config_mod.under(tmp_path))
    driver = topology.start_media_driver(cfg)
    aeron = topology.connect(cfg)
    feed = MoldFeed("XNAS", DISCARD)
    engine = VenueEngine(VenueConfig(symbols=list(SYMBOLS), seed=1))
    engine.start_of_day(TS)
    adapter = ItchFeedAdapter(cfg, 1, 103, SYMBOLS, ("127.0.0.1", 0), ("127.0.0.1", feed.retransmit_port),
                              aeron=aeron)
    try:
        sub = topology.inbound_subscriber(aeron, cfg)
        adapter.on_start()
        feed.target = ("127.0.0.1", adapter.port)
        flow(engine, 0, 30)
        feed.publish(engine.itch_out)                   # directory + first orders arrive
        sent = len(engine.itch_out)
        feed.target = DISCARD
        flow(engine, 30, 40)
        feed.publish(engine.itch_out[sent:])            # lost
        sent = len(engine.itch_out)
        feed.target = ("127.0.0.1", adapter.port)
        flow(engine, 70, 20)
        feed.publish(engine.itch_out[sent:])            # arrives past the gap
        expected = itch.decode_batch(engine.itch_out, itch.new_locate_table(), SYMBOLS, venue_id=1,
                                     source_id=103, first_seq=1).records
        expected["source_seq"] = np.arange(1, len(expected) + 1)
        got = []
        deadline = time.monotonic() + 20
        while sum(map(len, got)) < len(expected) and time.monotonic() < deadline:
            adapter.do_work()
            feed.poll()
            recs = sub.poll()
            if len(recs):
                got.append(recs.view(R.RAW_COMMAND).copy())
        got = np.concatenate(got).view(R.MarketData)
        assert adapter.requests_sent > 0
        assert len(got) == len(expected) > 60
        assert got.tobytes() == expected.tobytes()
    finally:
        adapter.on_close()
        feed.close()
        aeron.close()
        driver.close()
