"""The standby's side of replication: join, receive, ack, compare digests, promote.

Until a primary answers its HELLO with START the standby only says hello (every
heartbeat). After START it takes DATA that continues its journal exactly; a gap or
a primary that restarted (new incarnation) or changed (new epoch) makes it say hello
again, and the primary re-sends from where the standby's journal ends. The
``SequencerAgent`` journals each received slice, acks it (``ack``), then runs the
same kernels; outputs go to its own output journal only, never to consumers.

Digests: the primary sends its StateDigest values; the standby compares each with its
own at the same seq and reports the first difference (DIVERGED) — a diverged standby
never promotes itself.

Promotion: after ``promote_after_ms`` without a word from the primary it followed, or
on an operator's PROMOTE carrying the operator token.
"""

from __future__ import annotations

import hmac
import logging
import time
from pathlib import Path

import numpy as np

from sequencer import records
from tandem import topology

from . import protocol as P

log = logging.getLogger(__name__)

DIGESTS_KEPT = 1024


def read_token(cfg) -> bytes | None:
    path = cfg["replication"]["operator_token_file"]
    return Path(path).read_bytes().strip() if path else None


class StandbyLink:
    def __init__(self, cfg, aeron, node_id: int, clock=time.monotonic):
        r = cfg["replication"]
        self.node_id = node_id
        self.clock = clock
        self.heartbeat = r["heartbeat_ms"] / 1000
        self.promote_after = r["promote_after_ms"] / 1000
        self.token = read_token(cfg)
        self.data_pub, self.ack_pub = topology.replication_publishers(aeron, cfg)
        self.data_sub, self.ack_sub = topology.replication_subscribers(aeron, cfg)
        self.control = topology.control_subscriber(aeron, cfg)
        self.epoch = 0             # our state's epoch (the agent keeps it current)
        self.following = 0         # epoch of the primary we follow (0: not joined)
        self.primary = 0           # its node id
        self.incarnation = 0
        self.last_primary = None   # when we last heard it (None: never heard a primary)
        self.last_poll = 0.0
        self.primary_processed = 0  # its business-logic position in its last heartbeat
        self.primary_end = 0        # its journal's end in its last heartbeat
        self.live = False           # its last heartbeat counted us as a live standby
        self.start: tuple[int, bytes] | None = None  # (keep up to seq, params) to act on
        # START must echo the id of our current join attempt; the base differs per incarnation.
        self.hello_id = (time.time_ns() & 0xFFFFFFFF) << 32
        self.next_keepalive = 0.0
        self.primary_digests: dict[int, int] = {}
        self.own_digests: dict[int, int] = {}
        self.digests_compared = 0
        self.diverged_at = 0
        self.promote_reason = ""
        self.refused = 0

    # ---------------------------------------------------------------- duty cycle
    def poll(self, last_seq: int) -> list[np.ndarray]:
        """Handle what arrived; return record slices that continue the journal at last_seq + 1."""
        now = self.clock()
        if self.last_primary is not None and now - self.last_poll > self.heartbeat:
            # We were not listening (a long batch, a snapshot copy, no CPU): the primary's
            # silence is only counted while we listen.
            self.last_primary += now - self.last_poll
        self.last_poll = now
        out = []
        for msg in self.ack_sub.poll():
            h, payload = self._decode(msg)
            if (h is not None and h["kind"] == P.REJOIN and h["target"] == self.node_id and self.following
                    and h["node_id"] == self.primary and h["value2"] == self.incarnation):
                log.warning("primary node %d no longer counts this node as its standby: joining again",
                            self.primary)
                self._rejoin()
                continue
            if h is not None and h["kind"] == P.START and h["target"] == self.node_id:
                if self.following or h["value"] != self.hello_id:
                    continue  # joined already, or an answer to a hello of an earlier join attempt
                if h["epoch"] >= self.epoch:
                    self._started(h, payload, now)
                    return out  # the agent cuts its journal to the START's seq before more data
                self.refused += 1
        for msg in self.data_sub.poll():
            h, payload = self._decode(msg)
            if h is None:
                continue
            recs = self._on_data_stream(h, payload, last_seq, now)
            if recs is not None:
                out.append(recs)
                last_seq += len(recs)
        for msg in self.control.poll():
            h, payload = self._decode(msg)
            if h is not None and h["kind"] == P.PROMOTE and h["target"] == self.node_id:
                if self.token is None:
                    log.error("promotion refused: no operator_token_file is configured on this node")
                elif not hmac.compare_digest(bytes(payload), self.token):
                    log.error("promotion refused: wrong operator token")
                else:
                    self.promote_reason = "operator"
        if (self.promote_after and not self.promote_reason and self.last_primary is not None
                and now - self.last_primary > self.promote_after):
            why_not = (f"this standby diverged at seq {self.diverged_at}" if self.diverged_at else
                       None if self.live else "replication was not live (the primary may have processed "
                       f"inputs this node lacks: it had up to seq {self.primary_end}, we {last_seq})")
            if why_not:
                log.error("primary node %d silent for %.0f ms, but not promoting: %s; an operator may "
                          "promote with `tandem failover promote`", self.primary,
                          1000 * (now - self.last_primary), why_not)
                self.last_primary = None  # said once; wait for a primary or an operator
                self._rejoin()
            else:
                self.promote_reason = f"primary silent for {1000 * (now - self.last_primary):.0f} ms"
        if now >= self.next_keepalive:
            self.next_keepalive = now + self.heartbeat
            if self.following:
                self._send_ack(P.ACK, seq_hi=last_seq)
            else:
                self._send_ack(P.HELLO, seq_hi=last_seq, value=self.hello_id)
        return out

    def _decode(self, msg):
        return P.receive(msg, self.node_id, records.COMMAND_SIZE)

    def _send_ack(self, kind, target=None, **kw):
        # HELLO carries our state's epoch (the primary matches journals by it), acks the
        # epoch we follow, FENCED the newest we know.
        epoch = {P.HELLO: self.epoch, P.FENCED: max(self.epoch, self.following)}.get(kind, self.following)
        self.ack_pub.offer(P.encode(kind, epoch, self.node_id,
                                    target=self.primary if target is None else target, **kw))

    def _on_data_stream(self, h, payload, last_seq, now):
        kind, epoch = int(h["kind"]), int(h["epoch"])
        if kind not in (P.DATA, P.HEARTBEAT, P.DIGEST):
            return None
        if epoch < max(self.epoch, self.following):
            self.refused += 1  # a stale primary: tell it, take nothing from it
            self._send_ack(P.FENCED, target=int(h["node_id"]))
            return None
        ours = self.following and epoch == self.following and h["node_id"] == self.primary \
            and h["value2"] == self.incarnation
        if not ours:
            if self.following and kind == P.HEARTBEAT:
                log.warning("primary changed (node %d epoch %d): joining it", int(h["node_id"]), epoch)
                self._rejoin()
            return None
        self.last_primary = now
        if kind == P.HEARTBEAT:
            if h["seq_lo"]:  # the primary announces a pause: its silence counts from the end of it
                self.last_primary = now + int(h["seq_lo"]) / 1000
            self.primary_processed = int(h["value"])
            self.primary_end = int(h["seq_hi"])
            self.live = h["target"] == self.node_id
        elif kind == P.DIGEST:
            self._compare(int(h["seq_lo"]), primary=int(h["value"]))
        else:
            lo, hi = int(h["seq_lo"]), int(h["seq_hi"])
            if hi <= last_seq:
                return None  # already journaled
            if lo > last_seq + 1:
                log.warning("replication gap: have seq %d, got %d..%d; asking the primary again",
                            last_seq, lo, hi)
                self._rejoin()
                return None
            recs = payload.view(records.RAW_COMMAND)
            return recs[last_seq + 1 - lo:]
        return None

    def _rejoin(self):
        self.following = 0
        self.live = False
        self.hello_id += 1  # answers to earlier hellos no longer count
        self.next_keepalive = 0.0  # hello at once

    def _started(self, h, payload, now):
        self.start = (int(h["seq_lo"]), bytes(payload))
        self.following, self.primary = int(h["epoch"]), int(h["node_id"])
        self.incarnation = int(h["value2"])
        self.last_primary = now
        log.info("primary node %d (epoch %d) answered: keep journal up to seq %d, it is at %d",
                 self.primary, self.following, int(h["seq_lo"]), int(h["seq_hi"]))

    def take_start(self):
        s, self.start = self.start, None
        return s

    def announce_pause(self, ms: int, seq: int) -> None:
        """We are about to stop polling for up to ``ms`` (a snapshot copy)."""
        if self.following:
            self._send_ack(P.ACK, seq_hi=seq, seq_lo=ms)

    def ack(self, seq: int) -> None:
        """The journal holds everything up to ``seq``."""
        self._send_ack(P.ACK, seq_hi=seq)

    # ---------------------------------------------------------------- digests
    def check_digests(self, events: np.ndarray) -> None:
        hdr = records.header(events)
        idx = np.flatnonzero(hdr["type"] == records.STATE_DIGEST)
        for d in events[idx].view(records.StateDigest):
            self._compare(int(d["seq"]), own=int(d["digest"]))

    def _compare(self, seq, primary=None, own=None):
        if primary is not None:
            own = self.own_digests.pop(seq, None)
            if own is None:
                _remember(self.primary_digests, seq, primary)
                return
        else:
            primary = self.primary_digests.pop(seq, None)
            if primary is None:
                _remember(self.own_digests, seq, own)
                return
        self.digests_compared += 1
        if own != primary and not self.diverged_at:
            self.diverged_at = seq
            log.error("standby DIVERGED at seq %d: its state digest %016x, the primary's %016x",
                      seq, own, primary)
            self._send_ack(P.DIVERGED, seq_lo=seq, value=own, value2=primary)

    def close(self):
        for x in (self.data_pub, self.ack_pub, self.data_sub, self.ack_sub, self.control):
            x.close()


def _remember(d: dict, seq: int, digest: int) -> None:
    d[seq] = digest
    if len(d) > DIGESTS_KEPT:
        del d[min(d)]
