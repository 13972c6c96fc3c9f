"""The SoupBinTCP server over real sockets on 127.0.0.1: login, sequenced delivery,
recovery by requested sequence number, heartbeats, rejects and malformed input."""

import asyncio


from venues.protocols import soupbintcp as soup
from venues.sim.soup_server import SoupServer

USERS = {"ALICE": "pw1", "BOB": "pw2"}


def echo_to_both(user, payload, now_ns):
    """Stand-in for the venue: each message comes back to its sender and to the other user."""
    other = "BOB" if user == "ALICE" else "ALICE"
    return {user: [b"ack:" + payload], other: [b"seen:" + payload]}


class Client:
    def __init__(self, reader, writer):
        self.reader, self.writer, self.packets = reader, writer, soup.PacketReader(accept=soup.SERVER_TYPES)
        self.got: list[tuple[str, bytes]] = []

    @classmethod
    async def connect(cls, port, user, password, seq=0, session=""):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        c = cls(r, w)
        w.write(soup.encode_login_request(user, password, session, seq))
        await w.drain()
        return c

    async def until(self, n, timeout=5.0):
        """Read until n packets have come (heartbeats included); returns them all."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while len(self.got) < n:
            data = await asyncio.wait_for(self.reader.read(65536), end - loop.time())
            if not data:
                break
            self.got.extend(self.packets.feed(data))
        return self.got

    async def send(self, payload):
        self.writer.write(soup.encode_unsequenced_data(payload))
        await self.writer.drain()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_login_sequenced_data_and_recovery_from_a_requested_number():
    async def main():
        server = SoupServer(echo_to_both, USERS, heartbeat_s=5)
        port = await server.start()
        alice = await Client.connect(port, "ALICE", "pw1")
        (kind, payload), = await alice.until(1)
        assert kind == soup.LOGIN_ACCEPTED
        assert soup.decode_login_accepted(payload) == ("SESSION1", 1)
        for i in range(3):
            await alice.send(b"m%d" % i)
        got = await alice.until(4)
        assert [p for _, p in got[1:]] == [b"ack:m0", b"ack:m1", b"ack:m2"]
        assert {k for k, _ in got[1:]} == {soup.SEQUENCED_DATA}
        # BOB was not connected: his messages wait; logging in from 2 replays 2 and 3
        bob = await Client.connect(port, "BOB", "pw2", seq=2)
        got = await bob.until(3)
        assert soup.decode_login_accepted(got[0][1]).sequence_number == 2
        assert [p for _, p in got[1:]] == [b"seen:m1", b"seen:m2"]
        for c in (alice, bob):
            c.writer.write(soup.encode_logout_request())
            await c.writer.drain()
        await server.close()
    run(main())


def test_rejects_bad_password_unknown_session_and_a_second_login():
    async def main():
        server = SoupServer(echo_to_both, USERS, heartbeat_s=5)
        port = await server.start()
        bad = await Client.connect(port, "ALICE", "nope")
        (kind, payload), = await bad.until(1)
        assert (kind, soup.decode_login_rejected(payload)) == (soup.LOGIN_REJECTED, soup.REJECT_NOT_AUTHORIZED)
        wrong = await Client.connect(port, "ALICE", "pw1", session="OTHER")
        (kind, payload), = await wrong.until(1)
        assert soup.decode_login_rejected(payload) == soup.REJECT_SESSION_NOT_AVAILABLE
        first = await Client.connect(port, "ALICE", "pw1")
        await first.until(1)
        again = await Client.connect(port, "ALICE", "pw1")
        (kind, payload), = await again.until(1)
        assert soup.decode_login_rejected(payload) == soup.REJECT_SESSION_NOT_AVAILABLE
        assert server.rejected_logins == 3
        await server.close()
        got = await first.until(2)
        assert got[-1][0] == soup.END_OF_SESSION
    run(main())


def test_idle_session_gets_heartbeats_and_malformed_input_closes_it():
    async def main():
        server = SoupServer(echo_to_both, USERS, heartbeat_s=0.05)
        port = await server.start()
        alice = await Client.connect(port, "ALICE", "pw1")
        got = await alice.until(4)
        assert [k for k, _ in got[1:4]] == [soup.SERVER_HEARTBEAT] * 3
        alice.writer.write(b"\x00\x01Q")  # a packet type no client may send
        await alice.writer.drain()
        await asyncio.wait_for(alice.reader.read(), 5)  # returns only once the server hangs up
        assert alice.reader.at_eof()
        for _ in range(100):
            if server.dropped_clients:
                break
            await asyncio.sleep(0.01)
        assert server.dropped_clients == 1 and "ALICE" not in server.connected
        await server.close()
    run(main())
