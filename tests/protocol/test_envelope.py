from __future__ import annotations

import pytest

from actr_py.errors import ProtocolError
from actr_py.proto import package_pb2
from actr_py.protocol.codec import ContentType
from actr_py.protocol.envelope import (
    CHAIN_KEY,
    CONTENT_TYPE_KEY,
    EnvelopeFactory,
    decode_envelope,
    error_response,
    metadata_value,
    response,
    routing_metadata,
)


def test_request_ids_are_unique_and_prefixed() -> None:
    f = EnvelopeFactory("p")
    ids = {f.next_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("p-") for i in ids)
    assert EnvelopeFactory().next_request_id() != EnvelopeFactory().next_request_id()


def test_request_carries_direction_timeout_and_content_type() -> None:
    env = EnvelopeFactory("p").request("a.B.C", b"x", ContentType.MSGPACK, 1500)
    assert env.direction == package_pb2.DIRECTION_REQUEST and env.timeout_ms == 1500
    assert metadata_value(env, CONTENT_TYPE_KEY) == ContentType.MSGPACK.value
    # A root call is its own chain and needs no entry for it.
    assert metadata_value(env, CHAIN_KEY) is None
    assert routing_metadata(env) == (ContentType.MSGPACK.value, env.request_id)


def test_nested_call_carries_its_chain() -> None:
    env = EnvelopeFactory("p").request("a.B.C", b"", ContentType.PROTOBUF, 10, chain="root-1")
    assert routing_metadata(env) == (None, "root-1")


def test_tell_has_no_timeout_and_tell_direction() -> None:
    env = EnvelopeFactory().request("a.B.C", b"", ContentType.RAW, 999, tell=True)
    assert env.direction == package_pb2.DIRECTION_TELL and env.timeout_ms == 0


def test_response_and_error_response() -> None:
    req = EnvelopeFactory("p").request("a.B.C", b"", ContentType.PROTOBUF, 10)
    resp = response(req, b"y", ContentType.RAW)
    assert resp.direction == package_pb2.DIRECTION_RESPONSE
    assert resp.request_id == req.request_id and resp.payload == b"y"
    err = error_response("a.B.C", req.request_id, 404, "no route")
    assert err.error.code == 404 and err.direction == package_pb2.DIRECTION_RESPONSE


def test_decode_round_trip() -> None:
    req = EnvelopeFactory("p").request("a.B.C", b"z", ContentType.MSGPACK, 10)
    assert decode_envelope(req.SerializeToString()) == req


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (package_pb2.RpcEnvelope(route_key="a", request_id="r", timeout_ms=1), "no direction"),
        (
            package_pb2.RpcEnvelope(route_key="a", request_id="r", timeout_ms=0, direction=1),
            "timeout_ms <= 0",
        ),
        (
            package_pb2.RpcEnvelope(route_key="a", request_id="", timeout_ms=5, direction=1),
            "empty request_id",
        ),
    ],
)
def test_invalid_envelopes_are_refused(env: package_pb2.RpcEnvelope, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode_envelope(env.SerializeToString())


def test_garbage_and_missing_required_fields_are_refused() -> None:
    with pytest.raises(ProtocolError, match="undecodable"):
        decode_envelope(b"\xff\xff\xff\xff")
    # route_key only: request_id and timeout_ms (required) are missing.
    with pytest.raises(ProtocolError, match="undecodable"):
        decode_envelope(b"\x0a\x01a")


def test_invalid_utf8_in_strings_is_refused() -> None:
    # Found by the node fuzz test: upb returns such proto2 strings as bytes.
    good = EnvelopeFactory("p").request("test.Echo.Say", b"", ContentType.PROTOBUF, 10)
    data = good.SerializeToString().replace(b"Echo", b"E\xcfho")
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        decode_envelope(data)
