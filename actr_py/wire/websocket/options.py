"""Tunables of the WebSocket lane, validated once so the hot path trusts them.

The defaults aim at a LAN/loopback lane carrying RPC envelopes and stream
chunks: frames up to 16 MiB, coalesced WebSocket messages of at most 256 KiB,
and dead peers noticed within a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .framing import HEADER_SIZE

__all__ = ["DEFAULT_OPTIONS", "WebSocketOptions"]


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    """Per-connection limits and timers; both ends should use the same sizes."""

    #: Largest payload one frame may carry. Sending more raises PayloadTooLarge
    #: locally; receiving more is a protocol violation (413) that ends the lane.
    max_frame_size: int = 16 * 1024 * 1024
    #: Several queued frames are packed into one WebSocket message up to this
    #: many bytes; a frame larger than this travels alone.
    coalesce_limit: int = 256 * 1024
    #: ``send`` waits while this many bytes are batched or sit in the
    #: transport's write buffer (WebSocket headers included), so a peer that
    #: does not read makes senders wait instead of growing memory. The bound
    #: per connection is this plus one frame.
    max_pending_bytes: int = 1024 * 1024
    #: Seconds between liveness checks; a ping goes out when the line was silent.
    heartbeat_interval: float = 2.0
    #: Seconds without any sign of life (data, ping, pong, or write progress
    #: while we have a backlog) after which the peer is declared dead.
    dead_peer_timeout: float = 6.0
    #: Seconds a new socket has to present its LaneHello (and be authenticated).
    hello_timeout: float = 5.0
    #: Seconds a graceful close may spend flushing and waiting for the peer.
    close_timeout: float = 2.0

    def __post_init__(self) -> None:
        if self.max_frame_size < 1:
            raise ConfigError(f"max_frame_size must be >= 1, got {self.max_frame_size}")
        if self.max_frame_size > 0xFFFFFFFF:
            raise ConfigError("max_frame_size must fit the u32 length field")
        if not HEADER_SIZE < self.coalesce_limit <= self.max_frame_size + HEADER_SIZE:
            raise ConfigError(
                f"coalesce_limit must be in ({HEADER_SIZE}, max_frame_size + {HEADER_SIZE}], "
                f"got {self.coalesce_limit}"
            )
        if self.max_pending_bytes < 1:
            raise ConfigError(f"max_pending_bytes must be >= 1, got {self.max_pending_bytes}")
        for name in ("heartbeat_interval", "dead_peer_timeout", "hello_timeout", "close_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.dead_peer_timeout < self.heartbeat_interval:
            raise ConfigError("dead_peer_timeout must be at least one heartbeat_interval")

    @property
    def max_message_size(self) -> int:
        """Largest WebSocket message a conforming peer sends us (one max frame)."""
        return self.max_frame_size + HEADER_SIZE


DEFAULT_OPTIONS = WebSocketOptions()
