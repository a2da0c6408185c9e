"""Which DataChannel carries which PayloadType, and with what reliability.

One channel per PayloadType, labelled with the enum name, as upstream actr
does, so that RPC_SIGNAL never queues behind bulk RPC and the latency-first
stream never waits for retransmissions. A browser peer mirrors this table
with ``pc.createDataChannel(label, {ordered, maxRetransmits, protocol})``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import LocalError
from ...payload_type import PayloadType

__all__ = [
    "CONTROL_LABEL",
    "LANES",
    "LANE_BY_LABEL",
    "LaneSpec",
    "UnsupportedPayloadType",
    "lane_spec",
]

#: Label of our control channel (heartbeat, credit, goodbye); see :mod:`.control`.
CONTROL_LABEL = "actr-py.control"


class UnsupportedPayloadType(LocalError, ValueError):
    """The PayloadType has no DataChannel (MEDIA_RTP rides an RTP track)."""


@dataclass(frozen=True, slots=True)
class LaneSpec:
    payload_type: PayloadType
    label: str
    ordered: bool
    #: None: fully reliable. Otherwise SCTP partial reliability (RFC 3758).
    max_retransmits: int | None

    @property
    def reliable(self) -> bool:
        return self.max_retransmits is None


LANES: dict[PayloadType, LaneSpec] = {
    pt: LaneSpec(pt, pt.name, ordered=pt.ordered, max_retransmits=None if pt.ordered else 3)
    for pt in (
        PayloadType.RPC_RELIABLE,
        PayloadType.RPC_SIGNAL,
        PayloadType.STREAM_RELIABLE,
        PayloadType.STREAM_LATENCY_FIRST,
    )
}
LANE_BY_LABEL: dict[str, LaneSpec] = {spec.label: spec for spec in LANES.values()}


def lane_spec(payload_type: PayloadType) -> LaneSpec:
    """The lane for ``payload_type``; raise UnsupportedPayloadType for MEDIA_RTP."""
    spec = LANES.get(payload_type)
    if spec is None:
        raise UnsupportedPayloadType(
            f"{PayloadType(payload_type).name} is not carried by a DataChannel: "
            "media rides an RTP track, which this wire does not provide yet"
        )
    return spec
