"""The direct WebSocket lane between nodes.

A node may listen for peers' WebSockets (:class:`WebSocketListener`); callers
open one lane per peer through :class:`WebSocketPool`, which caches it and
reuses it in both directions. Each lane starts with a LaneHello exchange
checked by an injected authenticator, then carries ``[u8 type][u32 len][bytes]``
frames, several per WebSocket message when they queue up together.

The lane speaks standard RFC 6455 (binary messages, no extensions) from its
own ``asyncio.Protocol``, with no HTTP or WebSocket library underneath: any
WebSocket client can reach the listener and the dialer can reach any
WebSocket server. Owning the socket is what makes the lane fast: frames are
parsed in ``data_received`` and handed to the FrameHandler right there
(:mod:`actr_py.wire.eager`), and ``send`` writes to the transport directly.

Modules: ``rfc6455`` (frames, masking, close codes) and ``upgrade`` (the HTTP
handshake) are pure; ``protocol`` is the RFC 6455 endpoint; ``connection``
the lane on top of it; ``handshake`` the LaneHello; ``dial``, ``listener``
and ``pool`` open, accept and share lanes; ``framing`` is the actr frame codec.
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
