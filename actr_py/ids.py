"""Actor identities and their string forms.

``ActrTypeName`` is ``manufacturer+name`` (``acme+echo``); ``ActorId`` is
``<serial hex>@<realm>:<manufacturer>+<name>`` (``1a2b3c@101:acme+echo``).
Both are immutable, hashable and ordered the way the signaling server breaks
ties (realm, serial, manufacturer, name), and convert to and from protobuf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import InvalidId
from .proto import actr_pb2

__all__ = ["ActorId", "ActrTypeName"]

# Upstream allows letters, digits, '-', '_' and '.' in both parts.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _check_part(what: str, value: str, text: str) -> None:
    if not value:
        raise InvalidId(f"{text!r}: {what} is empty")
    if not _PART.match(value):
        raise InvalidId(
            f"{text!r}: {what} {value!r} may only hold letters, digits, '.', '_' and '-'"
        )


@dataclass(frozen=True, order=True, slots=True)
class ActrTypeName:
    """An actor type, ``manufacturer+name``; ``version`` is informational."""

    manufacturer: str
    name: str
    version: str = ""

    def __post_init__(self) -> None:
        text = f"{self.manufacturer}+{self.name}"
        _check_part("manufacturer", self.manufacturer, text)
        _check_part("name", self.name, text)

    @classmethod
    def parse(cls, text: str) -> ActrTypeName:
        if not isinstance(text, str):
            raise InvalidId(f"actor type must be a string, got {type(text).__name__}")
        manufacturer, sep, name = text.partition("+")
        if not sep:
            raise InvalidId(f"{text!r}: actor type needs the form 'manufacturer+name'")
        if "+" in name:
            raise InvalidId(f"{text!r}: actor type has more than one '+'")
        return cls(manufacturer, name)

    @classmethod
    def from_proto(cls, msg: actr_pb2.ActrType) -> ActrTypeName:
        return cls(msg.manufacturer, msg.name, msg.version)

    def to_proto(self) -> actr_pb2.ActrType:
        msg = actr_pb2.ActrType(manufacturer=self.manufacturer, name=self.name)
        if self.version:
            msg.version = self.version
        return msg

    def same_type(self, other: ActrTypeName) -> bool:
        """Equal ignoring version."""
        return (self.manufacturer, self.name) == (other.manufacturer, other.name)

    def __str__(self) -> str:
        return f"{self.manufacturer}+{self.name}"


@dataclass(frozen=True, order=True, slots=True)
class ActorId:
    """A running actor: realm, serial number issued at registration, type."""

    realm: int
    serial: int
    type: ActrTypeName
    # Ids key every lane and pending-call table: hash once, not per lookup.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.realm < 2**32:
            raise InvalidId(f"realm {self.realm} is outside 0..2^32-1")
        if not 0 <= self.serial < 2**64:
            raise InvalidId(f"serial {self.serial} is outside 0..2^64-1")
        key = (self.realm, self.serial, self.type.manufacturer, self.type.name)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        # Compared on every response (is it from the peer we called?): the
        # generated __eq__ builds two tuples each time.
        if self is other:
            return True
        if type(other) is not ActorId:
            return NotImplemented
        return (
            self._hash == other._hash
            and self.serial == other.serial
            and self.realm == other.realm
            and self.type == other.type
        )

    @classmethod
    def parse(cls, text: str) -> ActorId:
        if not isinstance(text, str):
            raise InvalidId(f"actor id must be a string, got {type(text).__name__}")
        serial_hex, at, rest = text.partition("@")
        if not at:
            raise InvalidId(f"{text!r}: actor id needs the form '<serial hex>@<realm>:<type>'")
        realm_text, colon, type_text = rest.partition(":")
        if not colon:
            raise InvalidId(f"{text!r}: missing ':' between realm and type")
        try:
            serial = int(serial_hex, 16)
        except ValueError:
            raise InvalidId(f"{text!r}: serial {serial_hex!r} is not hexadecimal") from None
        if not realm_text.isdigit():
            raise InvalidId(f"{text!r}: realm {realm_text!r} is not a decimal number")
        return cls(int(realm_text), serial, ActrTypeName.parse(type_text))

    @classmethod
    def from_proto(cls, msg: actr_pb2.ActrId) -> ActorId:
        return cls(msg.realm.realm_id, msg.serial_number, ActrTypeName.from_proto(msg.type))

    def to_proto(self) -> actr_pb2.ActrId:
        return actr_pb2.ActrId(
            realm=actr_pb2.Realm(realm_id=self.realm),
            serial_number=self.serial,
            type=self.type.to_proto(),
        )

    def __str__(self) -> str:
        return f"{self.serial:x}@{self.realm}:{self.type}"
