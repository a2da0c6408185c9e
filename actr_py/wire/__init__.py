"""Wire layer: the raw connections under the lanes (in-process, WebSocket, WebRTC)."""

from .base import CloseCallback, FrameHandler, WireConnection

__all__ = ["CloseCallback", "FrameHandler", "WireConnection"]
