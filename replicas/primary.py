"""The primary's side of replication.

The sequencer journals a batch, hands it to ``send_live`` and runs the business logic
only once ``await_ack`` says the standby has journaled it. A standby joins with HELLO
(its last seq and epoch); the primary answers START with how much of the standby's
journal matches its own, then sends what the standby lacks from its journal
(catch-up, a bounded slice per duty cycle) until the standby's acks reach the
journal's end; from then on the link is *live* and batches go out as they are
sequenced. A standby silent for ``ack_timeout_ms`` is lost (the link stops being
live); the sequencer journals that (see ``SequencerAgent``).

Fencing: any message carrying a newer epoch than ours means another node was
promoted; ``fenced_by`` is set and the sequencer stops. Acks of another epoch are
refused, and a stale primary's data is answered with FENCED.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from journal import JournalReader
from sequencer import records
from tandem import topology

from . import protocol as P

log = logging.getLogger(__name__)

CATCHUP_MESSAGES_PER_POLL = 64


class PrimaryLink:
    def __init__(self, cfg, aeron, node_id: int, journal_dir, epoch: int, match_point, params_json: str,
                 clock=time.monotonic):
        r = cfg["replication"]
        self.node_id = node_id
        self.epoch = epoch
        self.match_point = match_point    # (standby epoch, standby last seq) -> seq both journals share
        self.params = params_json.encode()
        self.clock = clock
        self.incarnation = time.time_ns()  # tells a standby this primary restarted
        self.ack_timeout = r["ack_timeout_ms"] / 1000
        self.heartbeat = r["heartbeat_ms"] / 1000
        self.per_message = max(1, (cfg["aeron"]["max_message_bytes"] - P.HEADER_SIZE) // records.COMMAND_SIZE)
        self.data_pub, self.ack_pub = topology.replication_publishers(aeron, cfg)
        self.data_sub, self.ack_sub = topology.replication_subscribers(aeron, cfg)
        self.journal_dir = journal_dir
        self.reader: JournalReader | None = None
        self.standby = 0          # node id of the joined standby (0: none)
        self.acked = 0            # its highest durable seq in this epoch
        self.sent = 0             # highest seq sent to it
        self.live = False         # caught up: batches are sent as sequenced and awaited
        self.ever_live = False    # a standby was live once (so losing it is an ack timeout)
        self.last_heard = 0.0
        self.last_poll = clock()
        self.last_progress = 0.0  # when the standby's ack last advanced
        self.standby_pause_until = 0.0  # the standby announced it stops acking until then
        self.next_heartbeat = 0.0
        self.fenced_by = 0        # a newer epoch heard of: this node must stop
        self.diverged: list[tuple[int, int, int]] = []  # (seq, standby digest, primary digest)
        self.refused = 0          # messages of another epoch or node, dropped
        self.catchup_records = 0
        self.journal_last = 0
        self.processed = 0

    # ---------------------------------------------------------------- messages
    def _msg(self, kind, **kw):
        return P.encode(kind, self.epoch, self.node_id, value2=kw.pop("value2", self.incarnation), **kw)

    def poll(self, journal_last: int, processed: int) -> int:
        """Handle acks and hellos, send catch-up and heartbeats. Work done."""
        self.journal_last, self.processed = journal_last, processed
        now = self.clock()
        if now - self.last_poll > self.heartbeat:
            self.last_heard += now - self.last_poll  # the standby's silence counts only while we listen
        self.last_poll = now
        work = 0
        for msg in self.data_sub.poll():
            work += self._on_data_stream(msg)
        for msg in self.ack_sub.poll():
            work += self._on_ack_stream(msg, now)
        if self.standby and now - max(self.last_heard, self.standby_pause_until) > self.ack_timeout:
            if self.live or self.sent:
                log.error("standby node %d silent for %.0f ms: replication lost at seq %d",
                          self.standby, 1000 * (now - self.last_heard), self.acked)
            self.standby, self.live, self.sent = 0, False, 0
        if self.standby and not self.live:
            if self.acked < self.sent and now - self.last_progress > 2 * self.heartbeat:
                # Sent but not acknowledged: a standby that subscribed just after we sent
                # misses it (an IPC stream is already connected to our own subscription).
                self.sent = self.acked
            work += self._catch_up()
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + self.heartbeat
            # Addressed to the standby only while it is live: only then does it hold every
            # input we processed, which a standby needs before it may promote itself.
            self.data_pub.offer(self._msg(P.HEARTBEAT, target=self.standby if self.live else 0,
                                          seq_hi=journal_last, value=processed))
        return work

    def _decode(self, msg):
        return P.receive(msg, self.node_id, records.COMMAND_SIZE)

    def _newer_epoch(self, h) -> bool:
        if h["epoch"] > self.epoch:
            if not self.fenced_by:
                log.critical("node %d speaks for epoch %d, newer than ours (%d): this node was replaced "
                             "and stops writing", int(h["node_id"]), int(h["epoch"]), self.epoch)
            self.fenced_by = max(self.fenced_by, int(h["epoch"]))
            return True
        return False

    def _on_data_stream(self, msg) -> int:
        """Another primary's traffic: a newer one fences us, an older one is told so."""
        h, _ = self._decode(msg)
        if h is None or self._newer_epoch(h):
            return 1
        if h["kind"] in (P.DATA, P.HEARTBEAT) and h["epoch"] < self.epoch:
            self.refused += 1
            self.ack_pub.offer(self._msg(P.FENCED, target=int(h["node_id"])))
        return 1

    def _on_ack_stream(self, msg, now) -> int:
        h, _ = self._decode(msg)
        if h is None or self._newer_epoch(h):
            return 1
        kind, node = int(h["kind"]), int(h["node_id"])
        if kind == P.HELLO:
            self._welcome(node, int(h["epoch"]), int(h["seq_hi"]), int(h["value"]), now)
        elif h["epoch"] != self.epoch or node != self.standby:
            self.refused += 1  # an ack of another epoch, or of a standby that has not joined
            if kind == P.ACK:  # it thinks it follows us (we dropped it, or restarted): hello again
                self.ack_pub.offer(self._msg(P.REJOIN, target=node))
        elif kind == P.ACK:
            if h["seq_lo"]:  # the standby announces a pause (a snapshot copy): no silence until after it
                self.standby_pause_until = now + int(h["seq_lo"]) / 1000
            if h["seq_hi"] > self.acked:
                self.acked = int(h["seq_hi"])
                self.last_progress = now
            self.last_heard = now
        elif kind == P.DIVERGED:
            self.diverged.append((int(h["seq_lo"]), int(h["value"]), int(h["value2"])))
        return 1

    def _welcome(self, node, standby_epoch, standby_last, hello_id, now):
        keep = self.match_point(standby_epoch, standby_last)
        if standby_last > self.journal_last and standby_epoch == self.epoch:
            log.error("standby node %d holds seq %d, past this primary's journal end %d: its extra "
                      "records are dropped", node, standby_last, self.journal_last)
        self.standby, self.acked, self.sent, self.live = node, keep, keep, False
        self.last_heard = self.last_progress = now
        self.ack_pub.offer(self._msg(P.START, target=node, seq_lo=keep, seq_hi=self.journal_last,
                                     value=hello_id, payload=self.params))
        log.info("standby node %d joined (it holds seq %d, epoch %d): keeps up to seq %d, catching up to %d",
                 node, standby_last, standby_epoch, keep, self.journal_last)

    # ---------------------------------------------------------------- catch-up
    def _catch_up(self) -> int:
        if self.sent >= self.journal_last:
            if self.acked >= self.journal_last:
                self.live = self.ever_live = True
                log.info("standby node %d caught up at seq %d: replication live", self.standby, self.acked)
            return 0
        if self.reader is None:
            self.reader = JournalReader(self.journal_dir)
        self.reader.refresh()
        hi = min(self.journal_last, self.sent + CATCHUP_MESSAGES_PER_POLL * self.per_message)
        recs = self.reader.read(self.sent + 1, hi)
        sent = self._send_data(recs, wait_s=0)
        self.catchup_records += sent
        return sent

    def _send_data(self, recs: np.ndarray, wait_s: float) -> int:
        """DATA messages of whole records from seq ``self.sent + 1``; records sent."""
        done = 0
        for lo in range(0, len(recs), self.per_message):
            part = recs[lo:lo + self.per_message]
            first = self.sent + 1
            msg = self._msg(P.DATA, seq_lo=first, seq_hi=first + len(part) - 1, payload=part)
            ok = self.data_pub.send(msg, wait_s) if wait_s else self.data_pub.offer(msg)
            if not ok:
                break
            self.sent += len(part)
            done += len(part)
        return done

    # ---------------------------------------------------------------- live path
    def send_live(self, batch: np.ndarray) -> bool:
        """Send a just-journaled batch; False (and no longer live) if it could not go."""
        if len(batch) and self._send_data(batch, self.ack_timeout) < len(batch):
            log.error("standby node %d not taking data for %.0f ms", self.standby, 1000 * self.ack_timeout)
            self.live = False
        return self.live

    def await_ack(self, seq: int, idle=lambda: time.sleep(0)) -> bool:
        """Wait until the standby's journal holds ``seq`` (True) or the ack timeout (False)."""
        deadline = self.clock() + self.ack_timeout
        while self.acked < seq:
            if self.fenced_by:
                return False
            if self.clock() > max(deadline, self.standby_pause_until + self.ack_timeout):
                if self.standby:
                    log.error("standby node %d did not ack seq %d within %.0f ms", self.standby, seq,
                              1000 * self.ack_timeout)
                self.live = False
                return False
            if not self.poll(max(self.journal_last, seq), self.processed):
                idle()
        return True

    def announce_pause(self, ms: int) -> None:
        """We are about to stop polling for up to ``ms`` (a snapshot copy): the standby must
        not take that silence for our death."""
        # Waits a little if the stream is back-pressured: a lost announcement is a false failover.
        self.data_pub.send(self._msg(P.HEARTBEAT, target=self.standby if self.live else 0,
                                     seq_hi=self.journal_last, value=self.processed, seq_lo=ms), 0.2)

    def send_digests(self, events: np.ndarray) -> None:
        """Our StateDigest events, for the standby to compare with its own."""
        if not self.standby:
            return
        hdr = records.header(events)
        idx = np.flatnonzero(hdr["type"] == records.STATE_DIGEST)
        for d in events[idx].view(records.StateDigest):
            self.data_pub.offer(self._msg(P.DIGEST, seq_lo=int(d["seq"]), value=int(d["digest"])))

    def close(self):
        if self.reader is not None:
            self.reader.close()
        for x in (self.data_pub, self.ack_pub, self.data_sub, self.ack_sub):
            x.close()
