"""The ``actr-py/1`` framing inside one DataChannel: pure functions, no I/O.

Why a framing at all: a DataChannel message is capped by the peer's SCTP
``max-message-size`` (aiortc and Chrome advertise 256 KiB, the RFC 8841
default is 64 KiB), but an actr frame may be larger. The connection splits
such frames into fragments and the receiver reassembles them.

Why this shape: plain actr peers (upstream Rust, a browser written without
this library) put exactly one protobuf in each DataChannel message. We keep
that byte for byte for every message that fits, so a plain peer never sees a
header it does not understand. The trick is the first byte: a non-empty
protobuf message always starts with a field tag, and field number 0 does not
exist, so its first byte is ``>= 0x08``. Lead bytes ``0x00``-``0x07`` are
therefore free to mark our own frames.

Frame format (every DataChannel message is exactly one of these)::

    raw        <payload>                  empty, or payload[0] >= 0x08:
                                          the whole frame, unchanged
    whole      0x00 <payload>             the whole frame, escaped because its
                                          first byte is < 0x08
    fragment   0x01 <u32 message_id> <u32 index> <u32 count> <part>
                                          big-endian; part is non-empty;
                                          0 <= index < count; count >= 1
    batch      0x02 (<u32 length> <frame>)+  several whole frames, in order,
                                          each verbatim (no escaping inside)
    0x03-0x07  reserved: a receiver raises ProtocolError

A message is the concatenation of its parts in index order. Fragments of
different messages may interleave and, on an unordered lane, arrive in any
order; ``message_id`` (per sender and channel, wrapping) keeps them apart.
The framing is used on a channel only when both peers speak ``actr-py/1``
(see :mod:`.connection`); with a plain peer every message is raw.

Why batches: aiortc's SCTP counts its congestion window in payload bytes, so
a burst of tiny messages becomes hundreds of tiny packets in flight at once,
which overflows the receiver's UDP buffer and stalls on retransmission
timers. The sender therefore packs the small frames written within one event
loop iteration into one message (the first goes out at once, alone).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ...errors import PayloadTooLarge, ProtocolError

__all__ = [
    "BATCH_ITEM_OVERHEAD",
    "FRAGMENT_HEADER_SIZE",
    "KIND_BATCH",
    "KIND_FRAGMENT",
    "KIND_WHOLE",
    "PROTOCOL",
    "RAW_LEAD_MIN",
    "FrameEncoder",
    "Reassembler",
    "encode_batch",
    "is_raw",
    "split_batch",
]

#: Value of the DataChannel ``protocol`` field that offers this framing.
PROTOCOL = "actr-py/1"
#: A message whose first byte is at least this (or which is empty) is raw.
RAW_LEAD_MIN = 0x08
KIND_WHOLE = 0x00
KIND_FRAGMENT = 0x01
KIND_BATCH = 0x02

_FRAGMENT = struct.Struct("!BIII")
FRAGMENT_HEADER_SIZE = _FRAGMENT.size  # 13
_MESSAGE_ID_MASK = 0xFFFFFFFF
_LENGTH = struct.Struct("!I")
#: Bytes a frame costs inside a batch besides itself.
BATCH_ITEM_OVERHEAD = _LENGTH.size


def is_raw(message: bytes, limit: int) -> bool:
    """Whether ``message`` goes on the wire unchanged (fits and needs no escape)."""
    return len(message) <= limit and (not message or message[0] >= RAW_LEAD_MIN)


class FrameEncoder:
    """Turns frames into DataChannel messages of at most ``limit`` bytes.

    One encoder per sending channel: it owns the wrapping message-id counter.
    """

    __slots__ = ("_next_id", "limit")

    def __init__(self, limit: int) -> None:
        if limit <= FRAGMENT_HEADER_SIZE:
            raise ValueError(f"limit {limit} leaves no room for a fragment header")
        self.limit = limit
        self._next_id = 0

    def encode(self, data: bytes) -> Iterator[bytes]:
        """Yield the DataChannel messages that carry ``data``, in sending order."""
        limit = self.limit
        if is_raw(data, limit):
            yield data
            return
        if len(data) < limit:  # fits once escaped
            yield b"\x00" + data
            return
        message_id = self._next_id
        self._next_id = (message_id + 1) & _MESSAGE_ID_MASK
        step = limit - FRAGMENT_HEADER_SIZE
        count = -(-len(data) // step)
        view = memoryview(data)
        pack = _FRAGMENT.pack
        for index in range(count):
            start = index * step
            yield pack(KIND_FRAGMENT, message_id, index, count) + view[start : start + step]


def encode_batch(frames: list[bytes]) -> bytes:
    """One DataChannel message carrying ``frames`` (at least one) in order."""
    pack = _LENGTH.pack
    parts = [b"\x02"]
    for frame in frames:
        parts.append(pack(len(frame)))
        parts.append(frame)
    return b"".join(parts)


def split_batch(message: bytes) -> list[bytes]:
    """The frames of a batch message; raise ProtocolError if it is malformed."""
    if not message or message[0] != KIND_BATCH:
        raise ProtocolError("actr-py/1: not a batch message")
    end = len(message)
    if end == 1:
        raise ProtocolError("actr-py/1: empty batch")
    frames = []
    unpack = _LENGTH.unpack_from
    pos = 1
    while pos < end:
        if pos + 4 > end:
            raise ProtocolError(f"actr-py/1: batch item length cut at byte {pos}")
        (size,) = unpack(message, pos)
        pos += 4
        if pos + size > end:
            raise ProtocolError(
                f"actr-py/1: batch item of {size} bytes overruns the message at byte {pos}"
            )
        frames.append(message[pos : pos + size])
        pos += size
    return frames


@dataclass(slots=True)
class _Partial:
    count: int
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class Reassembler:
    """Turns received DataChannel messages back into frames.

    ``strict`` (reliable lanes): any inconsistency is the peer's protocol
    violation and raises. Not strict (the unordered, partially reliable
    latency-first lane): fragments may be lost for good, so incomplete
    messages are evicted oldest first when limits are reached, and a
    repeated fragment is ignored.

    Limits bound memory against a buggy or hostile peer:
    ``max_message_size`` per reassembled frame (raises PayloadTooLarge),
    ``max_pending_messages`` and ``max_pending_bytes`` across incomplete ones.
    """

    __slots__ = (
        "_partials",
        "_pending_bytes",
        "max_message_size",
        "max_pending_bytes",
        "max_pending_messages",
        "strict",
    )

    def __init__(
        self,
        *,
        max_message_size: int,
        max_pending_messages: int = 16,
        max_pending_bytes: int | None = None,
        strict: bool = True,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_pending_messages = max_pending_messages
        self.max_pending_bytes = (
            max_pending_bytes if max_pending_bytes is not None else 2 * max_message_size
        )
        self.strict = strict
        self._partials: dict[int, _Partial] = {}
        self._pending_bytes = 0

    @property
    def pending_messages(self) -> int:
        return len(self._partials)

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def feed(self, message: bytes) -> bytes | None:
        """Consume one DataChannel message; return a complete frame or None."""
        if not message or message[0] >= RAW_LEAD_MIN:
            return message
        kind = message[0]
        if kind == KIND_WHOLE:
            return message[1:]
        if kind == KIND_BATCH:
            raise ProtocolError("actr-py/1: batch message given to feed(); use split_batch()")
        if kind != KIND_FRAGMENT:
            raise ProtocolError(f"actr-py/1: reserved frame kind 0x{kind:02x}")
        if len(message) <= FRAGMENT_HEADER_SIZE:
            raise ProtocolError(
                f"actr-py/1: fragment of {len(message)} bytes has no payload "
                f"(header alone is {FRAGMENT_HEADER_SIZE})"
            )
        _, message_id, index, count = _FRAGMENT.unpack_from(message)
        if count == 0 or index >= count:
            raise ProtocolError(f"actr-py/1: fragment index {index} of count {count}")
        if count > self.max_message_size:
            # Every part holds at least one byte, so the frame is too large.
            raise PayloadTooLarge(
                f"actr-py/1: {count} fragments exceed the {self.max_message_size}-byte limit"
            )
        part = message[FRAGMENT_HEADER_SIZE:]
        partial = self._partials.get(message_id)
        if partial is None:
            partial = self._start(message_id, count)
        elif partial.count != count:
            raise ProtocolError(
                f"actr-py/1: message {message_id} announced {partial.count} fragments, then {count}"
            )
        if index in partial.parts:
            if self.strict:
                raise ProtocolError(f"actr-py/1: fragment {index} of message {message_id} twice")
            return None
        partial.size += len(part)
        if partial.size > self.max_message_size:
            self._drop(message_id)
            raise PayloadTooLarge(
                f"actr-py/1: message {message_id} exceeds the {self.max_message_size}-byte limit"
            )
        partial.parts[index] = part
        self._pending_bytes += len(part)
        if len(partial.parts) == count:
            self._drop(message_id)
            parts = partial.parts
            if count == 1:
                return parts[0]
            return b"".join([parts[i] for i in range(count)])
        self._enforce_pending_bytes(message_id)
        return None

    def _start(self, message_id: int, count: int) -> _Partial:
        if len(self._partials) >= self.max_pending_messages:
            if self.strict:
                raise ProtocolError(
                    f"actr-py/1: more than {self.max_pending_messages} messages in reassembly"
                )
            self._drop(next(iter(self._partials)))
        partial = self._partials[message_id] = _Partial(count)
        return partial

    def _enforce_pending_bytes(self, current: int) -> None:
        while self._pending_bytes > self.max_pending_bytes:
            if self.strict:
                raise PayloadTooLarge(
                    f"actr-py/1: {self._pending_bytes} bytes in reassembly exceed "
                    f"the {self.max_pending_bytes}-byte limit"
                )
            oldest = next(iter(self._partials))
            self._drop(oldest)
            if oldest == current:
                return

    def _drop(self, message_id: int) -> None:
        partial = self._partials.pop(message_id)
        self._pending_bytes -= sum(len(p) for p in partial.parts.values())
