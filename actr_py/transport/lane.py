"""DataLane: one PayloadType to one peer over one wire connection."""

from __future__ import annotations

from ..ids import ActorId
from ..payload_type import PayloadType
from ..wire.base import WireConnection

__all__ = ["DataLane"]


class DataLane:
    """The unit the route table hands out; cheap, cached per (peer, PayloadType)."""

    __slots__ = ("connection", "payload_type")

    def __init__(self, connection: WireConnection, payload_type: PayloadType) -> None:
        self.connection = connection
        self.payload_type = payload_type

    @property
    def peer_id(self) -> ActorId:
        return self.connection.peer_id

    @property
    def kind(self) -> str:
        return self.connection.kind

    @property
    def closed(self) -> bool:
        return self.connection.closed

    async def send(self, data: bytes) -> None:
        await self.connection.send(self.payload_type, data)

    def __repr__(self) -> str:
        return f"DataLane({self.kind}, {self.peer_id}, {self.payload_type.name})"
