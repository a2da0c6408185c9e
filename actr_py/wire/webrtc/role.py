"""Who sends the SDP offer: the deterministic rule used when the server is silent.

The signaling server arbitrates (``RoleNegotiation`` in, ``RoleAssignment`` to
both peers) with the same rule, so the local fallback can never disagree
with a correct server: the smaller ``(realm, serial, manufacturer, name)``
offers. :class:`~actr_py.ids.ActorId` ordering is exactly that tuple.
"""

from __future__ import annotations

from ...errors import InvalidId
from ...ids import ActorId
from ...proto import actr_pb2

__all__ = ["offerer_by_rule", "role_negotiation"]


def offerer_by_rule(local: ActorId, remote: ActorId) -> bool:
    """True when ``local`` must offer to ``remote``."""
    if local == remote:
        raise InvalidId(f"{local}: an actor cannot open a WebRTC connection to itself")
    return local < remote


def role_negotiation(local: ActorId, remote: ActorId) -> actr_pb2.RoleNegotiation:
    """The request that asks the server to assign roles for this pair."""
    msg = actr_pb2.RoleNegotiation(realm_id=local.realm)
    getattr(msg, "from").CopyFrom(local.to_proto())  # ``from`` is a Python keyword
    msg.to.CopyFrom(remote.to_proto())
    return msg
