"""``tandem venue-sim``: one simulated venue as a process.

The simulator engine (books on the core's matching engine, background liquidity)
behind either a SoupBinTCP server carrying OUCH 4.2 or a FIX 4.2 acceptor
(``fix_venue.py``), on 127.0.0.1 unless configured otherwise. Configured by TOML:

    [venue]
    name = "SIM1"
    venue_id = 1
    symbols = ["AAA", "BBB"]
    prices = [100.0, 25.5]        # starting mids, dollars
    tick = 0.01
    take_fee = 0.0003             # per share, dollars; make_fee negative = a rebate
    make_fee = -0.0002
    seed = 1
    host = "127.0.0.1"
    port = 0                      # 0: any free port (the process prints the one it took)
    background_per_s = 200        # background agent steps per second
    protocol = "ouch"             # "ouch" (SoupBinTCP + OUCH 4.2, the default) or "fix"
    latency_us = 0                # every message to a client leaves this much later
    cancel_on_disconnect = false  # cancel a session's orders when its connection ends
    [venue.users]                 # SoupBinTCP logins: user = password (protocol "ouch")
    TANDEM = "secret"
    [venue.fix]                   # protocol "fix"
    sender_comp_id = "SIM1"       # the venue's CompID (default: the venue name)
    begin_string = "FIX.4.2"
    [venue.fix.sessions]          # counterparty SenderCompID = password ("" checks none);
    TANDEM = "secret"             # the engine's session user is the CompID
    [venue.feed]                  # optional: ITCH 5.0 over MoldUDP64 (feed.py)
    host = "127.0.0.1"            # where the packets go
    port = 31001
    retransmit_port = 0           # 0: any free port (printed)

On start the process prints one JSON line ``{"venue": ..., "port": ..., "retransmit_port":
..., "protocol": ...}`` on stdout; on SIGTERM or SIGINT it sends End of Session (OUCH) or a
Logout (FIX) to every client and End of Session on the feed, prints a last JSON line
``{"final": {"bbo": {symbol: [bid, bid qty, ask, ask qty]}, "sessions": {user:
{"executions", "executed_shares", "fees"}}, "itch_messages": n}}`` (prices and fees with 8
implied decimals) and exits 0.

``latency_us`` delays what goes to clients, in order, not what they send: the books
change at once, and the background agent, which stands for traders at the venue, acts
without delay. OUCH: every OUCH message (SoupBinTCP's own login and heartbeat packets are
not delayed); FIX: every byte of the connection, session messages included.

``cancel_on_disconnect`` applies to OUCH and FIX alike (``VenueEngine.cancel_session``,
OUCH reason 'Z'): the Canceled messages (OUCH) or ExecutionReports (FIX) wait in the
session's store and come with the next login's recovery (SoupBinTCP requested sequence
number, FIX resend request). Not on the venue's own shutdown.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import tomllib
from decimal import Decimal

from sequencer import records as R
from venues.protocols import ouch42, soupbintcp
from venues.sim.engine import VenueConfig, VenueEngine
from venues.sim.feed import MoldFeed, run_feed
from venues.sim.fix_venue import Delay, FixVenue, FixVenueConfig, FixVenueServer
from venues.sim.soup_server import SoupServer

DAY_NS = 86_400 * 10**9


def _money(x) -> int:
    return int(Decimal(str(x)) * R.PRICE_SCALE)


def load(path) -> tuple[VenueConfig, dict]:
    """(engine config, server settings) from a TOML file; errors name the key."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    v = doc.get("venue")
    if not isinstance(v, dict):
        raise ValueError(f"{path}: no [venue] table")
    try:
        symbols = list(v["symbols"])
        cfg = VenueConfig(name=str(v.get("name", "SIM")), venue_id=int(v.get("venue_id", 1)), symbols=symbols,
                          tick=_money(v.get("tick", "0.01")), take_fee=_money(v.get("take_fee", "0.0003")),
                          make_fee=_money(v.get("make_fee", "-0.0002")), seed=int(v.get("seed", 0)),
                          initial_prices=[_money(p) for p in v.get("prices", [100] * len(symbols))])
        users = {str(u): str(p) for u, p in v.get("users", {}).items()}
        protocol = str(v.get("protocol", "ouch"))
        latency_us = int(v.get("latency_us", 0))
        cod = v.get("cancel_on_disconnect", False)
        fix = v.get("fix", {})
        fix_sessions = {str(c): str(p) for c, p in fix.get("sessions", {}).items()}
        fix_cfg = dict(sender_comp_id=str(fix.get("sender_comp_id", cfg.name)),
                       begin_string=str(fix.get("begin_string", "FIX.4.2")))
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as e:
        raise ValueError(f"{path}: [venue] {e}") from None
    if protocol not in ("ouch", "fix"):
        raise ValueError(f"{path}: [venue] protocol {protocol!r} is not \"ouch\" or \"fix\"")
    if latency_us < 0 or not isinstance(cod, bool):
        raise ValueError(f"{path}: [venue] latency_us must be >= 0 and cancel_on_disconnect true or false")
    if protocol == "ouch" and not users:
        raise ValueError(f"{path}: [venue.users] names no login")
    if protocol == "fix" and not fix_sessions:
        raise ValueError(f"{path}: [venue.fix.sessions] names no session")
    if fix_cfg["begin_string"] != "FIX.4.2":
        raise ValueError(f"{path}: [venue.fix] begin_string must be FIX.4.2 (the venue speaks FIX 4.2)")
    server = {"host": str(v.get("host", "127.0.0.1")), "port": int(v.get("port", 0)), "users": users,
              "background_per_s": float(v.get("background_per_s", 200)), "feed": None,
              "protocol": protocol, "latency_us": latency_us, "cancel_on_disconnect": cod,
              "fix": dict(fix_cfg, sessions=fix_sessions)}
    feed = v.get("feed")
    if feed is not None:
        try:
            server["feed"] = {"target": (str(feed.get("host", "127.0.0.1")), int(feed["port"])),
                              "retransmit": (server["host"], int(feed.get("retransmit_port", 0)))}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: [venue.feed] {e}") from None
    return cfg, server


