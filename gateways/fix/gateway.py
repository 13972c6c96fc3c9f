"""``tandem gateway fix``: FIX 4.2 / 4.4 clients in front of the core.

The acceptor (``gateways/fix/acceptor.py``) runs the sessions; this application turns
their NewOrderSingle / OrderCancelRequest / OrderCancelReplaceRequest into commands
(``orders.py``) published through the ``CoreLink`` as the session's source, and the
core's ExecReport / CancelReject events for the session's client into ExecutionReports
and OrderCancelRejects. An unsupported application message gets BusinessMessageReject
(380 = 3); what the gateway refuses itself never reaches the journal.

Session events are journaled as SessionEvent records: logon, and at the end of a
connection that had logged on, disconnect and — for sessions with
``cancel_on_disconnect`` — the cancel-on-disconnect that makes the core cancel the
client's open orders.

Restart, with the journal as the truth:
- inbound: before publishing commands the gateway notes, in ``store_dir/gateway.lmdb``,
  which MsgSeqNums they came from (one note per run of consecutive ones: the batch path
  publishes a read's worth of orders at once); a session event is noted with the last
  MsgSeqNum consumed when it happened, so every journaled input of the source has a
  note. A Logon that resets the numbers (141=Y) leaves a marker: if nothing since it is
  in the journal, the restart asks from MsgSeqNum 1. At start each session's expected incoming MsgSeqNum is
  set back to one past the message of the last command the journal holds, so the
  client's next Logon shows a gap, the session asks for a resend, and whatever the old
  process received but the sequencer never journaled comes again (PossDup) and is
  published then;
- outbound: the gateway's place in the output stream (``out_seq``) is saved after the
  reports it led to are stored in the sessions' stores, and reports after it are read
  back from the output journal at start (a crash between the two sends a few reports
  twice, with the same ExecID, never none). Reports for a session that is down are
  stored with their MsgSeqNums and reach the client by resend after its next Logon.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import sys
from pathlib import Path

import lmdb
import numpy as np

from gateways.core import CoreLink, catch_up
from gateways.fix import orders as O
from gateways.fix.acceptor import FixAcceptor, run
from gateways.fix.codec import FixMessage
from gateways.fix.order_decoder import OrderDecoder
from gateways.fix.report_encoder import encodable, encode_reports
from tandem.counters import GATEWAY, Counters, gateway_counters_path
from sequencer import records as R
from tandem import topology

log = logging.getLogger(__name__)

_BUSINESS_REJECT_UNSUPPORTED = 3
_RUN_KEY = struct.Struct(">IQ")      # (source id, first source seq): big-endian, so keys sort
_RUN_VALUE = struct.Struct("<QQ")    # (first MsgSeqNum, count)


def session_event(event: int, source_id: int, client_id: int) -> np.ndarray:
    raw = R.new_commands(1)
    e = raw.view(R.SessionEvent)
    e["type"], e["version"] = R.SESSION_EVENT, 1
    e["session_id"], e["client_id"], e["event"] = source_id, client_id, event
    return raw


class OrderGateway:
    """The FIX application of the order gateway (``FixApplication``)."""

    def __init__(self, acceptor: FixAcceptor, core_cfg, aeron):
        self.acc, self.cfg = acceptor, core_cfg
        self.specs = {s.key: s for s in acceptor.config.sessions}
        self.info = {k: O.SessionInfo(s.begin_string, s.client_id, s.account) for k, s in self.specs.items()}
        self.by_client = {s.client_id: k for k, s in self.specs.items()}
        sources = [s.source_id for s in self.specs.values()]
        self.counters = Counters(gateway_counters_path(core_cfg["run_dir"], "fix", sources[0]), GATEWAY, create=True)
        acceptor.counters = self.counters
        self.link = CoreLink(core_cfg, aeron, sources, self.counters)
        # sync=False: the notes must survive this process, not the host (the journal and
        # the client's own store cover a host).
        self.meta = lmdb.open(str(Path(acceptor.config.store_dir) / "gateway.lmdb"), map_size=1 << 30,
                              subdir=True, max_dbs=4, sync=False)
        self.runs = self.meta.open_db(b"msgseq_runs")
        self.resets = self.meta.open_db(b"resets")
        self.out_seq = self._get(b"out_seq")

    def _get(self, key: bytes, db=None) -> int:
        with self.meta.begin(db=db) as txn:
            v = txn.get(key)
        return struct.unpack("<Q", v)[0] if v else 0

    def _warm_up(self) -> None:
        """Load (or, on a fresh machine, compile) the batch kernels before taking clients:
        a first order must not wait a minute for Numba."""
        s = next(iter(self.specs.values()))
        OrderDecoder(s.begin_string, s.target_comp_id, s.sender_comp_id, s.client_id, s.account, None).decode(
            b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01", 1, 0)
        events = np.zeros(1, R.RAW_EVENT)   # refused by encodable, encoded all the same
        encodable(events)
        encode_reports(events, s.begin_string, s.sender_comp_id, s.target_comp_id, s.account, 1, "20260101-00:00:00")

    def _note_run(self, source_id: int, first_msg_seq: int, count: int) -> None:
        """Commands ``seq+1 .. seq+count`` of this source come from MsgSeqNums
        ``first_msg_seq ..``, one each: one note per run."""
        key = _RUN_KEY.pack(source_id, self.link.seq[source_id] + 1)
        with self.meta.begin(write=True, db=self.runs) as txn:
            txn.put(key, _RUN_VALUE.pack(first_msg_seq, count))

    def _session_event(self, key: str, event: int) -> None:
        """A SessionEvent, noted with the MsgSeqNum consumed when it happened: every input
        of the source has a note, so a restart after one rewinds to the right place."""
        s = self.specs[key]
        self._note_run(s.source_id, self.acc.links[key].session.store.next_target_seq - 1, 1)
        self.link.submit(s.source_id, session_event(event, s.source_id, s.client_id))

    def _msg_seq_of(self, source_id: int, source_seq: int) -> int:
        """The MsgSeqNum command ``source_seq`` came from (0 if no note has it)."""
        with self.meta.begin(db=self.runs) as txn:
            cur = txn.cursor()
            found = cur.set_range(_RUN_KEY.pack(source_id, source_seq))
            if not found or cur.key() != _RUN_KEY.pack(source_id, source_seq):
                if not (cur.prev() if found else cur.last()):
                    return 0
            source, first = _RUN_KEY.unpack(cur.key())
            msg_seq, count = _RUN_VALUE.unpack(cur.value())
        return msg_seq + source_seq - first if source == source_id and source_seq < first + count else 0

    def start(self) -> None:
        self._warm_up()
        seqs = self.link.start()
        for key, spec in self.specs.items():
            last = seqs[spec.source_id]
            reset_key = struct.pack(">I", spec.source_id)
            reset_at = self._get(reset_key, self.resets)
            msg_seq = self._msg_seq_of(spec.source_id, last) if last and last >= reset_at else 0
            if reset_at > last + 1:
                # nothing journaled since the numbers last started over: ask for all of them,
                # and the numbering this process continues with belongs to that day
                with self.meta.begin(write=True, db=self.resets) as txn:
                    txn.put(reset_key, struct.pack("<Q", last + 1))
            store = self.acc.links[key].session.store
            if store.next_target_seq > msg_seq + 1:
                log.info("session %s: asking again from MsgSeqNum %d (the journal has up to %d)", key,
                         msg_seq + 1, msg_seq)
                store.set_next_target_seq(msg_seq + 1)
        for batch in catch_up(self.cfg, self.out_seq):
            self._deliver(self.link.cursor.fresh(batch))

    # ------------------------------------------------------------ from clients
    def on_logon(self, key: str, now: float) -> None:
        s = self.specs[key]
        self.counters.add("logons")
        self.counters.add("sessions_logged_on")
        if self.acc.links[key].session.last_logon_reset:
            # MsgSeqNums start over here: a restart that finds nothing journaled since asks from 1
            with self.meta.begin(write=True, db=self.resets) as txn:
                txn.put(struct.pack(">I", s.source_id), struct.pack("<Q", self.link.seq[s.source_id] + 1))
        self._session_event(key, R.SESSION_LOGON)

    def on_logout(self, key: str, reason: str, now: float) -> None:
        s = self.specs[key]
        self.counters.add("disconnects")
        self.counters.add("sessions_logged_on", -1)
        self._session_event(key, R.SESSION_DISCONNECT)
        if s.cancel_on_disconnect:
            self._session_event(key, R.SESSION_CANCEL_ON_DISCONNECT)

    def on_app(self, key: str, msg: FixMessage, now: float) -> None:
        s, info = self.specs[key], self.info[key]
        translate = O.TRANSLATE.get(msg.msg_type)
        if translate is None:
            self.counters.add("refused")
            self.acc.send_app(key, "j", [(45, msg.get_str(34)), (372, msg.msg_type),
                                         (380, _BUSINESS_REJECT_UNSUPPORTED),
                                         (58, f"unsupported message type {msg.msg_type}")])
            return
        self.counters.add("orders_in")
        try:
            cmd = translate(msg, info)
        except O.Refusal as r:
            self.counters.add("refused")
            if r.business:
                self.acc.send_app(key, *O.gateway_reject(msg, r, s.begin_string, s.account, f"G{msg.get_str(34)}"))
            else:
                self.acc.reject(key, msg, r.reason, r.tag, r.text)
            return
        self._publish(key, cmd, msg.get_int(34))

    def on_commands(self, key: str, commands: np.ndarray, first_msg_seq: int, now: float) -> None:
        """The acceptor's batch path: commands of a run of plain orders in sequence."""
        self.counters.add("orders_in", len(commands))
        self.counters.add("orders_batched", len(commands))
        self._publish(key, commands, first_msg_seq)

    def _publish(self, key: str, commands: np.ndarray, first_msg_seq: int) -> None:
        """Commands from consecutive MsgSeqNums from ``first_msg_seq``."""
        source = self.specs[key].source_id
        self._note_run(source, first_msg_seq, len(commands))
        self.link.submit(source, commands)
        self.link.flush()   # now, not at the pump's next turn

    # ------------------------------------------------------------ to clients
    def _deliver(self, events: np.ndarray) -> None:
        """Reports to their sessions, in order per session: runs of ExecReports the batch
        encoder takes in one go, the rest one by one."""
        if not len(events):
            return
        hdr = R.header(events)
        is_er = hdr["type"] == R.EXEC_REPORT
        clients = np.where(is_er, events.view(R.ExecReport)["client_id"], events.view(R.CancelReject)["client_id"])
        batch = is_er & encodable(events)
        for client in np.unique(clients).tolist():
            key = self.by_client.get(client)
            if key is not None:
                mine = events[clients == client]
                self._send_reports(key, mine, batch[clients == client], is_er[clients == client])
                self.counters.add("reports_out", len(mine))
        self.out_seq = int(hdr["seq"][-1])
        with self.meta.begin(write=True) as txn:
            txn.put(b"out_seq", struct.pack("<Q", self.out_seq))

    def _send_reports(self, key: str, events: np.ndarray, batch: np.ndarray, is_er: np.ndarray) -> None:
        s = self.specs[key]
        cuts = [0, *(np.flatnonzero(np.diff(batch.astype(np.int8))) + 1).tolist(), len(events)]
        for a, b in zip(cuts, cuts[1:]):
            if batch[a]:
                self.acc.send_encoded(key, lambda seq, stamp: encode_reports(
                    events[a:b], s.begin_string, s.sender_comp_id, s.target_comp_id, s.account, seq, stamp))
                continue
            for i in range(a, b):
                if is_er[i]:
                    self.acc.send_app(key, "8", O.execution_report(events[i:i + 1].view(R.ExecReport)[0],
                                                                   s.begin_string, s.account))
                else:
                    self.acc.send_app(key, "9", O.cancel_reject(events[i:i + 1].view(R.CancelReject)[0]))

    async def pump(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            events = self.link.poll()
            self._deliver(events)
            sent = self.link.flush()
            await self.link.pause(bool(len(events) or sent))

    def close(self) -> None:
        self.link.flush()
        self.meta.close()


def main(config_path, core_cfg, announce=None) -> int:
    """The order gateway process (exit codes as ``acceptor.run``)."""
    try:
        aeron = topology.connect(core_cfg)
    except Exception as e:  # pyaeron raises its own error types
        print(f"gateway fix: cannot reach the media driver at {topology.driver_dir(core_cfg)} ({e}); "
              "start one with `tandem driver`", file=sys.stderr)
        return 1
    tasks = []

    def make_app(acceptor: FixAcceptor) -> OrderGateway:
        app = OrderGateway(acceptor, core_cfg, aeron)
        app.start()
        stop = asyncio.Event()
        tasks.append((asyncio.get_running_loop().create_task(app.pump(stop)), stop, app))
        return app

    try:
        return run(config_path, make_app, mode="orders", announce=announce)
    finally:
        for task, stop, app in tasks:
            stop.set()
            app.close()
        aeron.close()


