"""Key and id encodings: one spelling per key, no collisions, ids routable."""

from __future__ import annotations

import pytest

from actr_py.actors.errors import ActorNotFound, InvalidKey
from actr_py.actors.keys import decode_id, decode_key, encode_id, encode_key


@pytest.mark.parametrize(
    "key",
    [(), ("",), ("a",), ("a", "b"), ("a/b",), ("a\\", "b"), ("\\0",), ("", ""), ("x/", "/y")],
)
def test_round_trip(key: tuple[str, ...]) -> None:
    assert decode_key(encode_key(key)) == key


def test_string_and_one_tuple_are_the_same_key() -> None:
    assert encode_key("room") == encode_key(("room",)) == encode_key(["room"])


def test_distinct_keys_never_collide() -> None:
    keys = [(), ("",), ("a/b",), ("a", "b"), ("a\\/b",), ("a\\", "b"), ("", ""), ("/",)]
    texts = [encode_key(k) for k in keys]
    assert len(set(texts)) == len(keys)


@pytest.mark.parametrize("bad", [1, None, ("a", 2), {"a": 1}, b"x", "x" * 2000])
def test_invalid_keys_are_refused(bad: object) -> None:
    with pytest.raises(InvalidKey) as info:
        encode_key(bad)  # type: ignore[arg-type]
    assert info.value.code == 400


def test_ids_carry_name_key_and_incarnation() -> None:
    key = encode_key(("org", "a/b"))
    actor_id = encode_id("Counter", key, "abc123")
    assert decode_id(actor_id) == ("Counter", key, "abc123")
    assert encode_id("Counter", key, "other") != actor_id


@pytest.mark.parametrize("bad", ["", "nodot", ".", "x.!!!", "x." + "A" * 3])
def test_garbage_ids_are_not_found(bad: str) -> None:
    with pytest.raises(ActorNotFound):
        decode_id(bad)
