"""Pure pieces of the WebRTC wire: role rule, control messages, config, proto conversions."""

from __future__ import annotations

import pytest
from aiortc import RTCIceCandidate, RTCSessionDescription

from actr_py.errors import ConfigError, InvalidId, ProtocolError
from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType
from actr_py.proto import webrtc_pb2
from actr_py.wire.webrtc import LANES, UnsupportedPayloadType, WebRtcConfig, control
from actr_py.wire.webrtc.lanes import lane_spec
from actr_py.wire.webrtc.role import offerer_by_rule, role_negotiation
from actr_py.wire.webrtc.signaling import (
    candidate_from_proto,
    candidate_to_proto,
    description_from_proto,
    description_to_proto,
    end_of_candidates,
    ice_ufrag,
)


def aid(realm: int, serial: int, manufacturer: str = "acme", name: str = "x") -> ActorId:
    return ActorId(realm, serial, ActrTypeName(manufacturer, name))


# ---- role rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "smaller, larger",
    [
        (aid(1, 999), aid(2, 1)),  # realm first
        (aid(5, 1), aid(5, 2)),  # then serial
        (aid(5, 1, "acme"), aid(5, 1, "zeta")),  # then manufacturer
        (aid(5, 1, "acme", "a"), aid(5, 1, "acme", "b")),  # then name
    ],
)
def test_smaller_id_offers(smaller: ActorId, larger: ActorId) -> None:
    assert offerer_by_rule(smaller, larger) is True
    assert offerer_by_rule(larger, smaller) is False


def test_rule_ignores_type_version() -> None:
    a = ActorId(1, 1, ActrTypeName("acme", "x", "2.0"))
    b = ActorId(1, 2, ActrTypeName("acme", "x", "1.0"))
    assert offerer_by_rule(a, b) and not offerer_by_rule(b, a)


def test_rule_refuses_self() -> None:
    with pytest.raises(InvalidId):
        offerer_by_rule(aid(1, 1), aid(1, 1))


def test_role_negotiation_message() -> None:
    msg = role_negotiation(aid(7, 1), aid(7, 2))
    assert msg.realm_id == 7
    assert ActorId.from_proto(getattr(msg, "from")) == aid(7, 1)
    assert ActorId.from_proto(msg.to) == aid(7, 2)
    assert msg.IsInitialized()


# ---- control messages -----------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        control.Hello(1, 4 * 1024 * 1024),
        control.Ping(0),
        control.Ping(0xFFFFFFFF),
        control.Pong(17),
        control.Credit(int(PayloadType.STREAM_RELIABLE), 123456),
        control.Goodbye("node shutting down"),
        control.Goodbye(""),
        control.Features(control.FEATURE_ACK_CLOCKED_SCTP),
        control.Features(0),
    ],
)
def test_control_roundtrip(message: control.ControlMessage) -> None:
    assert control.decode(control.encode(message)) == message


def test_control_seq_wraps() -> None:
    assert control.decode(control.encode(control.Ping(2**32 + 5))) == control.Ping(5)


@pytest.mark.parametrize(
    "data", [b"", b"\x02\x00\x00", b"\x01\x01\x00\x00\x00\x00\x00", b"\x04", b"\x06\x01"]
)
def test_control_truncated_is_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        control.decode(data)


def test_control_features_keep_bits_this_version_does_not_know() -> None:
    # A newer peer may set more bits; they decode, and only known ones are acted on.
    message = control.decode(b"\x06\x80\x00\x00\x01")
    assert message == control.Features(0x80000001)
    assert message.flags & control.FEATURE_ACK_CLOCKED_SCTP


def test_control_unknown_type_is_ignored() -> None:
    assert control.decode(b"\x7fwhatever") is None


# ---- lanes and config -----------------------------------------------------------


