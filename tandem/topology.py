"""The one place that knows how processes are wired: drivers, channels and streams."""

from __future__ import annotations

import os
from pathlib import Path

import pyaeron

from sequencer import records
from tandem.transport import RecordPublisher, RecordSubscriber


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


def input_journal_dir(cfg) -> Path:
    return Path(cfg["journal"]["dir"])


def output_journal_dir(cfg) -> Path:
    return Path(str(cfg["journal"]["dir"]) + "-out")
