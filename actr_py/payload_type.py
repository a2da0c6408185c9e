"""PayloadType: which lane a message rides, with the lane properties it implies."""

from __future__ import annotations

from enum import IntEnum

from .proto import package_pb2

__all__ = ["PayloadType"]


class PayloadType(IntEnum):
    """Mirrors ``actr.PayloadType``; one lane per type per peer."""

    RPC_RELIABLE = package_pb2.RPC_RELIABLE
    RPC_SIGNAL = package_pb2.RPC_SIGNAL
    STREAM_RELIABLE = package_pb2.STREAM_RELIABLE
    STREAM_LATENCY_FIRST = package_pb2.STREAM_LATENCY_FIRST
    MEDIA_RTP = package_pb2.MEDIA_RTP

    @property
    def is_rpc(self) -> bool:
        return self in (PayloadType.RPC_RELIABLE, PayloadType.RPC_SIGNAL)

    @property
    def is_stream(self) -> bool:
        return self in (PayloadType.STREAM_RELIABLE, PayloadType.STREAM_LATENCY_FIRST)

    @property
    def ordered(self) -> bool:
        """Whether the lane must keep order (all but latency-first streams)."""
        return self is not PayloadType.STREAM_LATENCY_FIRST
