"""Sequencer + venue adapter + venue simulator processes on loopback.

A routed order goes out as OUCH over SoupBinTCP, is accepted, partially filled and
filled by another firm's orders at the venue; a direct order is accepted and
cancelled; the venue's ITCH feed builds the same best bid and offer in the business
logic's book as in the simulator; SIGKILL of the adapter mid-stream loses and
duplicates nothing."""

import time

import pytest

from sequencer import records as R
from tests.e2e.venue_testkit import CENT, Rig, core_bbo
from venues.config import DEFAULT_VENUES, feed_source, order_source
from venues.protocols import ouch42 as ouch
from venues.soup_client import SoupClient

pytestmark = pytest.mark.e2e

XNAS = dict(DEFAULT_VENUES[0], users={"OTHR01": "other"})
AAA = 1
PX = 100 * R.PRICE_SCALE


def other_order(other: SoupClient, token, side, qty, price, tif=99999):
    other.send([ouch.encode_enter_order(
        order_token=token, side=side, shares=qty, stock="AAA", price=ouch.price_to_ouch(price),
        time_in_force=tif, firm="OTHR", display="Y", capacity="A", intermarket_sweep="N",
        minimum_quantity=0, cross_type="N", customer_type=" ")])


def test_routed_order_lifecycle_and_same_bbo(tmp_path):
    rig = Rig(tmp_path, {"AAA": AAA}, {"AAA": PX}, venues=[XNAS]).start()
    try:
        c = rig.client
        port = int(rig.stack.paths["XNAS"].read_text().split("\nport = ")[1].split()[0])
        other = SoupClient("127.0.0.1", port, "OTHR01", "other")
        other.connect(1)
        other_order(other, "OS1", "S", 100, PX + 5 * CENT)
        other_order(other, "OB1", "B", 100, PX - 5 * CENT)
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

        other_order(other, "OS2", "S", 200, PX + 10 * CENT, tif=0)
        c.wait_for(lambda: "2" in c.statuses(routed), what="the routed order filled")
        done = c.reports(routed)[-1]
        assert (done["cum_qty"], done["leaves_qty"], done["last_px"]) == (300, 0, PX + 10 * CENT)

        direct = c.new_order(AAA, R.SIDE_BUY, 100, PX - 20 * CENT, venue_id=1)
        c.wait_for(lambda: "0" in c.statuses(direct), what="the direct order accepted")
        cx = c.cancel(direct, AAA, R.SIDE_BUY)  # reports of the cancel carry its ClOrdID
        c.wait_for(lambda: "4" in c.statuses(cx), what="the direct order cancelled")
        assert c.reports(cx)[-1]["leaves_qty"] == 0 and R.ascii_text(c.reports(cx)[-1]["orig_cl_ord_id"]) == direct

        other.logout()
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
