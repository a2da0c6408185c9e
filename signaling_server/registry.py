"""Live sessions in memory: who is registered, on which connection, how loaded.

Also the candidate ranking, which is pure and works on any iterable of
sessions so it can be tested without a server.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from actr_py.ids import ActorId
from actr_py.proto import actr_pb2

from .acl import AccessPolicy

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Registry", "Session", "TypeKey", "rank_candidates", "ranking_key", "type_key"]

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
    # Derived, for ranking with a C-level attrgetter key.
    serial: int = field(init=False, default=0)
    neg_power_reserve: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.serial = self.actor_id.serial
        self.report_load(self.availability, self.power_reserve, self.mailbox_backlog)

    def report_load(self, availability: int, power_reserve: float, mailbox_backlog: float) -> None:
        """Record a Ping; non-finite figures count as 0 so they cannot poison the ranking."""
        self.availability = availability
        self.power_reserve = power_reserve if math.isfinite(power_reserve) else 0.0
        self.mailbox_backlog = mailbox_backlog if math.isfinite(mailbox_backlog) else 0.0
        self.neg_power_reserve = -self.power_reserve

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
        # Per type: a version bumped on every change that can reorder it, and the
        # sorted candidate lists built at some version, by ranking attributes.
        self._versions: dict[TypeKey, int] = {}
        self._ranked: dict[TypeKey, dict[tuple[str, ...], tuple[int, list[Session]]]] = {}

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
        self.touch(session.key)
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
                self._versions.pop(session.key, None)
                self._ranked.pop(session.key, None)
            else:
                self.touch(session.key)
        for key in session.subscriptions:
            subs = self._subscribers.get(key)
            if subs is not None:
                subs.discard(serial)
                if not subs:
                    del self._subscribers[key]
        return session

    def report_load(
        self, session: Session, availability: int, power_reserve: float, mailbox_backlog: float
    ) -> None:
        """Record a Ping and invalidate the rankings it may change."""
        session.report_load(availability, power_reserve, mailbox_backlog)
        self.touch(session.key)

    def touch(self, key: TypeKey) -> None:
        """Invalidate the cached rankings of a type (a member joined, left or reported load)."""
        self._versions[key] = self._versions.get(key, 0) + 1

    def ranked(self, key: TypeKey, factors: Iterable[int]) -> list[Session]:
        """All sessions of a type, best first; cached until the type changes.

        Route-candidate requests then cost O(candidates wanted) instead of a
        sort over every live node of the type.
        """
        names = _ranking_names(factors)
        version = self._versions.get(key, 0)
        per_type = self._ranked.setdefault(key, {})
        cached = per_type.get(names)
        if cached is not None and cached[0] == version:
            return cached[1]
        ordered = sorted(self.of_type(key), key=attrgetter(*names, "serial"))
        per_type[names] = (version, ordered)
        return ordered

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


_RANKED = {
    _Factor.MAXIMUM_POWER_RESERVE: "neg_power_reserve",
    _Factor.MINIMUM_MAILBOX_BACKLOG: "mailbox_backlog",
}


def _ranking_names(factors: Iterable[int]) -> tuple[str, ...]:
    names: list[str] = []
    for factor in factors:
        name = _RANKED.get(factor)
        if name is not None and name not in names:
            names.append(name)
    return tuple(names)


def ranking_key(factors: Iterable[int]) -> Callable[[Session], tuple[Any, ...]]:
    """Sort key for the ranking factors, in order of precedence, then serial.

    Ranked: MAXIMUM_POWER_RESERVE (higher first) and MINIMUM_MAILBOX_BACKLOG
    (lower first), from each node's latest Ping. BEST_COMPATIBILITY, NEAREST
    and CLIENT_AFFINITY are accepted but not ranked yet. Ties, and requests
    without factors, fall back to registration order (serial).
    """
    return attrgetter(*_ranking_names(factors), "serial")


def rank_candidates(
    sessions: Iterable[Session], factors: Iterable[int], count: int
) -> list[Session]:
    """The best ``count`` sessions by :func:`ranking_key`."""
    return heapq.nsmallest(count, sessions, key=ranking_key(factors))
