"""Messages of the ``actr-py.control`` DataChannel: pure encode/decode.

The control channel exists only between two ``actr-py/1`` peers. It carries
what the lanes cannot: the handshake that confirms the framing (DCEP has no
way to accept or refuse a channel's ``protocol``), our own liveness heartbeat
(ICE consent takes 30 s to notice a dead peer), flow-control credit (aiortc's
SCTP ignores the receiver window, so a slow consumer must push back itself)
and a goodbye so a graceful close is seen at once.

Each message is one DataChannel message, big-endian::

    HELLO    0x01 <u8 version> <u32 window>     framing accepted; my per-lane
                                                receive window in bytes
    PING     0x02 <u32 seq>
    PONG     0x03 <u32 seq>                     echoes PING's seq
    CREDIT   0x04 <u8 payload_type> <u32 bytes> I consumed this much of that lane
    GOODBYE  0x05 <utf-8 reason>
    FEATURES 0x06 <u32 flags>                   optional behaviours I support,
                                                sent right after HELLO

Unknown types decode to ``None`` so a newer peer can add messages, and
unknown FEATURES bits are ignored. A peer that never sends FEATURES (an
older actr-py) supports none of them.

Feature bits:

* ``ACK_CLOCKED_SCTP`` (bit 0): my SCTP sender lets a SACK release as many
  packets as it acknowledged, on top of the Max.Burst allowance. Only then
  may the receiver answer a burst of packets with one SACK
  (:mod:`.sctp_fast`): a sender that applies Max.Burst to the SACK alone
  would send four packets per SACK and slow to a crawl.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ...errors import ProtocolError

__all__ = [
    "CONTROL_VERSION",
    "FEATURE_ACK_CLOCKED_SCTP",
    "ControlMessage",
    "Credit",
    "Features",
    "Goodbye",
    "Hello",
    "Ping",
    "Pong",
    "decode",
    "encode",
]

CONTROL_VERSION = 1

_HELLO, _PING, _PONG, _CREDIT, _GOODBYE, _FEATURES = 1, 2, 3, 4, 5, 6
#: FEATURES bit: my SCTP sender is ack-clocked, one SACK per burst is fine with me.
FEATURE_ACK_CLOCKED_SCTP = 1
_B_I = struct.Struct("!BI")
_B_B_I = struct.Struct("!BBI")
_U32 = 0xFFFFFFFF


class Hello(NamedTuple):
    version: int
    window: int


class Ping(NamedTuple):
    seq: int


class Pong(NamedTuple):
    seq: int


class Credit(NamedTuple):
    payload_type: int
    amount: int


class Goodbye(NamedTuple):
    reason: str


class Features(NamedTuple):
    flags: int


ControlMessage = Hello | Ping | Pong | Credit | Goodbye | Features


def encode(message: ControlMessage) -> bytes:
    """Serialize one control message."""
    if isinstance(message, Ping):
        return _B_I.pack(_PING, message.seq & _U32)
    if isinstance(message, Pong):
        return _B_I.pack(_PONG, message.seq & _U32)
    if isinstance(message, Credit):
        return _B_B_I.pack(_CREDIT, message.payload_type, min(message.amount, _U32))
    if isinstance(message, Hello):
        return _B_B_I.pack(_HELLO, message.version, min(message.window, _U32))
    if isinstance(message, Goodbye):
        return bytes([_GOODBYE]) + message.reason.encode("utf-8", "replace")[:512]
    if isinstance(message, Features):
        return _B_I.pack(_FEATURES, message.flags & _U32)
    raise TypeError(f"not a control message: {message!r}")


def decode(data: bytes) -> ControlMessage | None:
    """Parse one control message; None for a type this version does not know."""
    if not data:
        raise ProtocolError("actr-py control: empty message")
    kind = data[0]
    try:
        if kind == _PING:
            return Ping(_B_I.unpack(data)[1])
        if kind == _PONG:
            return Pong(_B_I.unpack(data)[1])
        if kind == _CREDIT:
            _, payload_type, amount = _B_B_I.unpack(data)
            return Credit(payload_type, amount)
        if kind == _HELLO:
            _, version, window = _B_B_I.unpack(data)
            return Hello(version, window)
        if kind == _FEATURES:
            return Features(_B_I.unpack(data)[1])
    except struct.error:
        raise ProtocolError(
            f"actr-py control: message type {kind} has the wrong length {len(data)}"
        ) from None
    if kind == _GOODBYE:
        return Goodbye(data[1:].decode("utf-8", "replace"))
    return None
