"""RFC 6455 building blocks: frame headers, masking, close payloads, handshake keys.

Pure functions without I/O, used by the lane's protocol (which parses frames
inline in ``data_received`` for speed) and tested on their own. Only what the
lane speaks is here: no extensions (so the RSV bits are always zero), binary
data, and the control frames.

Masking is the one bulk byte operation: every frame a client sends is XORed
with a fresh 4-byte key. aiohttp ships a compiled helper for that; when it
can be imported it is used, otherwise a pure version XORs the whole payload
as one big integer, which is linear and still fast for megabyte frames.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Callable

from ...errors import ProtocolError

__all__ = [
    "CLOSE_ABNORMAL",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_INVALID_DATA",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_UNSUPPORTED_DATA",
    "MAX_CONTROL_PAYLOAD",
    "MAX_HEADER_SIZE",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "MaskKeys",
    "WebSocketViolation",
    "accept_key",
    "decode_close",
    "encode_close",
    "encode_frame_header",
    "encode_ws_frame",
    "mask",
    "mask_inplace",
    "mask_inplace_pure",
    "mask_pure",
    "new_client_key",
]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
#: Reported when a close frame carried no code; never sent on the wire.
CLOSE_NO_STATUS = 1005
#: Reported when the connection dropped without a close frame; never sent.
CLOSE_ABNORMAL = 1006
CLOSE_INVALID_DATA = 1007
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

#: Control frames (close, ping, pong) carry at most this many payload bytes.
MAX_CONTROL_PAYLOAD = 125
#: The longest frame header: 2 bytes, a 64-bit length and a masking key.
MAX_HEADER_SIZE = 14

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LEN16 = struct.Struct(">BBH")
_LEN64 = struct.Struct(">BBQ")
_CODE = struct.Struct(">H")
# Codes a peer may put in a close frame (RFC 6455 7.4 and the IANA registry):
# 1004-1006 and 1015 are reserved and must never travel.
_SENDABLE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class WebSocketViolation(ProtocolError):
    """The peer broke RFC 6455; ``close_code`` is what we answer with."""

    def __init__(self, message: str, close_code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.close_code = close_code


# ---- handshake keys -----------------------------------------------------------------


def new_client_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(client_key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server answers ``client_key`` with."""
    digest = hashlib.sha1(client_key.encode("ascii") + _GUID, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


# ---- masking ---------------------------------------------------------------------------


def mask_pure(key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """``data`` XOR the repeated 4-byte ``key`` (masking and unmasking alike)."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little"
    )


def _load_compiled() -> Callable[[bytes, bytearray], None] | None:
    try:
        from aiohttp._websocket.mask import (  # type: ignore[import-not-found]
            _websocket_mask_cython,
        )
    except ImportError:  # pragma: no cover - depends on the aiohttp build
        return None
    probe = bytearray(b"\x00\x01\x02\x03\x04")
    _websocket_mask_cython(b"\x10\x20\x30\x40", probe)
    if bytes(probe) != mask_pure(b"\x10\x20\x30\x40", b"\x00\x01\x02\x03\x04"):
        return None  # pragma: no cover - a helper that disagrees is not used
    return _websocket_mask_cython  # type: ignore[no-any-return]


_compiled = _load_compiled()


def _mask_compiled(key: bytes, data: bytes | bytearray | memoryview) -> bytearray:
    out = bytearray(data)
    _compiled(key, out)  # type: ignore[misc]
    return out


#: ``mask(key, data)`` returns a new masked buffer; the compiled helper when
#: aiohttp has one, else :func:`mask_pure`.
mask: Callable[[bytes, bytes | bytearray | memoryview], bytes | bytearray] = (
    _mask_compiled if _compiled is not None else mask_pure
)


def mask_inplace_pure(key: bytes, data: bytearray) -> None:
    """Mask ``data`` where it is (the fallback of :data:`mask_inplace`)."""
    data[:] = mask_pure(key, data)


#: ``mask_inplace(key, buffer)`` masks a bytearray where it is: the hot paths
#: call the compiled helper directly, without a Python frame in between.
mask_inplace: Callable[[bytes, bytearray], None] = (
    _compiled if _compiled is not None else mask_inplace_pure
)


class MaskKeys:
    """Masking keys from the OS's strong random source, fetched 4 KiB at a time.

    RFC 6455 wants a fresh, unpredictable key per client frame; one
    ``os.urandom`` call per frame would be a system call on every send.
    """

    __slots__ = ("_buf", "_pos")

    _BATCH = 4096

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0

    def next(self) -> bytes:
        pos = self._pos
        if pos >= len(self._buf):
            self._buf = os.urandom(self._BATCH)
            pos = 0
        self._pos = pos + 4
        return self._buf[pos : pos + 4]


# ---- frames -----------------------------------------------------------------------------


def encode_frame_header(
    opcode: int, length: int, *, fin: bool = True, mask_key: bytes | None = None
) -> bytes:
    """The header of one frame (RSV bits zero), including the masking key if any."""
    first = (0x80 if fin else 0) | opcode
    bit = 0x80 if mask_key is not None else 0
    if length < 126:
        header = bytes((first, bit | length))
    elif length < 0x10000:
        header = _LEN16.pack(first, bit | 126, length)
    else:
        header = _LEN64.pack(first, bit | 127, length)
    return header + mask_key if mask_key is not None else header


def encode_ws_frame(
    opcode: int, payload: bytes, *, mask_key: bytes | None = None, fin: bool = True
) -> bytes:
    """One whole frame; the payload is masked when ``mask_key`` is given."""
    header = encode_frame_header(opcode, len(payload), fin=fin, mask_key=mask_key)
    if mask_key is None:
        return header + payload
    return header + mask(mask_key, payload)


# ---- close frames --------------------------------------------------------------------------


def encode_close(code: int | None, reason: bytes = b"") -> bytes:
    """A close frame's payload: empty, or the code and a UTF-8 reason of <= 123 bytes."""
    if code is None:
        return b""
    if len(reason) > MAX_CONTROL_PAYLOAD - 2:
        raise ValueError("close reason longer than 123 bytes")
    return _CODE.pack(code) + reason


def decode_close(payload: bytes) -> tuple[int, str]:
    """``(code, reason)`` of a received close frame (1005 when it carried no code).

    Raises :class:`WebSocketViolation` for a one-byte payload, a code that
    must not travel, or a reason that is not UTF-8 (1007).
    """
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) < 2:
        raise WebSocketViolation("close frame with a one-byte payload")
    (code,) = _CODE.unpack_from(payload)
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        raise WebSocketViolation(f"close frame with the reserved or invalid code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketViolation(
            "close reason is not valid UTF-8", CLOSE_INVALID_DATA
        ) from None
    return code, reason
