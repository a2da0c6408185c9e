"""Which lane kinds may carry each PayloadType, in order of preference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import ConfigError
from ..payload_type import PayloadType

__all__ = ["LANE_KINDS", "RouteTable"]

LANE_KINDS = ("inproc", "webrtc", "websocket")

_DEFAULT: dict[PayloadType, tuple[str, ...]] = {
    PayloadType.RPC_RELIABLE: ("inproc", "webrtc", "websocket"),
    PayloadType.RPC_SIGNAL: ("inproc", "webrtc", "websocket"),
    PayloadType.STREAM_RELIABLE: ("inproc", "webrtc", "websocket"),
    PayloadType.STREAM_LATENCY_FIRST: ("inproc", "webrtc", "websocket"),
    PayloadType.MEDIA_RTP: ("webrtc",),
}


class RouteTable:
    """PayloadType -> ordered lane kinds; the first kind that can reach the peer wins."""

    def __init__(self, routes: Mapping[PayloadType, Iterable[str]] | None = None) -> None:
        table = dict(_DEFAULT)
        for pt, kinds in (routes or {}).items():
            kinds = tuple(kinds)
            unknown = [k for k in kinds if k not in LANE_KINDS]
            if unknown:
                raise ConfigError(f"route for {PayloadType(pt).name}: unknown lane kinds {unknown}")
            if not kinds:
                raise ConfigError(f"route for {PayloadType(pt).name} lists no lane kind")
            table[PayloadType(pt)] = kinds
        self._table = table

    def kinds(self, payload_type: PayloadType) -> tuple[str, ...]:
        return self._table[payload_type]

    def as_dict(self) -> dict[str, list[str]]:
        return {pt.name: list(kinds) for pt, kinds in self._table.items()}
