"""Who may reach whom: the ACL rules, pure and without I/O.

Relay and discovery never cross realms. Within a realm, access from source S
to target T follows T's ACL: a DENY rule whose principal matches S refuses;
otherwise an ALLOW rule matching S admits; otherwise only actors of the same
type (manufacturer+name) may talk. Default deny across types, as upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from actr_py.ids import ActorId
from actr_py.proto import actr_pb2

__all__ = ["AccessPolicy", "Principal", "may_discover", "may_relay"]


@dataclass(frozen=True, slots=True)
class Principal:
    """A pattern over actors; unset fields match anything (so an empty one matches all)."""

    realm: int | None = None
    #: (manufacturer, name); the informational version is ignored.
    actr_type: tuple[str, str] | None = None

    @classmethod
    def from_proto(cls, msg: actr_pb2.AclRule.Principal) -> Principal:
        realm = msg.realm.realm_id if msg.HasField("realm") else None
        actr_type = (
            (msg.actr_type.manufacturer, msg.actr_type.name) if msg.HasField("actr_type") else None
        )
        return cls(realm, actr_type)

    def matches(self, actor: ActorId) -> bool:
        if self.realm is not None and self.realm != actor.realm:
            return False
        return self.actr_type is None or self.actr_type == (
            actor.type.manufacturer,
            actor.type.name,
        )


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """One actor's ACL, compiled for fast repeated checks."""

    deny: tuple[Principal, ...] = ()
    allow: tuple[Principal, ...] = ()

    @classmethod
    def from_proto(cls, acl: actr_pb2.Acl | None) -> AccessPolicy:
        if acl is None:
            return cls()
        deny: list[Principal] = []
        allow: list[Principal] = []
        for rule in acl.rules:
            bucket = allow if rule.permission == actr_pb2.AclRule.ALLOW else deny
            bucket.extend(Principal.from_proto(p) for p in rule.principals)
        return cls(tuple(deny), tuple(allow))

    def denies(self, source: ActorId) -> bool:
        """Whether a DENY rule names ``source`` explicitly."""
        return any(p.matches(source) for p in self.deny)

    def admits(self, source: ActorId, owner: ActorId) -> bool:
        """Whether ``source`` may reach ``owner`` (the actor this policy belongs to)."""
        if self.denies(source):
            return False
        if any(p.matches(source) for p in self.allow):
            return True
        return source.type.same_type(owner.type)


def may_discover(source: ActorId, target: ActorId, target_policy: AccessPolicy) -> bool:
    """Discovery, route candidates and presence: the target's ACL decides."""
    return source.realm == target.realm and target_policy.admits(source, target)


def may_relay(
    source: ActorId,
    source_policy: AccessPolicy,
    target: ActorId,
    target_policy: AccessPolicy,
) -> bool:
    """Relay: either side's ACL admitting the other is enough, unless the target denies.

    A caller opens a session only toward a target that admits it, but the
    answers and ICE candidates must flow back even when the caller's own ACL
    does not list the callee. An explicit DENY in the target's ACL still wins:
    a sender's permissive ACL must not override what the target refused.
    """
    if source.realm != target.realm or target_policy.denies(source):
        return False
    return target_policy.admits(source, target) or source_policy.admits(target, source)
