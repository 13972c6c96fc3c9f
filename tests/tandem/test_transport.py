"""Record batches over a real embedded Aeron media driver."""

import numpy as np
import pytest

from sequencer import records
from tandem import config, topology


@pytest.fixture
def aeron(tmp_path):
    cfg = config.load(None, config.under(tmp_path), {"sequencer": {"batch_max": 1024}})
    driver = topology.start_media_driver(cfg)
    client = topology.connect(cfg)
    yield cfg, client
    client.close()
    driver.close()


def _drain(sub, want, polls=10_000):
    got = []
    for _ in range(polls):
        data = sub.poll()
        if len(data):
            got.append(data.copy())
        if sum(len(g) for g in got) >= want * sub.record_size:
            break
    return np.concatenate(got).view(records.RAW_COMMAND) if got else records.new_commands(0)


def test_batches_larger_than_mtu_arrive_whole_and_in_order(aeron):
    cfg, client = aeron
    sub = topology.inbound_subscriber(client, cfg)
    pub = topology.inbound_publisher(client, cfg)
    pub.pub.await_connected(timeout=5)
    sent = records.new_commands(5_000)
    records.header(sent)["source_seq"] = np.arange(1, 5_001)
    pub.publish(sent)  # ten messages of up to 64 KiB, each many MTUs long
    got = _drain(sub, 5_000)
    assert got.tobytes() == sent.tobytes()
    # No poll returns more than batch_max records plus one message's worth.
    assert sub.batch_max == 1024


def test_partial_record_message_dropped_and_counted(aeron):
    cfg, client = aeron
    sub = topology.inbound_subscriber(client, cfg)
    raw_pub = client.add_exclusive_publication(cfg["aeron"]["inbound_channel"], cfg["aeron"]["inbound_stream"])
    raw_pub.await_connected(timeout=5)
    assert raw_pub.offer(np.zeros(records.COMMAND_SIZE + 5, np.uint8))
    good = records.new_commands(3)
    assert raw_pub.offer(good.view(np.uint8))
    got = _drain(sub, 3)
    assert len(got) == 3 and sub.malformed == 1


def test_publish_without_reader_says_not_connected(aeron):
    from tandem.transport import NotConnected

    cfg, client = aeron
    pub = topology.outbound_publisher(client, cfg)
    with pytest.raises(NotConnected):
        pub.publish(records.new_events(1), wait_s=0)
