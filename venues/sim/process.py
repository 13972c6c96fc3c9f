"""``tandem venue-sim``: one simulated venue as a process.

The simulator engine (books on the core's matching engine, background liquidity)
behind a SoupBinTCP server carrying OUCH 4.2, on 127.0.0.1 unless configured
otherwise. Configured by TOML:

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
    [venue.users]                 # SoupBinTCP logins: user = password
    TANDEM = "secret"
    [venue.feed]                  # optional: ITCH 5.0 over MoldUDP64 (feed.py)
    host = "127.0.0.1"            # where the packets go
    port = 31001
    retransmit_port = 0           # 0: any free port (printed)

On start the process prints one JSON line ``{"venue": ..., "port": ..., "retransmit_port":
...}`` on stdout; on SIGTERM or SIGINT it sends End of Session to every client and on the
feed, and exits 0. The FIX venue is not part of it yet (docs/venues.md).
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
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        raise ValueError(f"{path}: [venue] {e}") from None
    if not users:
        raise ValueError(f"{path}: [venue.users] names no login")
    server = {"host": str(v.get("host", "127.0.0.1")), "port": int(v.get("port", 0)), "users": users,
              "background_per_s": float(v.get("background_per_s", 200)), "feed": None}
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

    def handle(user: str, payload: bytes, now_ns: int):
        try:
            out = engine.on_ouch(user, payload, _now_ns())
        except ouch42.OuchError as e:  # OUCH has no reject for garbage: the session is dropped
            raise soupbintcp.SoupError(f"bad OUCH message from {user}: {e}") from None
        publish()
        return out

    engine.start_of_day(_now_ns())
    publish()
    server = SoupServer(handle, settings["users"], session=cfg.name[:10], host=settings["host"],
                        port=settings["port"])
    port = await server.start()
    announce(json.dumps({"venue": cfg.name, "venue_id": cfg.venue_id, "host": settings["host"], "port": port,
                         "retransmit_port": feed.retransmit_port if feed else None}))
    feed_task = asyncio.create_task(run_feed(feed, stop)) if feed else None
    period = 1.0 / settings["background_per_s"] if settings["background_per_s"] > 0 else None
    try:
        while not stop.is_set():
            if period is None:
                await asyncio.wait_for(stop.wait(), None)
                break
            server.deliver(engine.background_step(_now_ns(), 1))
            publish()
            try:
                await asyncio.wait_for(stop.wait(), period)
            except asyncio.TimeoutError:
                pass
    finally:
        stop.set()
        await server.close()
        if feed_task is not None:
            await feed_task
            feed.close()


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
