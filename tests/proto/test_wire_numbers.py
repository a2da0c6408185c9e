"""Bytes built by hand from the reference field numbers must decode into our classes.

If anyone renumbers a field in proto/, these fail: our bytes would no longer
be actr's bytes.
"""

from __future__ import annotations

import struct

from actr_py.proto import actr_pb2, package_pb2, signaling_pb2, webrtc_pb2


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(num: int, wt: int) -> bytes:
    return varint((num << 3) | wt)


def f_varint(num: int, v: int) -> bytes:
    return tag(num, 0) + varint(v)


def f_bytes(num: int, v: bytes | str) -> bytes:
    if isinstance(v, str):
        v = v.encode()
    return tag(num, 2) + varint(len(v)) + v


def f_float(num: int, v: float) -> bytes:
    return tag(num, 5) + struct.pack("<f", v)


def actr_id(realm: int, serial: int, manufacturer: str, name: str) -> bytes:
    realm_b = f_varint(1, realm)
    type_b = f_bytes(1, manufacturer) + f_bytes(2, name)
    return f_bytes(1, realm_b) + f_varint(2, serial) + f_bytes(3, type_b)


def test_rpc_envelope_numbers() -> None:
    meta = f_bytes(1, "content-type") + f_bytes(2, "application/msgpack")
    data = (
        f_bytes(1, "echo.Echo.Say")
        + f_bytes(2, b"\x01\x02")
        + f_bytes(3, f_varint(1, 404) + f_bytes(2, "nope"))
        + f_varint(4, 3)
        + f_bytes(100, "00-trace")
        + f_bytes(101, "vendor=x")
        + f_bytes(102, "req-1")
        + f_bytes(103, meta)
        + f_varint(104, 30000)
    )
    env = package_pb2.RpcEnvelope.FromString(data)
    assert env.route_key == "echo.Echo.Say"
    assert env.payload == b"\x01\x02"
    assert (env.error.code, env.error.message) == (404, "nope")
    assert env.direction == package_pb2.DIRECTION_TELL
    assert (env.traceparent, env.tracestate) == ("00-trace", "vendor=x")
    assert env.request_id == "req-1"
    assert (env.metadata[0].key, env.metadata[0].value) == ("content-type", "application/msgpack")
    assert env.timeout_ms == 30000
    # And the other way: our serialization is byte-identical to the hand-built one.
    assert env.SerializeToString() == data


def test_direction_and_payload_type_values() -> None:
    assert [package_pb2.DIRECTION_UNSPECIFIED, package_pb2.DIRECTION_REQUEST,
            package_pb2.DIRECTION_RESPONSE, package_pb2.DIRECTION_TELL] == [0, 1, 2, 3]
    assert [package_pb2.RPC_RELIABLE, package_pb2.RPC_SIGNAL, package_pb2.STREAM_RELIABLE,
            package_pb2.STREAM_LATENCY_FIRST, package_pb2.MEDIA_RTP] == [0, 1, 2, 3, 4]


def test_data_stream_numbers() -> None:
    data = (
        f_bytes(1, "s1") + f_varint(2, 7) + f_bytes(3, b"abc")
        + f_bytes(4, f_bytes(1, "k") + f_bytes(2, "v")) + f_varint(5, 1234)
    )
    ds = package_pb2.DataStream.FromString(data)
    assert (ds.stream_id, ds.sequence, ds.payload, ds.timestamp_ms) == ("s1", 7, b"abc", 1234)
    assert ds.metadata[0].key == "k"


def test_actr_id_and_type_numbers() -> None:
    data = actr_id(101, 0x1A2B3C, "acme", "echo")
    msg = actr_pb2.ActrId.FromString(data)
    assert msg.realm.realm_id == 101
    assert msg.serial_number == 0x1A2B3C
    assert (msg.type.manufacturer, msg.type.name) == ("acme", "echo")
    t = actr_pb2.ActrType.FromString(f_bytes(1, "m") + f_bytes(2, "n") + f_bytes(3, "1.0"))
    assert t.version == "1.0"


