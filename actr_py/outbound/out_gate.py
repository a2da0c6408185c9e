"""OutGate: where every outbound frame leaves the node.

The gate asks the route table which lane kinds may carry a PayloadType, in
order, and takes a lane from the first transport manager that can reach the
peer. In-process and out-of-process targets go through the same call, so
the workload never knows which wire carried its message; the in-process
variant is simply a gate with only the in-process manager.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable

from ..errors import Unavailable
from ..ids import ActorId
from ..payload_type import PayloadType
from ..proto import package_pb2
from ..transport.lane import DataLane
from ..transport.manager import InprocTransportManager, TransportManager
from ..transport.route_table import RouteTable
from ..wire.inproc import InprocHub

__all__ = ["OutGate"]

log = logging.getLogger("actr_py.outbound")


class OutGate:
    def __init__(self, managers: Iterable[TransportManager], routes: RouteTable | None = None):
        self.managers = {m.kind: m for m in managers}
        self.routes = routes or RouteTable()
        self._lanes: dict[tuple[ActorId, PayloadType], DataLane] = {}

    @classmethod
    def inproc(cls, hub: InprocHub, self_id: ActorId) -> OutGate:
        """The in-process variant: reaches only nodes of this process."""
        return cls([InprocTransportManager(hub, self_id)])

    def add_manager(self, manager: TransportManager) -> None:
        self.managers[manager.kind] = manager

    def replace_manager(self, manager: TransportManager) -> None:
        """Swap the manager of a kind (the node's identity changed) and drop cached lanes."""
        self.managers[manager.kind] = manager
        self._lanes.clear()

    def can_reach(self, peer: ActorId) -> bool:
        return any(m.can_reach(peer) for m in self.managers.values())

    async def lane(self, peer: ActorId, payload_type: PayloadType) -> DataLane:
        lane = self._lanes.get((peer, payload_type))
        if lane is not None and not lane.closed:
            return lane
        errors: list[str] = []
        for kind in self.routes.kinds(payload_type):
            manager = self.managers.get(kind)
            if manager is None or not manager.can_reach(peer):
                continue
            try:
                lane = await manager.lane(peer, payload_type)
            except Unavailable as exc:
                errors.append(f"{kind}: {exc.message}")
                continue
            if errors:
                log.warning(
                    "%s to %s falls back to %s (%s)",
                    payload_type.name, peer, kind, "; ".join(errors),
                )
            self._lanes[(peer, payload_type)] = lane
            return lane
        detail = "; ".join(errors) if errors else "no lane kind in its route can reach it"
        raise Unavailable(f"cannot reach {peer} for {payload_type.name}: {detail}")

    def send(self, peer: ActorId, payload_type: PayloadType, data: bytes) -> Awaitable[None]:
        """Send one frame to ``peer``; await the result.

        With a lane already open this is the wire's own send (no coroutine
        layer of ours on the hot path); otherwise a coroutine that opens one.
        """
        lane = self._lanes.get((peer, payload_type))
        if lane is None or lane.connection.closed:
            return self._send_on_new_lane(peer, payload_type, data, None)
        return lane.connection.send(payload_type, data)

    def send_envelope(
        self, peer: ActorId, payload_type: PayloadType, envelope: package_pb2.RpcEnvelope
    ) -> Awaitable[None]:
        """Like :meth:`send`, for an envelope (the in-process wire hands it over as is)."""
        lane = self._lanes.get((peer, payload_type))
        if lane is None or lane.connection.closed:
            return self._send_on_new_lane(peer, payload_type, None, envelope)
        return lane.connection.send_envelope(payload_type, envelope)

    async def _send_on_new_lane(
        self,
        peer: ActorId,
        payload_type: PayloadType,
        data: bytes | None,
        envelope: package_pb2.RpcEnvelope | None,
    ) -> None:
        lane = await self.lane(peer, payload_type)
        if envelope is not None:
            await lane.connection.send_envelope(payload_type, envelope)
        else:
            assert data is not None
            await lane.connection.send(payload_type, data)

    async def close(self) -> None:
        self._lanes.clear()
        for manager in self.managers.values():
            await manager.close()
