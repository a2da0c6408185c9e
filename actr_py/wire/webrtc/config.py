"""Knobs of the WebRTC wire, validated once so the hot paths can trust them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ...errors import ConfigError

__all__ = ["WebRtcConfig"]


@dataclass(frozen=True, slots=True)
class WebRtcConfig:
    """Configuration of a :class:`~.coordinator.WebRtcCoordinator`.

    Times are seconds, sizes bytes. The defaults suit a node on one host;
    tests shorten the heartbeat to see a dead peer sooner.
    """

    #: Local addresses ICE may gather host candidates on. The default keeps
    #: everything on loopback; ``None`` lets aioice use every interface
    #: (its own discovery, which skips loopback). See :mod:`.gathering`.
    ice_addresses: tuple[str, ...] | None = ("127.0.0.1",)
    #: STUN/TURN URLs (``stun:host:port``). Empty: no server, host candidates only.
    #: aiortc would otherwise add Google's public STUN server by default.
    ice_servers: tuple[str, ...] = ()
    #: Whole connect() budget: role choice, offer/answer, ICE, DTLS, SCTP, handshake.
    connect_timeout: float = 5.0
    #: How long to wait for the server's RoleAssignment before the local rule decides.
    role_timeout: float = 1.0
    #: How long to wait for the peer's control HELLO once transport is up before
    #: treating it as a plain actr peer (no framing, heartbeat or credit).
    hello_timeout: float = 1.0
    #: Send a PING this often on the control channel.
    heartbeat_interval: float = 0.5
    #: Declare the peer dead when nothing at all arrived for this long.
    heartbeat_timeout: float = 2.5
    #: Largest DataChannel message we send; bigger frames are fragmented. Also
    #: capped by the peer's SDP ``max-message-size``.
    fragment_size: int = 64 * 1024
    #: Largest frame we accept (reassembled); larger raises PayloadTooLarge.
    max_message_size: int = 64 * 1024 * 1024
    #: Per-lane receive window announced in HELLO (reliable lanes only). A
    #: sender stops when this much is unconsumed by our frame handler.
    receive_window: int = 4 * 1024 * 1024
    #: Sender-side buffering: send() waits while a channel holds more than
    #: ``send_high_water`` unsent bytes, and resumes below ``send_low_water``.
    send_high_water: int = 1024 * 1024
    send_low_water: int = 256 * 1024
    #: Latency-first lane: inbound messages kept for a slow handler; beyond it
    #: the oldest are dropped (that lane trades completeness for freshness).
    latency_queue_limit: int = 1024
    #: UDP receive buffer asked for on each ICE socket (kernel caps it at
    #: net.core.rmem_max); None keeps aioice's 256 KiB. See gathering.py.
    udp_receive_buffer: int | None = 4 * 1024 * 1024
    #: Send our ICE candidates as trickle IceCandidate messages (plus an
    #: end-of-candidates marker) in addition to the SDP.
    trickle: bool = True
    #: Early IceCandidates kept per peer while no remote description exists.
    max_buffered_candidates: int = 64

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"webrtc.{name}: must be > 0, got {value!r}")

        for name in (
            "connect_timeout",
            "role_timeout",
            "hello_timeout",
            "heartbeat_interval",
            "heartbeat_timeout",
            "max_message_size",
            "receive_window",
            "send_high_water",
            "latency_queue_limit",
            "max_buffered_candidates",
        ):
            positive(name)
        if self.udp_receive_buffer is not None and self.udp_receive_buffer <= 0:
            raise ConfigError(
                f"webrtc.udp_receive_buffer: must be > 0 or None, got {self.udp_receive_buffer}"
            )
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError(
                "webrtc.heartbeat_timeout: must exceed heartbeat_interval "
                f"({self.heartbeat_timeout} <= {self.heartbeat_interval})"
            )
        if not 1024 <= self.fragment_size <= 16 * 1024 * 1024:
            raise ConfigError(
                f"webrtc.fragment_size: must be within 1 KiB..16 MiB, got {self.fragment_size}"
            )
        if not 0 <= self.send_low_water < self.send_high_water:
            raise ConfigError(
                "webrtc.send_low_water: must be >= 0 and below send_high_water "
                f"({self.send_low_water} vs {self.send_high_water})"
            )
        if self.ice_addresses is not None:
            if isinstance(self.ice_addresses, str):
                raise ConfigError("webrtc.ice_addresses: give a list of addresses, not a string")
            if not self.ice_addresses:
                raise ConfigError(
                    "webrtc.ice_addresses: empty list would gather no candidate; "
                    "use None for every interface"
                )
            for address in self.ice_addresses:
                try:
                    ipaddress.ip_address(address)
                except ValueError:
                    raise ConfigError(
                        f"webrtc.ice_addresses: {address!r} is not an IP address"
                    ) from None
            object.__setattr__(self, "ice_addresses", tuple(self.ice_addresses))
        object.__setattr__(self, "ice_servers", tuple(self.ice_servers))