def test_lane_table_matches_the_reference() -> None:
    assert {spec.label for spec in LANES.values()} == {
        "RPC_RELIABLE",
        "RPC_SIGNAL",
        "STREAM_RELIABLE",
        "STREAM_LATENCY_FIRST",
    }
    for pt, spec in LANES.items():
        assert spec.label == pt.name
        if pt is PayloadType.STREAM_LATENCY_FIRST:
            assert (spec.ordered, spec.max_retransmits) == (False, 3)
        else:
            assert (spec.ordered, spec.max_retransmits) == (True, None)


def test_media_rtp_has_no_lane() -> None:
    with pytest.raises(UnsupportedPayloadType, match="RTP track") as info:
        lane_spec(PayloadType.MEDIA_RTP)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"heartbeat_interval": 1.0, "heartbeat_timeout": 0.5}, "heartbeat_timeout"),
        ({"fragment_size": 100}, "fragment_size"),
        ({"send_low_water": 2, "send_high_water": 1}, "send_low_water"),
        ({"ice_addresses": ()}, "ice_addresses"),
        ({"ice_addresses": "127.0.0.1"}, "not a string"),
        ({"ice_addresses": ("localhost",)}, "not an IP address"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        WebRtcConfig(**kwargs)  # type: ignore[arg-type]


def test_config_defaults_stay_on_loopback() -> None:
    config = WebRtcConfig(ice_addresses=["127.0.0.1"])  # type: ignore[arg-type]
    assert config.ice_addresses == ("127.0.0.1",)
    assert WebRtcConfig().ice_addresses == ("127.0.0.1",)
    assert WebRtcConfig().ice_servers == ()


# ---- relay payload conversions ----------------------------------------------------


def test_candidate_roundtrip() -> None:
    cand = RTCIceCandidate(
        component=1,
        foundation="abc",
        ip="127.0.0.1",
        port=5000,
        priority=2130706431,
        protocol="udp",
        type="host",
    )
    msg = candidate_to_proto(cand, sdp_mid="0", sdp_mline_index=0, ufrag="uf1")
    assert msg.candidate.startswith("candidate:abc 1 udp ")
    back = candidate_from_proto(msg)
    assert back is not None
    assert (back.ip, back.port, back.type, back.sdpMid, back.sdpMLineIndex) == (
        "127.0.0.1",
        5000,
        "host",
        "0",
        0,
    )


def test_end_of_candidates_is_empty_candidate() -> None:
    msg = end_of_candidates(sdp_mid="0", sdp_mline_index=0, ufrag="u")
    assert msg.candidate == "" and msg.username_fragment == "u"
    assert candidate_from_proto(msg) is None


def test_browser_style_candidate_line_is_accepted() -> None:
    msg = webrtc_pb2.IceCandidate(
        candidate="a=candidate:1 1 UDP 2122252543 127.0.0.1 40000 typ host", sdp_mid="0"
    )
    cand = candidate_from_proto(msg)
    assert cand is not None and cand.port == 40000 and cand.sdpMLineIndex is None


def test_garbage_candidate_is_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        candidate_from_proto(webrtc_pb2.IceCandidate(candidate="candidate:nonsense"))


def test_description_types() -> None:
    offer = RTCSessionDescription(sdp="v=0\r\na=ice-ufrag:abcd\r\n", type="offer")
    assert description_to_proto(offer).type == webrtc_pb2.SessionDescription.OFFER
    restart = description_to_proto(offer, restart=True)
    assert restart.type == webrtc_pb2.SessionDescription.ICE_RESTART_OFFER
    assert description_from_proto(restart).type == "offer"
    answer = webrtc_pb2.SessionDescription(type=webrtc_pb2.SessionDescription.ANSWER, sdp="v=0")
    assert description_from_proto(answer).type == "answer"
    assert ice_ufrag(offer.sdp) == "abcd"
    with pytest.raises(ProtocolError):
        description_from_proto(webrtc_pb2.SessionDescription(type=0, sdp=""))
