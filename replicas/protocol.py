"""Messages between primary, standby and the operator tool.

Each message is a 64-byte little-endian header, then (DATA, START, PROMOTE) a payload.
Every message names its sender node and the sender's epoch: a node refuses data and
acks of an older epoch, and a node that hears of a newer epoch than its own as primary
has been replaced and stops (the fence).

primary → standby (data stream)      standby → primary (ack stream)
  DATA      records seq_lo..seq_hi      HELLO     "I hold up to seq_hi, last in epoch";
                                                  value = hello id (START echoes it)
  HEARTBEAT seq_hi=journal end,         ACK       durable through seq_hi (also a keepalive)
            value=processed seq,                  seq_lo = a pause announced, ms
            seq_lo = a pause announced, ms  DIVERGED  digests differ at seq_lo
  DIGEST    digest (value) at seq_lo    FENCED    "your epoch is older than mine"
  START     answer to HELLO: keep your
            journal up to seq_lo, then
            follow; payload = LogicParams JSON
  REJOIN    "you are not my standby (any
            more): say hello" (ack stream)
operator tool → node (control stream)
  PROMOTE   node_id = the node to promote; payload = operator token
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

MAGIC = 0x4C505254  # "TRPL"
VERSION = 1

HEADER = np.dtype([
    ("magic", "<u4"), ("kind", "<u2"), ("version", "<u2"),
    ("epoch", "<u8"),
    ("node_id", "<u4"),   # sender (PROMOTE, START: the node addressed)
    ("target", "<u4"),    # node addressed (0: any)
    ("seq_lo", "<u8"), ("seq_hi", "<u8"),
    ("value", "<u8"), ("value2", "<u8"),
    ("ts", "<i8"),        # sender's clock, for logs only
])
HEADER_SIZE = HEADER.itemsize
assert HEADER_SIZE == 64

DATA, HEARTBEAT, DIGEST, START, REJOIN = 1, 2, 3, 4, 5
HELLO, ACK, DIVERGED, FENCED = 10, 11, 12, 13
PROMOTE = 20
KIND_NAMES = {DATA: "DATA", HEARTBEAT: "HEARTBEAT", DIGEST: "DIGEST", START: "START", REJOIN: "REJOIN",
              HELLO: "HELLO", ACK: "ACK", DIVERGED: "DIVERGED", FENCED: "FENCED",
              PROMOTE: "PROMOTE"}


class BadMessage(ValueError):
    pass


def encode(kind: int, epoch: int, node_id: int, *, target: int = 0, seq_lo: int = 0, seq_hi: int = 0,
           value: int = 0, value2: int = 0, ts: int = 0, payload=None) -> np.ndarray:
    body = b"" if payload is None else payload
    size = len(body) if isinstance(body, (bytes, bytearray)) else body.nbytes
    out = np.zeros(HEADER_SIZE + size, np.uint8)
    h = out[:HEADER_SIZE].view(HEADER)[0]
    h["magic"], h["kind"], h["version"] = MAGIC, kind, VERSION
    h["epoch"], h["node_id"], h["target"] = epoch, node_id, target
    h["seq_lo"], h["seq_hi"], h["value"], h["value2"], h["ts"] = seq_lo, seq_hi, value, value2, ts
    if size:
        out[HEADER_SIZE:] = np.frombuffer(body, np.uint8) if isinstance(body, (bytes, bytearray)) \
            else body.view(np.uint8).reshape(-1)
    return out


def decode(msg: np.ndarray, record_size: int) -> tuple[np.void, np.ndarray]:
    """(header, payload bytes) of a message; BadMessage names what is wrong."""
    if len(msg) < HEADER_SIZE:
        raise BadMessage(f"{len(msg)}-byte message is shorter than the {HEADER_SIZE}-byte header")
    h = msg[:HEADER_SIZE].view(HEADER)[0]
    if h["magic"] != MAGIC:
        raise BadMessage(f"bad magic {int(h['magic']):#x}")
    if h["version"] != VERSION:
        raise BadMessage(f"protocol version {int(h['version'])}, this build speaks {VERSION}")
    if h["kind"] not in KIND_NAMES:
        raise BadMessage(f"unknown message kind {int(h['kind'])}")
    payload = msg[HEADER_SIZE:]
    if h["kind"] == DATA:
        n = int(h["seq_hi"]) - int(h["seq_lo"]) + 1
        if h["seq_lo"] == 0 or n < 1 or len(payload) != n * record_size:
            raise BadMessage(f"DATA {int(h['seq_lo'])}..{int(h['seq_hi'])} carries {len(payload)} bytes")
    return h, payload


def receive(msg: np.ndarray, own_node_id: int, record_size: int):
    """(header, payload) of a message from another node, or (None, None) for our own
    (on one host both nodes share the IPC channels) and for a bad one (logged, dropped)."""
    try:
        h, payload = decode(msg, record_size)
    except BadMessage as e:
        log.warning("dropped a replication message: %s", e)
        return None, None
    return (None, None) if h["node_id"] == own_node_id else (h, payload)
