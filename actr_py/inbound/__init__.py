"""Inbound gate: frames from every wire, routed by PayloadType."""

from .gate import GateStats, InboundGate
from .mailbox import InboundMessage, MailboxFull, MemoryMailbox
from .stream_registry import DataStreamRegistry, StreamCallback, StreamStats

__all__ = [
    "DataStreamRegistry",
    "GateStats",
    "InboundGate",
    "InboundMessage",
    "MailboxFull",
    "MemoryMailbox",
    "StreamCallback",
    "StreamStats",
]
