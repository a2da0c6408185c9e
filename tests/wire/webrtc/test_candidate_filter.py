from __future__ import annotations

from actr_py.proto import webrtc_pb2
from actr_py.wire.webrtc.candidate_filter import (
    candidate_address,
    filter_description,
    keep_candidate,
)

LOOP = {"127.0.0.1"}
HOST = "candidate:1 1 udp 2130706431 {addr} 50000 typ host"


def test_address_is_the_fifth_field() -> None:
    assert candidate_address(HOST.format(addr="127.0.0.1")) == "127.0.0.1"
    assert candidate_address("a=" + HOST.format(addr="192.0.2.2")) == "192.0.2.2"
    assert candidate_address("candidate:1 1 udp 1 abc.local 9 typ host") == "abc.local"
    assert candidate_address("garbage") is None
    assert candidate_address("candidate:1 1 udp") is None


def test_trickled_candidates() -> None:
    ok = webrtc_pb2.IceCandidate(candidate=HOST.format(addr="127.0.0.1"))
    other = webrtc_pb2.IceCandidate(candidate=HOST.format(addr="192.0.2.2"))
    mdns = webrtc_pb2.IceCandidate(candidate="candidate:1 1 udp 1 x.local 9 typ host")
    end = webrtc_pb2.IceCandidate(candidate="")
    assert keep_candidate(ok, LOOP) and keep_candidate(end, LOOP)
    assert not keep_candidate(other, LOOP) and not keep_candidate(mdns, LOOP)


def test_sdp_lines_are_filtered_and_the_rest_kept() -> None:
    sdp = "\r\n".join([
        "v=0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=" + HOST.format(addr="127.0.0.1"),
        "a=" + HOST.format(addr="192.0.2.2"),
        "a=end-of-candidates", "",
    ])
    desc = webrtc_pb2.SessionDescription(type=webrtc_pb2.SessionDescription.OFFER, sdp=sdp)
    out = filter_description(desc, LOOP)
    assert "192.0.2.2" not in out.sdp and "127.0.0.1" in out.sdp
    assert out.sdp.count("\r\n") == sdp.count("\r\n") - 1
    assert out.type == desc.type
    clean = webrtc_pb2.SessionDescription(type=desc.type, sdp="v=0\r\n")
    assert filter_description(clean, LOOP) is clean