def test_register_and_heartbeat_numbers() -> None:
    req = actr_pb2.RegisterRequest.FromString(
        f_bytes(1, f_bytes(1, "acme") + f_bytes(2, "echo")) + f_bytes(2, f_varint(1, 7))
        + f_bytes(3, f_bytes(1, "svc") + f_bytes(3, "fp") + f_varint(5, 99) + f_bytes(6, "t"))
        + f_bytes(4, f_bytes(1, f_varint(2, 1)))
    )
    assert req.realm.realm_id == 7 and req.service_spec.published_at == 99
    assert req.service_spec.tags == ["t"]
    assert req.acl.rules[0].permission == actr_pb2.AclRule.ALLOW
    ok = (
        f_bytes(1, actr_id(7, 5, "acme", "echo"))
        + f_bytes(2, f_bytes(1, b"tok") + f_varint(2, 3))
        + f_bytes(3, b"psk") + f_varint(5, 30)
    )
    resp = actr_pb2.RegisterResponse.FromString(f_bytes(1, ok))
    assert resp.WhichOneof("result") == "success"
    assert resp.success.credential.token_key_id == 3
    assert resp.success.signaling_heartbeat_interval_secs == 30
    ping = actr_pb2.Ping.FromString(
        f_varint(1, 2) + f_float(2, 0.5) + f_float(3, 12.0) + f_bytes(4, "c1")
    )
    assert ping.availability == actr_pb2.OVERLOADED and ping.mailbox_backlog == 12.0
    pong = actr_pb2.Pong.FromString(f_varint(1, 9) + f_varint(2, 15))
    assert (pong.seq, pong.suggest_interval_secs) == (9, 15)


def test_route_candidates_and_discovery_numbers() -> None:
    crit = f_varint(1, 3) + f_varint(2, 1) + f_varint(2, 0)
    req = actr_pb2.RouteCandidatesRequest.FromString(
        f_bytes(1, f_bytes(1, "a") + f_bytes(2, "b")) + f_bytes(2, crit) + f_bytes(4, "")
    )
    assert req.criteria.candidate_count == 3
    assert list(req.criteria.ranking_factors) == [1, 0]
    disc = actr_pb2.DiscoveryRequest.FromString(f_bytes(1, "acme"))
    assert disc.limit == 64  # the reference default
    role = actr_pb2.RoleAssignment.FromString(f_varint(1, 1))
    assert role.is_offerer and not role.remote_fixed
    neg = actr_pb2.RoleNegotiation.FromString(
        f_bytes(1, actr_id(1, 1, "a", "b")) + f_bytes(2, actr_id(1, 2, "a", "b")) + f_varint(3, 1)
    )
    assert getattr(neg, "from").serial_number == 1 and neg.to.serial_number == 2


def test_signaling_envelope_numbers() -> None:
    cred = f_bytes(1, b"tok") + f_varint(2, 1)
    a2s = f_bytes(1, actr_id(1, 2, "a", "b")) + f_bytes(2, cred) + f_bytes(
        4, f_varint(1, 0) + f_float(2, 1.0) + f_float(3, 0.0)
    )
    env = signaling_pb2.SignalingEnvelope.FromString(
        f_varint(1, 1) + f_bytes(2, "e1") + f_bytes(3, "e0") + f_bytes(11, a2s)
    )
    assert env.envelope_version == 1 and env.reply_for == "e0"
    assert env.WhichOneof("flow") == "actr_to_server"
    assert env.actr_to_server.WhichOneof("payload") == "ping"
    relay = f_bytes(1, actr_id(1, 2, "a", "b")) + f_bytes(2, cred) + f_bytes(
        3, actr_id(1, 3, "a", "b")
    ) + f_bytes(11, f_varint(1, 1) + f_bytes(2, "v=0"))
    env = signaling_pb2.SignalingEnvelope.FromString(
        f_varint(1, 1) + f_bytes(2, "e2") + f_bytes(13, relay)
    )
    sd = env.actr_relay.session_description
    assert sd.type == webrtc_pb2.SessionDescription.ANSWER and sd.sdp == "v=0"
    s2a = f_bytes(1, actr_id(1, 2, "a", "b")) + f_bytes(22, f_bytes(1, actr_id(1, 4, "a", "b")))
    env = signaling_pb2.SignalingEnvelope.FromString(
        f_varint(1, 1) + f_bytes(2, "e3") + f_bytes(12, s2a)
    )
    assert env.server_to_actr.actr_up_event.actor_id.serial_number == 4
    err = signaling_pb2.SignalingEnvelope.FromString(
        f_varint(1, 1) + f_bytes(2, "e4") + f_bytes(14, f_varint(1, 429) + f_bytes(2, "slow"))
    )
    assert err.envelope_error.code == 429


def test_ice_candidate_numbers() -> None:
    c = webrtc_pb2.IceCandidate.FromString(
        f_bytes(1, "candidate:1") + f_bytes(2, "0") + f_varint(3, 0) + f_bytes(4, "uf")
    )
    assert (c.candidate, c.sdp_mid, c.sdp_mline_index, c.username_fragment) == (
        "candidate:1", "0", 0, "uf"
    )


def test_payload_type_method_option_is_field_50001() -> None:
    from actr_py.proto import options_pb2

    assert options_pb2.payload_type.number == 50001
    assert options_pb2.payload_type.containing_type.full_name == "google.protobuf.MethodOptions"
