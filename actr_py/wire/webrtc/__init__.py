"""The WebRTC wire: peer-to-peer connections, one DataChannel per PayloadType.

Entry points: :class:`WebRtcCoordinator` (the per-node wire pool, fed by an
injected :class:`SignalingRelay`), :class:`WebRtcConnection` (a
:class:`~actr_py.wire.base.WireConnection`) and :class:`WebRtcConfig`.
Module map: ``framing`` (fragmentation, pure), ``control`` (control-channel
messages, pure), ``lanes`` (PayloadType to channel), ``role`` (offerer rule),
``gathering`` (loopback-only ICE), ``signaling`` (relay protocol and proto
conversions), ``negotiator`` (offer/answer, trickle), ``connection``,
``coordinator``.
"""

from .config import WebRtcConfig
from .connection import Mode, WebRtcConnection
from .coordinator import OnConnection, WebRtcCoordinator
from .framing import PROTOCOL
from .lanes import CONTROL_LABEL, LANES, UnsupportedPayloadType
from .signaling import InboundRelay, OutboundRelay, SignalingRelay

__all__ = [
    "CONTROL_LABEL",
    "LANES",
    "PROTOCOL",
    "InboundRelay",
    "Mode",
    "OnConnection",
    "OutboundRelay",
    "SignalingRelay",
    "UnsupportedPayloadType",
    "WebRtcConfig",
    "WebRtcConnection",
    "WebRtcCoordinator",
]
