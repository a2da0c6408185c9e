"""Lanes to peers in other processes over the direct WebSocket wire.

The pool owns the connections (one per peer, reused both ways); this manager
finds a peer's address through signaling when it has no connection yet, and
watches each connection so that calls pending on it fail at once (503) when
it drops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..errors import Unavailable
from ..ids import ActorId
from ..wire.base import WireConnection
from ..wire.websocket import WebSocketPool
from .manager import TransportManager

__all__ = ["WebSocketTransportManager"]

AddressResolver = Callable[[ActorId], Awaitable[str | None]]


class WebSocketTransportManager(TransportManager):
    kind = "websocket"

    def __init__(self, pool: WebSocketPool, resolve_address: AddressResolver) -> None:
        super().__init__()
        self.pool = pool
        self._resolve = resolve_address
        self.addresses: dict[ActorId, str] = {}

    def can_reach(self, peer: ActorId) -> bool:
        # Any registered peer may publish an address; signaling tells us on connect.
        return True

    def learn(self, peer: ActorId, address: str | None) -> None:
        """Remember an address discovery already returned (saves a lookup)."""
        if address:
            self.addresses[peer] = address

    async def _connect(self, peer: ActorId) -> WireConnection:
        conn = self.pool.peek(peer)
        if conn is None:
            url = self.addresses.get(peer)
            if url is None:
                url = await self._resolve(peer)
                if url is None:
                    raise Unavailable(f"{peer} accepts no direct WebSocket lanes")
                self.addresses[peer] = url
            try:
                conn = await self.pool.get(peer, url)
            except Unavailable:
                self.addresses.pop(peer, None)  # it may have moved; ask again next time
                raise
        self._track(conn)
        return conn

    async def close(self) -> None:
        await super().close()
        await self.pool.close()
