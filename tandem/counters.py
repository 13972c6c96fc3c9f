"""Counters in shared memory: written by a hot loop without locks, read from outside.

A counters file is a numpy memmap of int64 slots; slot ids are fixed per role so a
reader (``tandem stat``, the metrics exporter, the demo) needs no handshake. Single
writer per file, aligned 8-byte stores: readers see each value whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEQUENCER = (
    "inputs_received",       # records polled from the inbound stream
    "inputs_journaled",      # records sequenced and journaled
    "duplicates_dropped",    # (source id, source seq) already journaled
    "gap_dropped",           # past a gap in a source's numbering: awaits its re-send
    "invalid_dropped",       # unknown type/version, never journaled
    "malformed_messages",    # messages that were not whole records
    "events_out",            # events journaled and published
    "outbound_unsent",       # events not published (no live reader; in the output journal)
    "batches",
    "last_seq",
    "last_digest",
    "snapshots",
    "busy_ns",               # time spent on sequenced work (journal + logic + publish)
    "processed_seq",         # business logic position
    "role",                  # 0 stopped cleanly, 1 primary, 2 standby, 3 fenced (a newer epoch exists)
    "epoch",
    "replication_down",      # 1 while the journal says no standby holds it
    "replication_live",      # primary: a standby is caught up and acking
    "standby_node",
    "standby_acked",         # primary: the standby's durable seq
    "catchup_records",       # primary: records sent from the journal to a catching-up standby
    "following_epoch",       # standby: epoch of the primary it follows (0: not joined)
    "diverged_at",           # standby: first seq whose digest differs from the primary's
    "digests_compared",
    "promoted_at_ns",        # wall clock of this node's promotion
    "outputs_resent",        # outputs re-published on promotion
    "fenced_by",             # the newer epoch that stopped this node
    "truncated_records",     # times a rejoin cut this node's journal back
)

# A gateway process (``tandem gateway fix`` / ``binary``): run_dir/gateway-<kind>-<source id>.counters,
# named after the first source id of its sessions (unique among producers).
GATEWAY = (
    "sessions_logged_on",    # sessions logged on now
    "logons",
    "disconnects",           # ends of logged-on connections, however they ended
    "orders_in",             # new / cancel / replace messages received in sequence
    "orders_batched",        # of those, taken whole by a batch path (the binary gateway's only path)
    "refused",               # order / application messages refused at the gateway, never journaled
    "commands_published",    # commands handed to the sequencer (orders and session events)
    "unconfirmed",           # commands not yet seen journaled
    "reports_out",           # reports stored for clients (ExecutionReports, binary responses)
    "garbled_dropped",       # FIX messages dropped as garbled
    "core_incarnations",     # sequencer incarnations seen (a failover adds one)
    "core_connected",        # 1 while a sequencer subscribes to what the gateway publishes
)

# values that say how things are now, not how often something happened
GAUGES = frozenset({"last_seq", "last_digest", "processed_seq", "role", "epoch", "replication_down",
                    "replication_live", "standby_node", "standby_acked", "following_epoch", "diverged_at",
                    "promoted_at_ns", "fenced_by", "sessions_logged_on", "unconfirmed", "core_connected"})

SLOTS = 64


class Counters:
    def __init__(self, path: str | Path, names, create: bool):
        self.names = tuple(names)
        self.path = Path(path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.values = np.memmap(self.path, np.int64, "w+", shape=(SLOTS,))
            self.values[:] = 0
        else:
            self.values = np.memmap(self.path, np.int64, "r", shape=(SLOTS,))
        self.id = {n: i for i, n in enumerate(self.names)}

    def add(self, name: str, n: int = 1):
        self.values[self.id[name]] += n

    def set(self, name: str, v: int):
        self.values[self.id[name]] = v

    def get(self, name: str) -> int:
        return int(self.values[self.id[name]])

    def snapshot(self) -> dict:
        return {n: int(self.values[i]) for i, n in enumerate(self.names)}


def gateway_counters_path(run_dir, kind: str, source_id: int) -> Path:
    return Path(run_dir) / f"gateway-{kind}-{source_id}.counters"


def counters_files(run_dir) -> list[tuple[str, Path, tuple]]:
    """(instance name, path, slot names) of every counters file in ``run_dir``, sorted."""
    out = []
    for path in sorted(Path(run_dir).glob("*.counters")):
        if path.name == "sequencer.counters":
            out.append(("sequencer", path, SEQUENCER))
        elif path.name.startswith("gateway-"):
            out.append((path.stem, path, GATEWAY))
    return out
