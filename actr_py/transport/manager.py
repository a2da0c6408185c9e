"""Transport managers create, cache and reuse lanes to peers.

One manager per wire kind. The node asks the route table which kinds may
carry a PayloadType and takes the first manager that can reach the peer.
"""

from __future__ import annotations

import abc

from ..ids import ActorId
from ..payload_type import PayloadType
from ..wire.base import CloseCallback, WireConnection
from ..wire.inproc import InprocHub
from .lane import DataLane

__all__ = ["InprocTransportManager", "TransportManager"]


class TransportManager(abc.ABC):
    kind: str = ""

    def __init__(self) -> None:
        self._lanes: dict[tuple[ActorId, PayloadType], DataLane] = {}
        self._on_peer_lost: list[CloseCallback] = []
        self._tracked: set[int] = set()

    def on_peer_lost(self, callback: CloseCallback) -> None:
        """``callback(conn, exc)`` runs when a connection this manager made goes down."""
        self._on_peer_lost.append(callback)

    @abc.abstractmethod
    def can_reach(self, peer: ActorId) -> bool:
        """Cheap check whether this kind of wire could carry traffic to ``peer``."""

    @abc.abstractmethod
    async def _connect(self, peer: ActorId) -> WireConnection:
        """Open (or reuse) the wire connection to ``peer``."""

    async def lane(self, peer: ActorId, payload_type: PayloadType) -> DataLane:
        lane = self._lanes.get((peer, payload_type))
        if lane is not None and not lane.closed:
            return lane
        conn = await self._connect(peer)
        lane = DataLane(conn, payload_type)
        self._lanes[(peer, payload_type)] = lane
        return lane

    def _track(self, conn: WireConnection) -> None:
        """Watch ``conn`` once, however many lanes ride it."""
        if id(conn) in self._tracked:
            return
        self._tracked.add(id(conn))
        conn.add_close_callback(self._connection_closed)

    def _connection_closed(self, conn: WireConnection, exc: BaseException | None) -> None:
        self._tracked.discard(id(conn))
        for key in [k for k, lane in self._lanes.items() if lane.connection is conn]:
            del self._lanes[key]
        for callback in self._on_peer_lost:
            callback(conn, exc)

    async def close(self) -> None:
        conns = {id(lane.connection): lane.connection for lane in self._lanes.values()}
        self._lanes.clear()
        for conn in conns.values():
            await conn.close("node stopping")


class InprocTransportManager(TransportManager):
    kind = "inproc"

    def __init__(self, hub: InprocHub, self_id: ActorId) -> None:
        super().__init__()
        self.hub = hub
        self.self_id = self_id
        self._conns: dict[ActorId, WireConnection] = {}

    def can_reach(self, peer: ActorId) -> bool:
        return self.hub.is_registered(peer)

    async def _connect(self, peer: ActorId) -> WireConnection:
        conn = self._conns.get(peer)
        if conn is None or conn.closed:
            conn = self.hub.connect(self.self_id, peer)
            self._conns[peer] = conn
            self._track(conn)
        return conn
