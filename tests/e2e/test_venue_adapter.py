"""Sequencer + venue adapter + venue simulator processes on loopback.

A routed order goes out as OUCH over SoupBinTCP, is accepted, partially filled and
filled by another firm's orders at the venue; a direct order is accepted and
cancelled; the venue's ITCH feed builds the same best bid and offer in the business
logic's book as in the simulator; SIGKILL of the adapter mid-stream loses and
duplicates nothing."""

import re
import time

import numpy as np
import pytest

from sequencer import records as R
from tandem.venue_stack import core_bbo
from tests.e2e.venue_testkit import CENT, Rig
from venues.config import DEFAULT_VENUES, feed_source, order_source

pytestmark = pytest.mark.e2e

XNAS = dict(DEFAULT_VENUES[0], users={"OTHR01": "other"})
AAA = 1
PX = 100 * R.PRICE_SCALE


def test_routed_order_lifecycle_and_same_bbo(tmp_path):
    rig = Rig(tmp_path, {"AAA": AAA}, {"AAA": PX}, venues=[XNAS]).start()
    try:
        c = rig.client
        other = rig.other_firm()
        other.order("OS1", "S", 100, PX + 5 * CENT, tif=99999)
        other.order("OB1", "B", 100, PX - 5 * CENT, tif=99999)
        # the feed adapter puts both quotes in the core's book: wait until the router sees them
        deadline = time.monotonic() + 20
        while core_bbo(rig.core_state(), 1, AAA) != (PX - 5 * CENT, 100, PX + 5 * CENT, 100):
            assert time.monotonic() < deadline, "the venue's quotes never reached the core's book"
            time.sleep(0.2)

        routed = c.new_order(AAA, R.SIDE_BUY, 300, PX + 10 * CENT, strategy=R.STRATEGY_BEST_PRICE)
        c.wait_for(lambda: "1" in c.statuses(routed), what="a partial fill of the routed order")
        er = c.reports(routed)
        part = er[er["ord_status"] == ord("1")][0]
        assert part["last_qty"] == 100 and part["last_px"] == PX + 5 * CENT and part["cum_qty"] == 100

        other.order("OS2", "S", 200, PX + 10 * CENT)
        c.wait_for(lambda: "2" in c.statuses(routed), what="the routed order filled")
        done = c.reports(routed)[-1]
        assert (done["cum_qty"], done["leaves_qty"], done["last_px"]) == (300, 0, PX + 10 * CENT)

        direct = c.new_order(AAA, R.SIDE_BUY, 100, PX - 20 * CENT, venue_id=1)
        c.wait_for(lambda: "0" in c.statuses(direct), what="the direct order accepted")
        cx = c.cancel(direct, AAA, R.SIDE_BUY)  # reports of the cancel carry its ClOrdID
        c.wait_for(lambda: "4" in c.statuses(cx), what="the direct order cancelled")
        assert c.reports(cx)[-1]["leaves_qty"] == 0 and R.ascii_text(c.reports(cx)[-1]["orig_cl_ord_id"]) == direct

        other.close()
        finals = rig.stack.stop_sims()
        sim_bbo = tuple(finals["XNAS"]["bbo"]["AAA"])
        assert sim_bbo == (PX - 5 * CENT, 100, 0, 0)
        deadline = time.monotonic() + 10
        while core_bbo(rig.core_state(), 1, AAA) != sim_bbo:
            assert time.monotonic() < deadline, f"core book {core_bbo(rig.core_state(), 1, AAA)} != venue {sim_bbo}"
            time.sleep(0.2)
        # every record the adapters published was journaled once, numbered without a gap
        inputs = rig.journal_inputs()
        hdr = R.header(inputs)
        for source in (order_source(1), feed_source(1)):
            seqs = hdr["source_seq"][hdr["source_id"] == source]
            assert seqs.tolist() == list(range(1, len(seqs) + 1)) and len(seqs) > 0
    finally:
        rig.close()


def _strictly_increasing(x) -> bool:
    return bool((np.diff(x.astype(np.int64)) > 0).all())


