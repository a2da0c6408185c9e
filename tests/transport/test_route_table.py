from __future__ import annotations

import pytest

from actr_py import ConfigError, PayloadType
from actr_py.transport.route_table import RouteTable


def test_defaults_prefer_inproc_then_webrtc_then_websocket() -> None:
    rt = RouteTable()
    assert rt.kinds(PayloadType.RPC_RELIABLE) == ("inproc", "webrtc", "websocket")
    assert rt.kinds(PayloadType.MEDIA_RTP) == ("webrtc",)


def test_override_per_payload_type() -> None:
    rt = RouteTable({PayloadType.STREAM_RELIABLE: ["websocket"]})
    assert rt.kinds(PayloadType.STREAM_RELIABLE) == ("websocket",)
    assert rt.as_dict()["RPC_SIGNAL"] == ["inproc", "webrtc", "websocket"]


def test_bad_routes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown lane kinds"):
        RouteTable({PayloadType.RPC_RELIABLE: ["carrier-pigeon"]})
    with pytest.raises(ConfigError, match="lists no lane kind"):
        RouteTable({PayloadType.RPC_RELIABLE: []})
