"""Lanes to peers over WebRTC DataChannels, one RTCPeerConnection per peer.

The coordinator owns the connections (lazy, shared first attempt, cached);
this manager hands out its lanes and watches each connection so that calls
pending on a peer fail at once (503) when the lane heartbeat declares it dead.
"""

from __future__ import annotations

from ..ids import ActorId
from ..wire.base import WireConnection
from ..wire.webrtc import WebRtcCoordinator
from .manager import TransportManager

__all__ = ["WebRtcTransportManager"]


class WebRtcTransportManager(TransportManager):
    kind = "webrtc"

    def __init__(self, coordinator: WebRtcCoordinator) -> None:
        super().__init__()
        self.coordinator = coordinator

    def can_reach(self, peer: ActorId) -> bool:
        # Any registered peer may answer an offer relayed through signaling.
        return True

    async def _connect(self, peer: ActorId) -> WireConnection:
        conn = await self.coordinator.connect(peer)
        self._track(conn)
        return conn

    def adopt(self, conn: WireConnection) -> None:
        """A connection the peer opened to us: watch it like our own."""
        self._track(conn)

    async def close(self) -> None:
        await super().close()
        await self.coordinator.close()
