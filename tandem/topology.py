"""The one place that knows how processes are wired: drivers, channels and streams."""

from __future__ import annotations

import os
from pathlib import Path

import pyaeron

from sequencer import records
from tandem.transport import MessagePublisher, MessageSubscriber, RecordPublisher, RecordSubscriber


def driver_dir(cfg) -> str:
    return str(Path(cfg["aeron"]["dir"]).resolve())


def start_media_driver(cfg):
    """The host's media driver (embedded C driver, in this process)."""
    d = driver_dir(cfg)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    return pyaeron.MediaDriver(dir=d)


def connect(cfg):
    return pyaeron.Aeron(dir=driver_dir(cfg))


def inbound_publisher(aeron, cfg) -> RecordPublisher:
    """Gateways, venue adapters and producers → sequencer."""
    a = cfg["aeron"]
    return RecordPublisher(aeron, a["inbound_channel"], a["inbound_stream"],
                           records.COMMAND_SIZE, a["max_message_bytes"])


def inbound_subscriber(aeron, cfg) -> RecordSubscriber:
    a = cfg["aeron"]
    return RecordSubscriber(aeron, a["inbound_channel"], a["inbound_stream"], records.COMMAND_SIZE,
                            cfg["sequencer"]["batch_max"], a["max_message_bytes"])


def outbound_publisher(aeron, cfg) -> RecordPublisher:
    """Sequencer → gateways, venue adapters, post-trade readers."""
    a = cfg["aeron"]
    return RecordPublisher(aeron, a["outbound_channel"], a["outbound_stream"],
                           records.EVENT_SIZE, a["max_message_bytes"])


def outbound_subscriber(aeron, cfg, batch_max: int = 8192, available_image=None,
                        unavailable_image=None) -> RecordSubscriber:
    """The image callbacks tell a consumer that a sequencer incarnation came or went."""
    a = cfg["aeron"]
    return RecordSubscriber(aeron, a["outbound_channel"], a["outbound_stream"], records.EVENT_SIZE,
                            batch_max, a["max_message_bytes"], available_image, unavailable_image)


def replication_publishers(aeron, cfg) -> tuple[MessagePublisher, MessagePublisher]:
    """(data, ack) publications towards the other node. On one host both nodes use the
    same IPC channel, so each also hears itself: receivers skip their own node id."""
    r = cfg["replication"]
    return (MessagePublisher(aeron, r["peer_channel"], r["data_stream"]),
            MessagePublisher(aeron, r["peer_channel"], r["ack_stream"]))


def replication_subscribers(aeron, cfg) -> tuple[MessageSubscriber, MessageSubscriber]:
    """(data, ack) subscriptions of this node. A primary listens to the data stream too:
    hearing another primary of a newer epoch there is how it learns it was replaced."""
    r = cfg["replication"]
    return (MessageSubscriber(aeron, r["listen_channel"], r["data_stream"]),
            MessageSubscriber(aeron, r["listen_channel"], r["ack_stream"]))


def control_subscriber(aeron, cfg) -> MessageSubscriber:
    r = cfg["replication"]
    return MessageSubscriber(aeron, r["listen_channel"], r["control_stream"])


def control_publisher(aeron, cfg) -> MessagePublisher:
    """The operator tool's way to a node (the node's own config names its listen channel)."""
    r = cfg["replication"]
    return MessagePublisher(aeron, r["listen_channel"], r["control_stream"])


def input_journal_dir(cfg) -> Path:
    return Path(cfg["journal"]["dir"])


def output_journal_dir(cfg) -> Path:
    return Path(str(cfg["journal"]["dir"]) + "-out")
