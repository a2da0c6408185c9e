"""Frame codec of the WebSocket lane: ``[u8 payload_type][u32 BE length][bytes]``.

Pure functions and one small buffer class, no I/O, so the byte format can be
tested exhaustively without sockets. One binary WebSocket message carries one
or more whole frames; a frame never spans two messages. Packing several frames
into one message (coalescing) saves a WebSocket header, a mask pass and a
transport write per frame, which is where small-frame throughput goes.
"""

from __future__ import annotations

import struct
from collections import deque

from ...errors import PayloadTooLarge, ProtocolError
from ...payload_type import PayloadType

__all__ = [
    "HEADER_SIZE",
    "FrameBatcher",
    "decode_frames",
    "encode_frame",
]

_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size
_pack = _HEADER.pack
_unpack_from = _HEADER.unpack_from

# Index by the type byte: a tuple lookup is much cheaper than PayloadType(byte).
_TYPES: tuple[PayloadType, ...] = tuple(PayloadType(i) for i in range(len(PayloadType)))
assert [int(t) for t in _TYPES] == sorted(int(t) for t in PayloadType), "values must be 0..n-1"
_N_TYPES = len(_TYPES)


def encode_frame(payload_type: PayloadType, data: bytes) -> bytes:
    """One frame as bytes (the sender normally uses :class:`FrameBatcher`)."""
    return _pack(payload_type, len(data)) + data


def decode_frames(
    message: bytes | bytearray | memoryview, max_frame_size: int
) -> list[tuple[PayloadType, bytes]]:
    """Split one WebSocket message into its frames, validating all of them first.

    The whole message is checked before anything is returned, so a malformed
    message delivers nothing. Payloads are always ``bytes``, copied once
    whatever buffer the message is. Raises :class:`ProtocolError` (400) for an
    empty message, an unknown payload type or a truncated frame, and
    :class:`PayloadTooLarge` (413) for a length above ``max_frame_size``.
    """
    if message.__class__ is not bytes:
        message = memoryview(message)  # slices below are views, copied once by bytes()
    total = len(message)
    if total < HEADER_SIZE:
        if total == 0:
            raise ProtocolError("empty WebSocket message on the lane (no frame header)")
        raise ProtocolError(f"truncated frame header: {total} of {HEADER_SIZE} bytes")
    kind, length = _unpack_from(message, 0)
    end = HEADER_SIZE + length
    # Fast path: the message is exactly one well-formed frame.
    if end == total and kind < _N_TYPES and length <= max_frame_size:
        return [(_TYPES[kind], bytes(message[HEADER_SIZE:]))]
    frames: list[tuple[PayloadType, bytes]] = []
    offset = 0
    while offset < total:
        if total - offset < HEADER_SIZE:
            raise ProtocolError(
                f"truncated frame header at offset {offset}: "
                f"{total - offset} of {HEADER_SIZE} bytes"
            )
        kind, length = _unpack_from(message, offset)
        if kind >= _N_TYPES:
            raise ProtocolError(f"unknown payload type {kind} in frame at offset {offset}")
        if length > max_frame_size:
            raise PayloadTooLarge(
                f"frame at offset {offset} declares {length} bytes, "
                f"over the {max_frame_size}-byte limit"
            )
        start = offset + HEADER_SIZE
        end = start + length
        if end > total:
            raise ProtocolError(
                f"truncated frame at offset {offset}: declares {length} bytes, "
                f"{total - start} present"
            )
        frames.append((_TYPES[kind], bytes(message[start:end])))
        offset = end
    return frames


class FrameBatcher:
    """Outbound frames waiting for the writer, packed into WebSocket messages.

    ``push`` appends a frame to the message being filled; when the next frame
    would take that message past ``coalesce_limit`` a new message starts, so a
    message holds either several frames within the limit or one larger frame.
    ``pop`` hands the writer the oldest message. Nothing waits on a timer: what
    was pushed before the writer's next turn travels together.
    """

    __slots__ = ("_current", "_limit", "_ready", "messages", "pending_bytes")

    def __init__(self, coalesce_limit: int) -> None:
        if coalesce_limit <= HEADER_SIZE:
            raise ValueError(f"coalesce_limit must exceed {HEADER_SIZE}")
        self._limit = coalesce_limit
        self._current = bytearray()
        self._ready: deque[bytearray] = deque()
        #: Bytes pushed and not yet popped (headers included).
        self.pending_bytes = 0
        #: Messages ``pop`` would return (each will get a WebSocket header).
        self.messages = 0

    def push(self, payload_type: PayloadType, data: bytes) -> None:
        length = len(data)
        size = HEADER_SIZE + length
        current = self._current
        if not current:
            self.messages += 1
        elif len(current) + size > self._limit:
            self._ready.append(current)
            current = self._current = bytearray()
            self.messages += 1
        current += _pack(payload_type, length)
        current += data
        self.pending_bytes += size

    def pop(self) -> bytearray | None:
        """The next message to write, or None when nothing is queued.

        The returned buffer is never touched again by the batcher, so the
        transport may keep a reference to it.
        """
        if self._ready:
            message = self._ready.popleft()
        elif self._current:
            message = self._current
            self._current = bytearray()
        else:
            return None
        self.pending_bytes -= len(message)
        self.messages -= 1
        return message

    def __len__(self) -> int:
        """Number of messages ``pop`` would return."""
        return self.messages
