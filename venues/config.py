"""The venue set: one TOML file per venue, read by both sides of the wire.

``tandem venue-sim`` reads the ``[venue]`` table (the simulated exchange) and
``tandem venue-adapter`` reads ``[venue]`` for where the venue is and ``[adapter]``
for the core's side of it:

    [adapter]
    source_id = 102          # order-entry records (VenueAck, VenueFill, ...)
    feed_source_id = 103     # MarketData records of this venue's feed
    username = "TNDM01"      # the venue login (SoupBinTCP: 6 characters)
    password = "secret"
    firm = "TNDM"            # OUCH firm
    [adapter.symbols]        # venue stock name -> core symbol id
    SYM0001 = 1

``DEFAULT_VENUES`` is the default set, three venues so the router has real choices:
an OUCH/ITCH venue with a maker rebate, a FIX venue with lower fees and 200 µs more
latency, and an OUCH/ITCH venue with the lowest take fee, 1 ms of latency and
cancel-on-disconnect. Their fees are the ones the core's reference data gives venues
1..3 (``sequencer.workload.VENUE_FEES``), so the router ranks what the venues charge.
"""

from __future__ import annotations

import socket
import tomllib
from decimal import Decimal
from pathlib import Path

from sequencer import records as R
from sequencer.workload import VENUE_FEES

DEFAULT_VENUES = [
    {"name": "XNAS", "venue_id": 1, "protocol": "ouch", "latency_us": 0, "cancel_on_disconnect": False},
    {"name": "XFIX", "venue_id": 2, "protocol": "fix", "latency_us": 200, "cancel_on_disconnect": False},
    {"name": "XBAT", "venue_id": 3, "protocol": "ouch", "latency_us": 1000, "cancel_on_disconnect": True},
]


def order_source(venue_id: int) -> int:
    return 100 + 2 * venue_id


def feed_source(venue_id: int) -> int:
    return 101 + 2 * venue_id


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dollars(fixed: int) -> str:
    return str(Decimal(fixed) / R.PRICE_SCALE)


def venue_toml(v: dict, symbols: dict[str, int], prices: dict[str, int], seed: int = 1,
               background_per_s: float = 200.0) -> str:
    """The TOML of one venue (both tables), with free loopback ports filled in."""
    take, make = VENUE_FEES[(v["venue_id"] - 1) % len(VENUE_FEES)]
    unit = R.PRICE_SCALE // 10_000
    names = sorted(symbols, key=symbols.get)
    lines = [
        "[venue]",
        f'name = "{v["name"]}"', f'venue_id = {v["venue_id"]}', f'protocol = "{v["protocol"]}"',
        "symbols = [" + ", ".join(f'"{s}"' for s in names) + "]",
        "prices = [" + ", ".join(_dollars(prices[s]) for s in names) + "]",
        'tick = "0.01"', f'take_fee = "{_dollars(take * unit)}"', f'make_fee = "{_dollars(make * unit)}"',
        f"seed = {seed + v['venue_id']}", 'host = "127.0.0.1"', f"port = {v.get('port') or free_port()}",
        f"background_per_s = {background_per_s}", f"latency_us = {v['latency_us']}",
        f"cancel_on_disconnect = {'true' if v['cancel_on_disconnect'] else 'false'}",
        "[venue.users]", 'TNDM01 = "secret"', *(f'{u} = "{pw}"' for u, pw in v.get("users", {}).items()),
    ]
    if v["protocol"] == "fix":
        lines += ["[venue.fix]", f'sender_comp_id = "{v["name"]}"', "[venue.fix.sessions]", 'TNDM01 = "secret"']
    lines += [
        "[venue.feed]", 'host = "127.0.0.1"', f"port = {free_port(socket.SOCK_DGRAM)}",
        f"retransmit_port = {free_port(socket.SOCK_DGRAM)}",
        "[adapter]", f"source_id = {order_source(v['venue_id'])}", f"feed_source_id = {feed_source(v['venue_id'])}",
        'username = "TNDM01"', 'password = "secret"', 'firm = "TNDM"',
        "[adapter.symbols]", *(f"{s} = {symbols[s]}" for s in names),
    ]
    return "\n".join(lines) + "\n"


def write_default_venues(directory, symbols: dict[str, int], prices: dict[str, int], seed: int = 1,
                         background_per_s: float = 200.0, venues=DEFAULT_VENUES) -> list[Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for v in venues:
        p = d / f"{v['name'].lower()}.toml"
        p.write_text(venue_toml(v, symbols, prices, seed, background_per_s))
        paths.append(p)
    return paths


def load_adapter(path) -> dict:
    """What ``tandem venue-adapter`` needs from a venue file; errors name the key."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    v, a = doc.get("venue"), doc.get("adapter")
    if not isinstance(v, dict) or not isinstance(a, dict):
        raise ValueError(f"{path}: needs a [venue] and an [adapter] table")
    try:
        feed = v.get("feed")
        out = {
            "name": str(v["name"]), "venue_id": int(v["venue_id"]), "protocol": str(v.get("protocol", "ouch")),
            "host": str(v.get("host", "127.0.0.1")), "port": int(v["port"]),
            "take_fee": int(Decimal(str(v.get("take_fee", "0"))) * R.PRICE_SCALE),
            "make_fee": int(Decimal(str(v.get("make_fee", "0"))) * R.PRICE_SCALE),
            "source_id": int(a["source_id"]), "feed_source_id": int(a.get("feed_source_id", 0)),
            "username": str(a["username"]), "password": str(a["password"]), "firm": str(a.get("firm", "TNDM")),
            "sender_comp_id": str(a.get("sender_comp_id", a["username"])),
            "target_comp_id": str(v.get("fix", {}).get("sender_comp_id", v["name"])),
            "symbols": {str(k): int(i) for k, i in a.get("symbols", {}).items()},
            "feed": None if feed is None else {
                "listen": (str(feed.get("host", "127.0.0.1")), int(feed["port"])),
                "retransmit": (str(v.get("host", "127.0.0.1")), int(feed["retransmit_port"]))},
        }
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        raise ValueError(f"{path}: {e!r}") from None
    if out["protocol"] not in ("ouch", "fix"):
        raise ValueError(f"{path}: [venue] protocol {out['protocol']!r} is not ouch or fix")
    if out["feed"] is not None and out["feed"]["retransmit"][1] == 0:
        raise ValueError(f"{path}: [venue.feed] retransmit_port must be a fixed port for the adapter")
    return out
