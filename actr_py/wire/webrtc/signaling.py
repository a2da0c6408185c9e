"""The injected signaling relay, and conversions between aiortc and the protos.

The wire does not talk to the signaling server itself: whoever owns the
server connection implements :class:`SignalingRelay` (wrapping each payload in
an ``ActrRelay`` envelope) and feeds inbound relays to
:meth:`WebRtcCoordinator.handle_relay`. Tests pass an in-memory relay.

Trickle conventions (same as browsers): an ``IceCandidate`` whose
``candidate`` is the SDP attribute value ``candidate:<foundation> ...``;
``candidate == ""`` marks end-of-candidates. ``username_fragment`` names the
ICE session the candidate belongs to, so stale candidates of an earlier
attempt are recognised and dropped.
"""

from __future__ import annotations

import re
from typing import Protocol, TypeAlias

from aiortc import RTCIceCandidate, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp

from ...errors import ProtocolError
from ...ids import ActorId
from ...proto import actr_pb2, webrtc_pb2

__all__ = [
    "InboundRelay",
    "OutboundRelay",
    "SignalingRelay",
    "candidate_from_proto",
    "candidate_to_proto",
    "description_from_proto",
    "description_to_proto",
    "end_of_candidates",
    "ice_ufrag",
]

#: What the wire asks the relay to carry to a peer (or, for RoleNegotiation, to the server).
OutboundRelay: TypeAlias = (
    webrtc_pb2.SessionDescription | webrtc_pb2.IceCandidate | actr_pb2.RoleNegotiation
)
#: What :meth:`WebRtcCoordinator.handle_relay` accepts. RoleNegotiation arrives
#: only from a server that forwards instead of arbitrating.
InboundRelay: TypeAlias = (
    webrtc_pb2.SessionDescription
    | webrtc_pb2.IceCandidate
    | actr_pb2.RoleAssignment
    | actr_pb2.RoleNegotiation
)


class SignalingRelay(Protocol):
    """Carries negotiation messages to a peer through the signaling server."""

    async def send(self, target: ActorId, payload: OutboundRelay) -> None:
        """Deliver ``payload`` to ``target``; raise on failure (the attempt fails)."""
        ...


_Type = webrtc_pb2.SessionDescription.Type
_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


def description_to_proto(
    description: RTCSessionDescription, *, restart: bool = False
) -> webrtc_pb2.SessionDescription:
    if description.type == "offer":
        kind = _Type.ICE_RESTART_OFFER if restart else _Type.OFFER
    elif description.type == "answer":
        kind = _Type.ANSWER
    else:
        raise ValueError(f"cannot relay a {description.type!r} description")
    return webrtc_pb2.SessionDescription(type=kind, sdp=description.sdp)


def description_from_proto(msg: webrtc_pb2.SessionDescription) -> RTCSessionDescription:
    kind = "answer" if msg.type == _Type.ANSWER else "offer"
    if not msg.sdp:
        raise ProtocolError("SessionDescription without SDP")
    return RTCSessionDescription(sdp=msg.sdp, type=kind)


def ice_ufrag(sdp: str) -> str | None:
    """The first ``a=ice-ufrag`` of an SDP (BUNDLE: one ICE session)."""
    match = _UFRAG.search(sdp)
    return match.group(1) if match else None


def candidate_to_proto(
    candidate: RTCIceCandidate, *, sdp_mid: str | None, sdp_mline_index: int | None, ufrag: str
) -> webrtc_pb2.IceCandidate:
    msg = webrtc_pb2.IceCandidate(
        candidate="candidate:" + candidate_to_sdp(candidate), username_fragment=ufrag
    )
    if sdp_mid is not None:
        msg.sdp_mid = sdp_mid
    if sdp_mline_index is not None:
        msg.sdp_mline_index = sdp_mline_index
    return msg


def end_of_candidates(
    *, sdp_mid: str | None, sdp_mline_index: int | None, ufrag: str
) -> webrtc_pb2.IceCandidate:
    msg = webrtc_pb2.IceCandidate(candidate="", username_fragment=ufrag)
    if sdp_mid is not None:
        msg.sdp_mid = sdp_mid
    if sdp_mline_index is not None:
        msg.sdp_mline_index = sdp_mline_index
    return msg


def candidate_from_proto(msg: webrtc_pb2.IceCandidate) -> RTCIceCandidate | None:
    """The aiortc candidate, or None for end-of-candidates."""
    text = msg.candidate.strip()
    if not text:
        return None
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError) as exc:
        raise ProtocolError(f"undecodable ICE candidate {msg.candidate!r}: {exc}") from None
    candidate.sdpMid = msg.sdp_mid if msg.HasField("sdp_mid") else None
    candidate.sdpMLineIndex = msg.sdp_mline_index if msg.HasField("sdp_mline_index") else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0
    return candidate
