"""Keep remote ICE candidates to the addresses this node may use.

``WebRtcConfig.ice_addresses`` limits the candidates we gather, but aioice
would still pair ours with any address a peer offers (a browser offers its
eth0 address next to 127.0.0.1), so a loopback-only node could end up
talking through another interface. Candidates in trickled ``IceCandidate``
messages and in SDP ``a=candidate`` lines whose address is not allowed are
dropped before the negotiator sees them. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection

from ...proto import webrtc_pb2

__all__ = ["candidate_address", "filter_description", "keep_candidate"]


def candidate_address(candidate: str) -> str | None:
    """The connection address of an ICE candidate attribute value, if well formed.

    ``candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...``
    (with or without the ``a=`` prefix).
    """
    text = candidate.strip().removeprefix("a=")
    if not text.startswith("candidate:"):
        return None
    parts = text.split()
    return parts[4] if len(parts) >= 8 else None


def keep_candidate(candidate: webrtc_pb2.IceCandidate, allowed: Collection[str]) -> bool:
    """True for end-of-candidates (empty) and for candidates on an allowed address."""
    if not candidate.candidate:
        return True
    return candidate_address(candidate.candidate) in allowed


def filter_description(
    description: webrtc_pb2.SessionDescription, allowed: Collection[str]
) -> webrtc_pb2.SessionDescription:
    """A copy without the ``a=candidate`` lines whose address is not allowed."""
    lines = description.sdp.split("\r\n")
    kept = [
        line for line in lines
        if not line.startswith("a=candidate:") or candidate_address(line) in allowed
    ]
    if len(kept) == len(lines):
        return description
    return webrtc_pb2.SessionDescription(type=description.type, sdp="\r\n".join(kept))
