"""The direct WebSocket lane between nodes.

A node may listen for peers' WebSockets (:class:`WebSocketListener`); callers
open one lane per peer through :class:`WebSocketPool`, which caches it and
reuses it in both directions. Each lane starts with a LaneHello exchange
checked by an injected authenticator, then carries ``[u8 type][u32 len][bytes]``
frames, several per WebSocket message when they queue up together.
"""

from .connection import WebSocketConnection
from .dial import connect_websocket
from .framing import HEADER_SIZE, FrameBatcher, decode_frames, encode_frame
from .handshake import (
    Authenticator,
    CredentialSource,
    IdSource,
    close_code_for,
    decode_hello,
    encode_hello,
    error_for_close,
)
from .listener import ConnectionHook, WebSocketListener
from .options import DEFAULT_OPTIONS, WebSocketOptions
from .pool import WebSocketPool

__all__ = [
    "DEFAULT_OPTIONS",
    "HEADER_SIZE",
    "Authenticator",
    "ConnectionHook",
    "CredentialSource",
    "FrameBatcher",
    "IdSource",
    "WebSocketConnection",
    "WebSocketListener",
    "WebSocketOptions",
    "WebSocketPool",
    "close_code_for",
    "connect_websocket",
    "decode_frames",
    "decode_hello",
    "encode_frame",
    "encode_hello",
    "error_for_close",
]
