from __future__ import annotations

import re

import pytest

from actr_py import ActorId, ActrTypeName, InvalidId


def test_parse_and_format_round_trip() -> None:
    a = ActorId.parse("1a2b3c@101:acme+echo")
    assert (a.serial, a.realm, a.type) == (0x1A2B3C, 101, ActrTypeName("acme", "echo"))
    assert str(a) == "1a2b3c@101:acme+echo"
    assert str(ActrTypeName.parse("acme+echo")) == "acme+echo"


def test_hashable_and_comparable() -> None:
    a = ActorId.parse("1@1:acme+echo")
    b = ActorId.parse("1@1:acme+echo")
    c = ActorId.parse("2@1:acme+echo")
    assert a == b and hash(a) == hash(b) and len({a, b, c}) == 2
    assert not (a != b) and a != c and not (a != a)
    assert a != "1@1:acme+echo" and not (a == "1@1:acme+echo")
    assert a < c
    # The signaling tie-break order: realm, serial, manufacturer, name.
    assert ActorId.parse("ff@1:z+z") < ActorId.parse("1@2:a+a")
    assert ActorId.parse("1@1:a+b") < ActorId.parse("1@1:b+a")


def test_proto_round_trip() -> None:
    a = ActorId.parse("abc@7:acme+echo")
    assert ActorId.from_proto(a.to_proto()) == a
    t = ActrTypeName("acme", "echo", "1.2")
    assert ActrTypeName.from_proto(t.to_proto()) == t
    assert t.same_type(ActrTypeName("acme", "echo"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("acme+echo", "needs the form"),
        ("zz@1:acme+echo", "not hexadecimal"),
        ("1@x:acme+echo", "not a decimal"),
        ("1@1acme+echo", "missing ':'"),
        ("1@1:acmeecho", "manufacturer+name"),
        ("1@1:+echo", "manufacturer is empty"),
        ("1@1:acme+", "name is empty"),
        ("1@1:ac me+echo", "may only hold"),
        ("1@1:a+b+c", "more than one '+'"),
        ("1@99999999999:a+b", "realm"),
    ],
)
def test_malformed_ids_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(InvalidId, match=re.escape(reason)) as info:
        ActorId.parse(text)
    assert info.value.code == 400
    assert isinstance(info.value, ValueError)


def test_non_string_rejected() -> None:
    with pytest.raises(InvalidId, match="must be a string"):
        ActorId.parse(123)  # type: ignore[arg-type]
    with pytest.raises(InvalidId, match="must be a string"):
        ActrTypeName.parse(None)  # type: ignore[arg-type]
