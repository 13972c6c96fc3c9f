"""TOML configuration with embedded defaults.

Every key has a default, so no file is needed for the demo or tests. A file only
overrides what it names; an unknown section or key is an error that names it, so
a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

DEFAULTS = {
    "run_dir": "var/run",           # counters and status files of the processes
    "aeron": {
        "dir": "var/aeron",         # media driver directory (one driver per host)
        "inbound_channel": "aeron:ipc?term-length=16m",
        "inbound_stream": 1001,
        "outbound_channel": "aeron:ipc?term-length=16m",
        "outbound_stream": 1002,
        "max_message_bytes": 65536,  # batches are cut into messages of at most this
    },
    "journal": {
        "dir": "var/journal",        # input journal; the output journal is dir + "-out"
        "segment_mb": 64,
        "fsync": "batch",            # none | batch | always
        "index_every": 1024,
        "seal_key_file": "",         # optional HMAC key for seals (held off this host)
    },
    "sequencer": {
        "batch_max": 4096,           # records journaled and processed as one batch
        "digest_every": 100_000,     # StateDigest every N inputs
        "snapshot_every": 500_000,   # snapshot every N inputs (0: only on demand/close)
        "idle": "backoff",
        "outbound_backpressure_ms": 1000,  # then a batch's outputs are left to the output journal
        "max_sources": 65536,        # source ids for de-duplication by (source, source seq)
        "timer_ms": 1000,            # a journaled Timer tick this often (algo slices, margin sweep; 0: none)
        "operator_token_file": "",   # operator credential: Admin commands must carry its HMAC ("": not checked)
    },
    "node": {
        "id": 1,                     # this node's id (1..2^32-1), in epochs and replication messages
    },
    "replication": {
        "enabled": False,            # off: a lone sequencer (development, tests)
        "role": "primary",           # start-up role: primary | standby
        "listen_channel": "aeron:ipc?term-length=16m",  # where this node receives
        "peer_channel": "aeron:ipc?term-length=16m",    # where the other node receives
        "data_stream": 1003,         # primary -> standby: records, heartbeats, digests
        "ack_stream": 1004,          # standby -> primary: hello, acks, divergence
        "control_stream": 1005,      # operator tool -> node (on listen_channel): promote
        "policy": "require_ack",     # standby gone: require_ack (refuse new orders) | degrade
        "after_promotion": "degrade",  # policy of a promoted node until a standby catches up
        "ack_timeout_ms": 1000,      # a batch's ack is awaited this long, then replication is down
                                     # (above a standby's longest pause, e.g. a snapshot copy)
        "heartbeat_ms": 50,          # heartbeats and keepalive acks
        "promote_after_ms": 1500,    # standby promotes itself after this long without the primary (0: never);
                                     # above the primary's longest unannounced pause
        "resend_margin": 1000,       # on promotion, outputs are re-sent from this many inputs before
                                     # the old primary's last reported position
        "operator_token_file": "",   # operator credential for `tandem failover promote`
    },
    "capacity": {
        "orders": 1 << 20,           # client orders and the router's child orders
        "clients": 1024,
        "symbols": 4096,
        "positions": 1 << 16,        # client x symbol position rows
        "algos": 1024,               # TWAP/VWAP parents of the day
        "books": 1024,               # market-data books, one per (venue, symbol) on the feeds
        "book_levels": 64,           # price levels kept per book side
        "book_orders": 1 << 16,      # resting orders over all market-data books
    },
    "log": {"level": "INFO"},
}


class ConfigError(ValueError):
    pass


def _merge(base: dict, override: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"unknown config key {where}{key}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} must be a table")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            if type(value) is not type(base[key]):
                raise ConfigError(
                    f"{where}{key} must be {type(base[key]).__name__}, got {type(value).__name__}")
            out[key] = value
    return out


def load(path: str | Path | None = None, *overrides: dict) -> dict:
    """Defaults, then the TOML file, then each of ``overrides`` (nested dicts)."""
    cfg = copy.deepcopy(DEFAULTS)
    if path:
        try:
            with open(path, "rb") as f:
                cfg = _merge(cfg, tomllib.load(f), "")
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from None
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found") from None
    for o in overrides:
        cfg = _merge(cfg, o, "")
    return cfg


def under(root: str | Path) -> dict:
    """Overrides placing every directory of a config below ``root`` (demo, tests)."""
    root = Path(root)
    return {
        "run_dir": str(root / "run"),
        "aeron": {"dir": str(root / "aeron")},
        "journal": {"dir": str(root / "journal")},
    }


def operator_key(cfg) -> bytes | None:
    """The operator credential of ``sequencer.operator_token_file`` (None if not set)."""
    path = cfg["sequencer"]["operator_token_file"]
    return Path(path).read_bytes().strip() if path else None
