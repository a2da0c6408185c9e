"""Dest: where a call, tell or stream chunk goes."""

from __future__ import annotations

from enum import Enum

from ..errors import InvalidId
from ..ids import ActorId

__all__ = ["Dest", "DestKind", "as_dest"]


class DestKind(Enum):
    SHELL = "shell"  # the application holding this node's ActrRef
    LOCAL = "local"  # this node's own workload
    ACTOR = "actor"  # another actor, in this process or elsewhere


class Dest:
    __slots__ = ("actor_id", "kind")

    def __init__(self, kind: DestKind, actor_id: ActorId | None = None) -> None:
        self.kind = kind
        self.actor_id = actor_id

    @classmethod
    def shell(cls) -> Dest:
        return _SHELL

    @classmethod
    def local(cls) -> Dest:
        return _LOCAL

    @classmethod
    def actor(cls, actor_id: ActorId | str) -> Dest:
        if isinstance(actor_id, str):
            actor_id = ActorId.parse(actor_id)
        if not isinstance(actor_id, ActorId):
            raise InvalidId(f"Dest.actor needs an ActorId, got {type(actor_id).__name__}")
        return cls(DestKind.ACTOR, actor_id)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Dest)
            and self.kind == other.kind
            and self.actor_id == other.actor_id
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.actor_id))

    def __repr__(self) -> str:
        if self.kind is DestKind.ACTOR:
            return f"Dest.actor({str(self.actor_id)!r})"
        return f"Dest.{self.kind.value}()"


_SHELL = Dest(DestKind.SHELL)
_LOCAL = Dest(DestKind.LOCAL)


def as_dest(value: Dest | ActorId | str) -> Dest:
    """Accept a Dest, an ActorId or an id string wherever a destination is due."""
    if isinstance(value, Dest):
        return value
    return Dest.actor(value)
