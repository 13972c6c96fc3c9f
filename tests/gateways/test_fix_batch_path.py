"""The acceptor's batch path over a real socket: plain orders in sequence reach an
application that takes commands as runs, everything else goes through the session one by
one, in order; reports encoded in a batch are stored and resent like any other."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import numpy as np

from gateways.fix.acceptor import FixAcceptor, GatewayConfig, SessionSpec
from gateways.fix.codec import FixFramer, encode
from gateways.fix.report_encoder import encode_reports
from gateways.fix.session import format_utc
from gateways.fix.store import MemoryStore
from sequencer import records as R

SPEC = SessionSpec("FIX.4.4", "TANDEM", "ALICE", account="ALICE01", client_id=1, heartbeat_min_s=0)


class OrdersApp:
    def __init__(self):
        self.calls = []

    def on_logon(self, key, now):
        pass

    def on_logout(self, key, reason, now):
        pass

    def on_app(self, key, msg, now):
        self.calls.append(("app", int(msg.get(34)), msg.get(43)))

    def on_commands(self, key, commands, first_msg_seq, now):
        types = R.header(commands)["type"].tolist()
        cl = [bytes(c).rstrip(b"\0").decode() for c in commands.view(R.NewOrder)["cl_ord_id"]]
        self.calls.append(("commands", first_msg_seq, types, cl))


def msg(mt, seq, fields=(), poss_dup=False):
    t = format_utc(datetime.now(timezone.utc))
    head = [(49, "ALICE"), (56, "TANDEM"), (34, seq)]
    if poss_dup:
        head += [(43, "Y"), (52, t), (122, t)]
    else:
        head.append((52, t))
    return encode("FIX.4.4", mt, head + list(fields))


def order(seq, qty="100", poss_dup=False):
    return msg("D", seq, [(11, f"C{seq}"), (1, "ALICE01"), (55, "AAA"), (54, 1), (60, "20261124-10:00:00"),
                          (38, qty), (40, 2), (44, "10.5")], poss_dup)


def reports(n):
    events = np.zeros(n, R.RAW_EVENT)
    er = events.view(R.ExecReport)
    er["type"], er["client_id"], er["exec_type"], er["ord_status"] = R.EXEC_REPORT, 1, ord("0"), ord("0")
    er["side"], er["ord_type"], er["qty"], er["leaves_qty"], er["price"] = R.SIDE_BUY, R.ORD_LIMIT, 100, 100, 10**9
    er["order_id"] = range(1, n + 1)
    er["exec_id"] = range(101, 101 + n)
    er["cl_ord_id"][:, 0] = ord("C")
    er["symbol"][:, :3] = list(b"AAA")
    return events


def test_orders_in_runs_and_the_rest_in_order_through_the_session():
    async def scenario():
        acc = FixAcceptor(GatewayConfig(sessions=(SPEC,), port=0), store_factory=lambda s: MemoryStore())
        app = acc.app = OrdersApp()
        port = await acc.start()
        framer = FixFramer()

        async def read(reader, n):
            out = []
            while len(out) < n:
                out += framer.feed(await asyncio.wait_for(reader.read(65536), 5))
            return out

        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(msg("A", 1, [(98, 0), (108, 0)]))
        (logon,) = await read(r, 1)
        assert logon.msg_type == "A"
        # one write: a run, a heartbeat, an order to refuse, a run of one, then a gap
        w.write(order(2) + order(3) + msg("0", 4) + order(5, qty="1.5") + order(6) + order(8))
        (resend,) = await read(r, 1)
        assert resend.msg_type == "2" and resend.get(7) == b"7" and resend.get(16) == b"0"
        assert app.calls == [("commands", 2, [R.NEW_ORDER] * 2, ["C2", "C3"]), ("app", 5, None),
                             ("commands", 6, [R.NEW_ORDER], ["C6"])]
        # the resend: PossDup messages go the session's way
        w.write(order(7, poss_dup=True) + order(8, poss_dup=True) + order(9))
        for _ in range(100):
            if len(app.calls) == 6:
                break
            await asyncio.sleep(0.01)
        assert app.calls[3:] == [("app", 7, b"Y"), ("app", 8, b"Y"), ("commands", 9, [R.NEW_ORDER], ["C9"])]
        assert acc.links[SPEC.key].session.store.next_target_seq == 10

        # reports encoded in a batch: numbered after the Logon and the ResendRequest, resent with PossDup
        acc.send_encoded(SPEC.key, lambda seq, stamp: encode_reports(reports(3), "FIX.4.4", "TANDEM", "ALICE",
                                                                     "ALICE01", seq, stamp))
        got = await read(r, 3)
        assert [m.get(34) for m in got] == [b"3", b"4", b"5"] and [m.get(37) for m in got] == [b"1", b"2", b"3"]
        w.write(msg("2", 10, [(7, 4), (16, 5)]))
        again = await read(r, 2)
        assert [(m.get(34), m.get(43), m.get(37)) for m in again] == [(b"4", b"Y", b"2"), (b"5", b"Y", b"3")]
        w.close()
        await acc.close()

    asyncio.run(scenario())


def test_order_gateway_refuses_sessions_without_account_client_or_source(tmp_path, capsys):
    from gateways.fix.acceptor import run
    cfg = tmp_path / "gw.toml"
    cfg.write_text('[gateway]\nstore_dir = "s"\n[[gateway.sessions]]\nbegin_string = "FIX.4.4"\n'
                   'sender_comp_id = "TANDEM"\ntarget_comp_id = "ALICE"\nclient_id = 3\n')
    assert run(cfg, lambda acc: None, mode="orders") == 2
    assert "the order gateway needs account, source_id" in capsys.readouterr().err