def _now_ns() -> int:
    """OUCH and ITCH timestamps: nanoseconds since midnight."""
    return time.time_ns() % DAY_NS


async def serve(cfg: VenueConfig, settings: dict, stop: asyncio.Event, announce=print) -> None:
    engine = VenueEngine(cfg)
    feed = None
    if settings["feed"] is not None:
        feed = MoldFeed(cfg.name[:10], settings["feed"]["target"], settings["feed"]["retransmit"])
    published = 0

    def publish():  # the engine's new ITCH messages onto the feed
        nonlocal published
        if feed is not None and len(engine.itch_out) > published:
            feed.publish(engine.itch_out[published:])
        published = len(engine.itch_out)

    delay = Delay(settings["latency_us"] / 1e6)
    cod = settings["cancel_on_disconnect"]
    if settings["protocol"] == "fix":
        f = settings["fix"]
        venue = FixVenue(engine, FixVenueConfig(
            sender_comp_id=f["sender_comp_id"], sessions=f["sessions"], begin_string=f["begin_string"],
            host=settings["host"], port=settings["port"], cancel_on_disconnect=cod,
            latency_us=settings["latency_us"]), now_ns=_now_ns, after_engine=publish)
        server = FixVenueServer(venue)
        deliver = server.deliver   # FIX connections carry their own delay
    else:
        def handle(user: str, payload: bytes, now_ns: int):
            try:
                out = engine.on_ouch(user, payload, _now_ns())
            except ouch42.OuchError as e:  # OUCH has no reject for garbage: the session is dropped
                raise soupbintcp.SoupError(f"bad OUCH message from {user}: {e}") from None
            publish()
            if delay.delay_s > 0:
                delay.call(server.deliver, out)
                return {}
            return out

        def on_disconnect(user: str) -> None:
            out = engine.cancel_session(user, _now_ns())
            publish()
            delay.call(server.deliver, out)

        server = SoupServer(handle, settings["users"], session=cfg.name[:10], host=settings["host"],
                            port=settings["port"], on_disconnect=on_disconnect if cod else None)

        def deliver(out):
            delay.call(server.deliver, out)

    engine.start_of_day(_now_ns())
    publish()
    if settings["protocol"] != "fix":  # every OUCH session's day opens with System Event 'S'
        server.deliver(engine.system_event("S", sorted(settings["users"]), _now_ns()))
    port = await server.start()
    announce(json.dumps({"venue": cfg.name, "venue_id": cfg.venue_id, "host": settings["host"], "port": port,
                         "retransmit_port": feed.retransmit_port if feed else None,
                         "protocol": settings["protocol"]}))
    feed_task = asyncio.create_task(run_feed(feed, stop)) if feed else None
    period = 1.0 / settings["background_per_s"] if settings["background_per_s"] > 0 else None
    try:
        while not stop.is_set():
            if period is None:
                await asyncio.wait_for(stop.wait(), None)
                break
            out = engine.background_step(_now_ns(), 1)
            publish()
            deliver(out)
            try:
                await asyncio.wait_for(stop.wait(), period)
            except asyncio.TimeoutError:
                pass
    finally:
        stop.set()
        if settings["protocol"] != "fix":  # and closes with 'E' before End of Session
            server.deliver(engine.system_event("E", sorted(settings["users"]), _now_ns()))
        await server.close()
        if feed_task is not None:
            await feed_task
            feed.close()
        # The day's end state, for the operator (and the checks of the demo and tests).
        announce(json.dumps({"final": {
            "bbo": {s: list(engine.bbo(s)) for s in engine.symbols},
            "sessions": {u: {"executions": n, "executed_shares": q, "fees": engine.fees.get(u, 0)}
                         for u, (n, q) in sorted(engine.executed.items())},
            "itch_messages": len(engine.itch_out)}}))


def main(config_path) -> int:
    try:
        cfg, settings = load(config_path)
    except (OSError, ValueError) as e:
        print(f"venue-sim: {e}", file=sys.stderr)
        return 2

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(cfg, settings, stop, announce=lambda line: print(line, flush=True))

    asyncio.run(run())
    return 0
