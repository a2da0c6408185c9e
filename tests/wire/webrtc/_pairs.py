"""Two real aiortc peer connections over loopback in this process, SCTP packets watched.

Used by the fast SCTP and inline receive tests: what they check is
behaviour (delivery, order, packets and SACKs counted), never speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection

from actr_py.wire.webrtc import inline_receive, sctp_fast, udp_reads
from actr_py.wire.webrtc.config import WebRtcConfig
from actr_py.wire.webrtc.gathering import restrict_gathering, set_receive_buffer
from actr_py.wire.webrtc.inline_receive import InlineReceiver
from actr_py.wire.webrtc.sctp_fast import FastSctpTransport

from ._support import wait_until

__all__ = ["DATA", "SACK", "Pair", "chunk_types", "connect"]

SACK, DATA = 3, 0


@dataclass
class Pair:
    a: RTCPeerConnection
    b: RTCPeerConnection
    a_channels: dict[str, RTCDataChannel]
    b_channels: dict[str, RTCDataChannel] = field(default_factory=dict)
    received: dict[str, list[bytes]] = field(default_factory=dict)
    #: Every SCTP packet each side wrote, as bytes (after our own drop rule).
    sent: dict[str, list[bytes]] = field(default_factory=lambda: {"a": [], "b": []})
    #: Each side's inline receive path, where :func:`connect` installed one.
    inline: dict[str, InlineReceiver] = field(default_factory=dict)

    def watch(self, side: str, drop: Callable[[bytes], bool] | None = None) -> None:
        """Record (and maybe drop) every SCTP packet ``side`` hands to DTLS."""
        pc = self.a if side == "a" else self.b
        sctp = pc.sctp
        assert sctp is not None
        log = self.sent[side]
        if isinstance(sctp, FastSctpTransport):
            write = sctp._actr_write  # every packet, data and control, leaves here

            def fast_write(data: bytes) -> None:
                if drop is not None and drop(data):
                    return
                log.append(data)
                write(data)

            sctp._actr_write = fast_write  # type: ignore[method-assign]
            return
        dtls = sctp.transport
        original = dtls._send_data

        async def send_data(data: bytes) -> None:
            if drop is not None and drop(data):
                return
            log.append(data)
            await original(data)

        dtls._send_data = send_data  # type: ignore[method-assign]

    def sacks(self, side: str) -> int:
        return sum(chunk_types(p).count(SACK) for p in self.sent[side])

    def data_packets(self, side: str) -> int:
        return sum(1 for p in self.sent[side] if DATA in chunk_types(p))


def chunk_types(packet: bytes) -> list[int]:
    types, pos = [], 12
    while pos + 4 <= len(packet):
        length = int.from_bytes(packet[pos + 2 : pos + 4], "big")
        types.append(packet[pos])
        pos += length + (-length % 4)
    return types


async def connect(
    fast_a: bool,
    fast_b: bool,
    labels: dict[str, tuple[bool, int | None]],
    *,
    inline: bool = False,
) -> Pair:
    """Connect ``a`` (offerer) to ``b``, with fast SCTP on the sides asked for.

    ``inline``: also give every fast side burst reads and the inline receive
    path, as WebRtcConnection does once ICE and DTLS are up.
    """
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channels = {
        label: a.createDataChannel(label, ordered=ordered, maxRetransmits=retransmits)
        for label, (ordered, retransmits) in labels.items()
    }
    pair = Pair(a, b, channels)

    @b.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        pair.b_channels[channel.label] = channel
        channel.on("message", pair.received.setdefault(channel.label, []).append)

    restrict_gathering(a, ["127.0.0.1"])
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    restrict_gathering(b, ["127.0.0.1"])
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    for pc in (a, b):  # as our negotiator does: no overflow losses on a healthy path
        set_receive_buffer(pc, WebRtcConfig().udp_receive_buffer or 0)
    # Where WebRtcConnection applies it: both transports exist, nothing started.
    for pc, fast in ((a, fast_a), (b, fast_b)):
        if fast:
            assert sctp_fast.apply(pc) is True
    await wait_until(lambda: len(pair.b_channels) == len(labels))
    await wait_until(lambda: all(c.readyState == "open" for c in channels.values()))
    for side, pc, fast in (("a", a, fast_a), ("b", b, fast_b)):
        assert (type(pc.sctp) is FastSctpTransport) is fast
        if inline and fast:
            udp_reads.apply(pc)
            receiver = inline_receive.apply(pc)
            assert receiver is not None
            pair.inline[side] = receiver
    return pair