@pytest.mark.parametrize("venue", [DEFAULT_VENUES[0], DEFAULT_VENUES[1]], ids=lambda v: v["protocol"])
def test_adapter_killed_mid_stream_loses_and_duplicates_nothing(tmp_path, venue):
    """Background liquidity trades against routed orders while the adapter (OUCH over
    SoupBinTCP, or FIX) is SIGKILLed and restarted; afterwards every execution the
    venue sent our session is journaled exactly once, and the feed's books in the core
    match the simulator's."""
    symbols = {f"S{i:03d}": i for i in range(1, 5)}
    prices = {s: (20 + 10 * i) * R.PRICE_SCALE for s, i in symbols.items()}
    name, vid = venue["name"], venue["venue_id"]
    rig = Rig(tmp_path, symbols, prices, venues=[venue], background_per_s=400.0).start()
    try:
        c = rig.client
        rng = np.random.default_rng(5)
        t_end = time.monotonic() + 6.0
        killed = restarted = False
        t_kill = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            sym = int(rng.integers(1, 5))
            px = prices[f"S{sym:03d}"] + int(rng.integers(-3, 4)) * CENT
            side = R.SIDE_BUY if rng.random() < 0.5 else R.SIDE_SELL_SHORT
            c.new_order(sym, side, int(rng.integers(1, 4)) * 100, px, venue_id=vid)
            c.poll()
            now = time.monotonic()
            if not killed and now > t_kill:
                rig.stack.kill_adapter(name)
                killed = True
            elif killed and not restarted and now > t_kill + 0.7:
                rig.stack.start_adapter(name)
                restarted = True
            time.sleep(0.02)
        finals = rig.stack.stop_sims()  # End of Session: nothing more will come
        final = finals[name]
        ours = final["sessions"]["TNDM01"]
        deadline = time.monotonic() + 20
        while True:
            inputs = rig.journal_inputs()
            hdr = R.header(inputs)
            fills = inputs[(hdr["source_id"] == order_source(vid)) & (hdr["type"] == R.VENUE_FILL)].view(R.VenueFill)
            if int(fills["qty"].sum()) >= ours["executed_shares"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert ours["executed_shares"] > 0, "no routed order traded: the test proves nothing"
        assert int(fills["qty"].sum()) == ours["executed_shares"] and len(fills) == ours["executions"]
        # one match can fill two of our orders (ours on both sides): unique per (match, order)
        assert len(np.unique(fills[["venue_exec_id", "order_id"]])) == len(fills)
        for source in (order_source(vid), feed_source(vid)):
            seqs = hdr["source_seq"][hdr["source_id"] == source]
            assert seqs.tolist() == list(range(1, len(seqs) + 1))
        # venue_seq sits at a different offset in each record type
        order_recs = inputs[hdr["source_id"] == order_source(vid)]
        vseq = np.array([int(order_recs[i:i + 1].view(R.COMMAND_DTYPES[int(t)])["venue_seq"][0])
                         for i, t in enumerate(R.header(order_recs)["type"])])
        assert _strictly_increasing(vseq)
        md = inputs[(hdr["source_id"] == feed_source(vid))].view(R.MarketData)
        assert len(md) > 100 and _strictly_increasing(md["venue_seq"])
        state = rig.core_state()
        for sym, sid in symbols.items():
            assert core_bbo(state, vid, sid) == tuple(final["bbo"][sym]), sym
        # the restarted adapter rebuilt its state from records the first one had journaled
        log = (tmp_path / "venues.log").read_text()
        recovered = [int(n) for n in re.findall(rf"recovered venue {vid} session: (\d+) records", log)]
        assert len(recovered) == 2 and recovered[0] == 0 and recovered[1] > 0
    finally:
        rig.close()


def test_cancel_on_disconnect_reaches_the_core(tmp_path):
    """At a venue with cancel-on-disconnect, killing the adapter cancels our resting
    order there; the restarted adapter gets the Canceled message by sequence-number
    recovery and the client sees its order cancelled."""
    xbat = dict(DEFAULT_VENUES[2])
    rig = Rig(tmp_path, {"AAA": AAA}, {"AAA": PX}, venues=[xbat]).start()
    try:
        c = rig.client
        cl = c.new_order(AAA, R.SIDE_BUY, 100, PX - 50 * CENT, venue_id=3)
        c.wait_for(lambda: "0" in c.statuses(cl), what="the order accepted at XBAT")
        rig.stack.kill_adapter("XBAT")
        time.sleep(0.5)
        rig.stack.start_adapter("XBAT")
        c.wait_for(lambda: "4" in c.statuses(cl), what="the order cancelled by the venue on disconnect")
        assert c.reports(cl)[-1]["leaves_qty"] == 0
    finally:
        rig.close()


def test_three_venues_with_an_adapter_restart(tmp_path):
    """The demo's venue phase: two OUCH/ITCH venues and a FIX venue with different fees
    and latency, routed and direct flow, one adapter SIGKILLed; every check passes."""
    from tandem import venue_demo

    result = venue_demo.run(tmp_path / "venues", seconds=4.0, n_symbols=4)
    assert result["checks"] and all(result["checks"].values()), result["checks"]
    assert all(v["fills"] > 0 for v in result["venues"]), result["venues"]
