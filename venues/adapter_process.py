"""``tandem venue-adapter``: the core's side of one venue, as one process.

Two agents on one thread: the order-entry session (``VenueAdapterAgent`` over OUCH or
FIX, as the venue file's ``protocol`` says) and, when the venue has a feed, the
ITCH/MoldUDP64 feed adapter. Both restart from the journal (see their modules). On
start the process prints one JSON line: ``{"adapter": name, "venue_id": ..., "protocol":
..., "source_id": ..., "feed_source_id": ...}``; SIGTERM logs out and exits 0.
"""

from __future__ import annotations

import json
from pathlib import Path

from tandem import topology
from tandem.agent import AgentRunner
from venues.adapter_agent import VenueAdapterAgent
from venues.itch_adapter import ItchFeedAdapter
from venues.session_state import SessionState


def make_session(cfg, v: dict, state: SessionState):
    if v["protocol"] == "fix":
        from venues.fix_adapter import FixVenueSession
        # the FIX session's own store (sequence numbers, sent messages) beside the run files
        return FixVenueSession(state, v["host"], v["port"], v["sender_comp_id"], v["target_comp_id"],
                               v["password"], store_dir=Path(cfg["run_dir"]) / f"fix-{v['name']}")
    from venues.ouch_adapter import OuchSession
    return OuchSession(state, v["host"], v["port"], v["username"], v["password"], firm=v["firm"])


def build(cfg, v: dict, aeron) -> list:
    """The agents of one venue adapter process."""
    state = SessionState(v["venue_id"], v["source_id"], take_fee=v["take_fee"], make_fee=v["make_fee"])
    agents = [VenueAdapterAgent(cfg, make_session(cfg, v, state), aeron=aeron)]
    if v["feed"] is not None and v["feed_source_id"]:
        agents.append(ItchFeedAdapter(cfg, v["venue_id"], v["feed_source_id"], v["symbols"],
                                      v["feed"]["listen"], v["feed"]["retransmit"], aeron=aeron))
    return agents


def run(cfg, v: dict, announce=print) -> None:
    aeron = topology.connect(cfg)
    try:
        agents = build(cfg, v, aeron)
        announce(json.dumps({"adapter": v["name"], "venue_id": v["venue_id"], "protocol": v["protocol"],
                             "source_id": v["source_id"], "feed_source_id": v["feed_source_id"]}))
        AgentRunner(agents, idle=cfg["sequencer"]["idle"]).run()
    finally:
        aeron.close()
