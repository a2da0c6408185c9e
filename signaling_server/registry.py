"""Live sessions in memory: who is registered, on which connection, how loaded.

Also the candidate ranking, which is pure and works on any iterable of
sessions so it can be tested without a server.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actr_py.ids import ActorId
from actr_py.proto import actr_pb2

from .acl import AccessPolicy

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Registry", "Session", "TypeKey", "rank_candidates", "type_key"]

#: (realm, manufacturer, name): the version is informational and not part of it.
TypeKey = tuple[int, str, str]

_Factor = actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria


def type_key(realm: int, actr_type: Any) -> TypeKey:
    """Index key for an ActrTypeName or an ``actr.ActrType`` message."""
    return (realm, actr_type.manufacturer, actr_type.name)


@dataclass(eq=False, slots=True)
class Session:
    actor_id: ActorId
    conn: Connection
    policy: AccessPolicy
    acl: actr_pb2.Acl | None
    service_spec: actr_pb2.ServiceSpec | None
    ws_address: str | None
    #: Unix time the current credential expires.
    expires_at: float
    #: Monotonic time of the last authenticated message.
    last_seen: float
    availability: int = actr_pb2.FULL
    power_reserve: float = 0.0
    mailbox_backlog: float = 0.0
    subscriptions: set[TypeKey] = field(default_factory=set)

    @property
    def key(self) -> TypeKey:
        return type_key(self.actor_id.realm, self.actor_id.type)

    @property
    def fingerprint(self) -> str:
        return self.service_spec.fingerprint if self.service_spec is not None else ""


class Registry:
    def __init__(self) -> None:
        self._by_serial: dict[int, Session] = {}
        # Insertion-ordered, so unranked candidates come in registration order.
        self._by_type: dict[TypeKey, dict[int, Session]] = {}
        self._subscribers: dict[TypeKey, set[int]] = {}

    def __len__(self) -> int:
        return len(self._by_serial)

    def get(self, serial: int) -> Session | None:
        return self._by_serial.get(serial)

    def add(self, session: Session) -> Session | None:
        """Insert or replace (by serial); returns the replaced session."""
        serial = session.actor_id.serial
        old = self.remove(serial)
        self._by_serial[serial] = session
        self._by_type.setdefault(session.key, {})[serial] = session
        return old

    def remove(self, serial: int) -> Session | None:
        session = self._by_serial.pop(serial, None)
        if session is None:
            return None
        peers = self._by_type.get(session.key)
        if peers is not None:
            peers.pop(serial, None)
            if not peers:
                del self._by_type[session.key]
        for key in session.subscriptions:
            subs = self._subscribers.get(key)
            if subs is not None:
                subs.discard(serial)
                if not subs:
                    del self._subscribers[key]
        return session

    def sessions(self) -> Iterable[Session]:
        return self._by_serial.values()

    def of_type(self, key: TypeKey) -> Iterable[Session]:
        return self._by_type.get(key, {}).values()

    def types_in_realm(self, realm: int) -> Iterable[tuple[TypeKey, Iterable[Session]]]:
        return ((k, v.values()) for k, v in self._by_type.items() if k[0] == realm)

    def subscribe(self, session: Session, key: TypeKey) -> None:
        session.subscriptions.add(key)
        self._subscribers.setdefault(key, set()).add(session.actor_id.serial)

    def unsubscribe(self, session: Session, key: TypeKey) -> None:
        session.subscriptions.discard(key)
        subs = self._subscribers.get(key)
        if subs is not None:
            subs.discard(session.actor_id.serial)
            if not subs:
                del self._subscribers[key]

    def subscribers(self, key: TypeKey) -> list[Session]:
        return [self._by_serial[s] for s in self._subscribers.get(key, ()) if s in self._by_serial]


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def rank_candidates(
    sessions: Iterable[Session], factors: Iterable[int], count: int
) -> list[Session]:
    """The best ``count`` sessions by the ranking factors, in order of precedence.

    Ranked: MAXIMUM_POWER_RESERVE (higher first) and MINIMUM_MAILBOX_BACKLOG
    (lower first), from each node's latest Ping. BEST_COMPATIBILITY, NEAREST
    and CLIENT_AFFINITY are accepted but not ranked yet. Ties, and requests
    without factors, fall back to registration order (serial).
    """
    extractors = []
    for factor in factors:
        if factor == _Factor.MAXIMUM_POWER_RESERVE:
            extractors.append(lambda s: -_finite(s.power_reserve))
        elif factor == _Factor.MINIMUM_MAILBOX_BACKLOG:
            extractors.append(lambda s: _finite(s.mailbox_backlog))

    def sort_key(s: Session) -> tuple[float, ...]:
        return (*(f(s) for f in extractors), s.actor_id.serial)

    return heapq.nsmallest(count, sessions, key=sort_key)
