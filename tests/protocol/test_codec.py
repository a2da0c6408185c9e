from __future__ import annotations

import pytest

from actr_py.errors import BadRequest
from actr_py.proto import actr_pb2
from actr_py.protocol.codec import ContentType, EncodeError, decode_payload, encode_payload


def test_protobuf_travels_unmarked() -> None:
    msg = actr_pb2.Realm(realm_id=5)
    data, ct = encode_payload(msg)
    assert ct is ContentType.PROTOBUF and data == msg.SerializeToString()
    assert decode_payload(data, None, actr_pb2.Realm) == msg


def test_bytes_as_is() -> None:
    assert encode_payload(b"\x00\xff") == (b"\x00\xff", ContentType.RAW)
    assert encode_payload(bytearray(b"ab")) == (b"ab", ContentType.RAW)
    assert decode_payload(b"\x00\xff", ContentType.RAW, None) == b"\x00\xff"
    assert decode_payload(b"\x00\xff", None, bytes) == b"\x00\xff"


@pytest.mark.parametrize("value", ["text", 42, 1.5, None, True, [1, "a"], {"k": [1, 2]}, {1: b"x"}])
def test_plain_values_round_trip_as_msgpack(value: object) -> None:
    data, ct = encode_payload(value)
    assert ct is ContentType.MSGPACK
    assert decode_payload(data, ct.value, None) == value


def test_unencodable_value_is_a_local_error() -> None:
    with pytest.raises(EncodeError, match="cannot encode a object") as info:
        encode_payload(object())
    assert info.value.code == 400


def test_bad_bytes_for_declared_type_is_400() -> None:
    with pytest.raises(BadRequest, match=r"actr\.Realm"):
        decode_payload(b"\xff\xff\xff", None, actr_pb2.Realm)
    with pytest.raises(BadRequest, match="msgpack"):
        decode_payload(b"\xc1", ContentType.MSGPACK.value, None)
