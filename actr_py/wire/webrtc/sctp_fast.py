"""A faster SCTP association for our connections: a subclass of aiortc's transport.

Why. aiortc runs SCTP in Python, and profiles of bulk DataChannel transfers
(benchmarks/README.md, "Profiling evidence") show its own bookkeeping, not
the bytes, dominating:

* ``_transmit`` walks the whole sent queue looking for chunks marked for
  retransmission on *every* call, and it is called for every SACK: with a
  1 MB congestion window that is ~900 chunks per SACK, for nothing on a
  healthy path;
* ``InboundStream.pop_messages`` rescans the reassembly list from its start
  for every arriving fragment, so a 256 KiB message (224 fragments) costs
  ~25,000 steps;
* every ``RTCDataChannel.send`` spawns a task to flush the send queue;
* every DATA chunk travels alone in its own packet, and every received packet
  is answered by its own SACK packet, each one a DTLS record, a UDP datagram
  and a trip through both event loops;
* each packet descends through five coroutines on its way to the socket.

What. :class:`FastSctpTransport` keeps aiortc's association, congestion
control and wire format, and changes only how it gets there:

1. the retransmission scan runs only when a chunk may be marked (a SACK with
   gap blocks, a T3 expiry, or a scan that stopped at the congestion window);
2. reassembly scans a stream only while it holds a message's last fragment;
3. sends queued within one event loop iteration are flushed by one task;
4. small DATA chunks queued together share a packet (bundling, RFC 9260
   section 6.10), and a pending SACK rides in front of our next DATA;
5. SACKs are delayed as RFC 9260 section 6.2 allows: at least every second
   packet, at once on gaps, duplicates or FORWARD TSN, otherwise with our
   next packet or after :data:`SACK_DELAY`;
6. an in-order TSN (the common case) skips the sort-and-filter bookkeeping,
   and data in flight stays within the peer's advertised receive window,
   which aiortc ignores (see ``_transmit``);
7. a packet is encrypted and written to the ICE socket in one synchronous
   call instead of five nested coroutines, and DATA chunks bypass aiortc's
   chunk-type dispatch.

Every packet stays valid SCTP, so a peer running stock aiortc, usrsctp (a
browser, upstream actr) or this code sees nothing new.

How. :func:`apply` switches one peer connection's transport to the subclass
(``__class__`` assignment on that instance only, nothing global), once its
SCTP transport exists and before the association starts. It relies on
aiortc internals (and, to write packets, aioice's nominated pair), so it
refuses, and leaves the connection on stock aiortc, when the installed
aiortc or aioice is not a version listed in :data:`TESTED_AIORTC` /
``gathering.TESTED_AIOICE`` or lacks an attribute it uses. ``ACTR_PY_SCTP_FAST=0`` turns it off (to
measure the difference).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
from collections.abc import Coroutine, Iterator
from typing import Any

import aioice
import aiortc
from aiortc import RTCPeerConnection
from aiortc import rtcsctptransport as _sctp
from aiortc.rtcdtlstransport import State as _DtlsState
from aiortc.rtcsctptransport import (
    DataChunk,
    ForwardTsnChunk,
    InboundStream,
    InitChunk,
    RTCSctpTransport,
    SackChunk,
)
from google_crc32c import value as _crc32c

from ...errors import ConfigError
from ..eager import start_eagerly
from .gathering import TESTED_AIOICE
from .versions import require_tested

__all__ = [
    "SACK_DELAY",
    "TESTED_AIORTC",
    "FastSctpTransport",
    "apply",
    "check_supported",
    "enabled_by_env",
    "sack_per_burst",
]

logger = logging.getLogger(__name__)

#: aiortc (major, minor) versions whose SCTP internals this module was written against.
TESTED_AIORTC: frozenset[tuple[int, int]] = frozenset({(1, 16)})
#: Longest a SACK for a lone packet waits for company (RFC 9260 allows 200 ms).
SACK_DELAY = 0.01
#: Environment switch: "0" keeps every connection on stock aiortc.
ENV_SWITCH = "ACTR_PY_SCTP_FAST"

#: Chunks moved from the channels' send queue into the association per flush.
#: Bounded so that ``bufferedAmount`` still measures what is waiting, which
#: is what applications (and our lanes) use as back pressure.
_OUTBOUND_CHUNKS = 64

_LAST = _sctp.SCTP_DATA_LAST_FRAG
_FIRST = _sctp.SCTP_DATA_FIRST_FRAG
_UNORDERED = _sctp.SCTP_DATA_UNORDERED
_MAX_PACKET = _sctp.SCTP_MAX_PACKET_LENGTH
_HEADER_LEN = _sctp.SCTP_COMMON_HEADER_LENGTH
_USERDATA_MAX = _sctp.USERDATA_MAX_LENGTH
_TSN_MODULO = _sctp.SCTP_TSN_MODULO
_DCEP = _sctp.WEBRTC_DCEP
_HEADER = struct.Struct("!HHL")
_CHECKSUM = struct.Struct("<L")
#: A DATA chunk's header (RFC 9260 section 3.3.1): type 0, flags, length, TSN,
#: stream id, stream sequence, payload protocol id.
_DATA_HEADER = struct.Struct("!BBHLHHL")
_PADDING = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")
_ZERO = b"\x00\x00\x00\x00"
_DTLS_CONNECTED = _DtlsState.CONNECTED

#: Instance attributes of RTCSctpTransport (and module names) this class reads.
_REQUIRED_ATTRS = (
    "_association_state", "_cwnd", "_data_channel_id", "_data_channel_queue",
    "_data_channels", "_fast_recovery_exit", "_fast_recovery_transmit", "_flight_size",
    "_forward_tsn_chunk", "_inbound_streams", "_last_received_tsn", "_local_port",
    "_local_tsn", "_outbound_queue", "_outbound_stream_seq", "_remote_port",
    "_remote_verification_tag", "_sack_duplicates", "_sack_misordered", "_sack_needed",
    "_sent_queue", "_t3_handle", "_advertised_rwnd", "_local_verification_tag",
    "_reconfig_deferred",
)
#: What ``_actr_write`` reads or updates on aiortc's DTLS transport.
_REQUIRED_DTLS_ATTRS = (
    "_state", "_ssl", "transport", "_RTCDtlsTransport__tx_bytes",
    "_RTCDtlsTransport__tx_packets",
)
_REQUIRED_METHODS = (
    "_data_channel_flush", "_data_channel_send", "_flight_size_increase", "_get_inbound_stream",
    "_handle_data", "_mark_received", "_receive_chunk", "_receive_sack_chunk", "_send_chunk",
    "_send_sack", "_set_state", "_t3_expired", "_t3_restart", "_t3_start", "_transmit",
    "_transmit_reconfig", "_receive", "_reset_deferred_streams",
)


def check_supported(version: str | None = None, aioice_version: str | None = None) -> None:
    """Raise ConfigError unless the installed (or given) aiortc and aioice are ones we know.

    aioice matters because packets are written straight to the nominated
    ICE pair's socket (see ``FastSctpTransport._actr_write``).
    """
    found = version if version is not None else getattr(aiortc, "__version__", "?")
    require_tested(
        "fast SCTP", "aiortc", found, TESTED_AIORTC, "actr_py/wire/webrtc/sctp_fast.py"
    )
    ice = aioice_version if aioice_version is not None else getattr(aioice, "__version__", "?")
    require_tested(
        "fast SCTP", "aioice", ice, TESTED_AIOICE, "actr_py/wire/webrtc/sctp_fast.py"
    )
    missing = [m for m in _REQUIRED_METHODS if not callable(getattr(RTCSctpTransport, m, None))]
    if missing:
        raise ConfigError(f"fast SCTP: aiortc's RTCSctpTransport lacks {', '.join(missing)}")


def enabled_by_env() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip() not in ("0", "false", "no", "off")


_refusal_logged = False


def apply(pc: RTCPeerConnection) -> bool:
    """Switch ``pc``'s SCTP transport to :class:`FastSctpTransport`.

    Returns whether ``pc`` now uses it. Refuses (False, the transport left
    as it was, logged once) on an untested aiortc, an instance missing an
    attribute we rely on, a transport that is already someone's subclass,
    or when ``ACTR_PY_SCTP_FAST=0``. Idempotent.
    """
    global _refusal_logged
    sctp = pc.sctp
    if sctp is None:
        return False
    if type(sctp) is FastSctpTransport:
        return True
    if not enabled_by_env() or type(sctp) is not RTCSctpTransport:
        return False
    try:
        check_supported()
        missing = [a for a in _REQUIRED_ATTRS if not hasattr(sctp, a)]
        missing += [f"DTLS {a}" for a in _REQUIRED_DTLS_ATTRS if not hasattr(sctp.transport, a)]
        if missing:
            raise ConfigError(f"fast SCTP: transport instance lacks {', '.join(missing)}")
    except ConfigError as exc:
        if not _refusal_logged:
            _refusal_logged = True
            logger.warning("%s; DataChannels use stock aiortc SCTP", exc.message)
        return False
    sctp.__class__ = FastSctpTransport
    sctp._actr_setup()
    return True


def sack_per_burst(pc: RTCPeerConnection) -> bool:
    """Let ``pc``'s association answer a burst of packets with one SACK.

    Only for a peer that said its sender is ack-clocked (the control
    channel's ``ACK_CLOCKED_SCTP`` feature, which this module's sender has):
    a sender that applies Max.Burst per SACK, as stock aiortc and usrsctp do,
    would send only four packets per SACK and fall to a few MB/s. Returns
    whether ``pc`` runs :class:`FastSctpTransport` and now does so.
    """
    sctp = pc.sctp
    if type(sctp) is not FastSctpTransport:
        return False
    sctp._actr_sack_per_burst = True
    return True


class _FastInboundStream(InboundStream):
    """Reassembly that scans only while a message's last fragment is present.

    A message can complete only once its last fragment arrived, so while the
    list holds none (``lasts == 0``) there is nothing to pop and the scan of
    aiortc's ``pop_messages`` (the whole list, per fragment) is skipped.
    """

    lasts: int

    def __init__(self) -> None:
        super().__init__()
        self.lasts = 0

    def recount(self) -> None:
        self.lasts = sum(1 for c in self.reassembly if c.flags & _LAST)

    def add_chunk(self, chunk: DataChunk) -> None:
        super().add_chunk(chunk)
        if chunk.flags & _LAST:
            self.lasts += 1

    def pop_messages(self) -> Iterator[tuple[int, int, bytes]]:
        if not self.lasts:
            return
        for message in super().pop_messages():
            self.lasts -= 1  # each popped message took exactly one last fragment with it
            yield message

    def prune_chunks(self, tsn: int) -> int:
        size = super().prune_chunks(tsn)
        self.recount()
        return size


class FastSctpTransport(RTCSctpTransport):
    """aiortc's SCTP association with the hot paths reworked (see the module doc).

    Never constructed directly: :func:`apply` converts a live instance.
    """

    _actr_rescan: bool
    _actr_flush_pending: bool
    _actr_sack_soon: bool
    _actr_sack_per_burst: bool
    _actr_acked: int
    _actr_eager_spent: bool
    _actr_unacked: int
    _actr_sack_at: float
    _actr_sack_timer: asyncio.TimerHandle | None
    _actr_t3_deadline: float
    _actr_tasks: set[asyncio.Task[None]]
    _actr_peer_rwnd: int

    def _actr_setup(self) -> None:
        self._actr_rescan = True  # whatever was queued before the switch is looked at once
        self._actr_flush_pending = False
        self._actr_sack_soon = False
        self._actr_sack_per_burst = False
        self._actr_acked = 0
        self._actr_eager_spent = False
        self._actr_unacked = 0
        self._actr_sack_at = 0.0
        self._actr_sack_timer = None
        self._actr_t3_deadline = 0.0
        self._actr_tasks = set()
        #: The peer's advertised receive window (a_rwnd of its last SACK); until
        #: one arrives, what aiortc itself advertises (peers of ours do the same).
        self._actr_peer_rwnd = self._advertised_rwnd
        for stream_id, stream in list(self._inbound_streams.items()):
            if type(stream) is InboundStream:
                stream.__class__ = _FastInboundStream
                assert isinstance(stream, _FastInboundStream)
                stream.recount()
                self._inbound_streams[stream_id] = stream

    # ---- sending: one flush per loop iteration ------------------------------------------

    def _data_channel_send(self, channel: aiortc.RTCDataChannel, data: bytes | str) -> None:
        if data == "":
            pp_id, user_data = _sctp.WEBRTC_STRING_EMPTY, b"\x00"
        elif isinstance(data, str):
            pp_id, user_data = _sctp.WEBRTC_STRING, data.encode("utf8")
        elif data == b"":
            pp_id, user_data = _sctp.WEBRTC_BINARY_EMPTY, b"\x00"
        else:
            pp_id, user_data = _sctp.WEBRTC_BINARY, data
        limit = self._remote_max_message_size
        if limit and len(user_data) > limit:
            raise ValueError(
                f"Cannot send message of {len(user_data)} bytes, the remote party "
                f"only supports messages up to {limit} bytes"
            )
        channel._addBufferedAmount(len(user_data))
        self._data_channel_queue.append((channel, pp_id, user_data))
        if self._actr_flush_pending:
            return  # a flush this loop turn takes it along
        if not self._actr_eager_spent and self._association_state == self.State.ESTABLISHED:
            # The first send of a loop turn leaves at once, in this call stack:
            # no task, no loop hop on the latency path. Sends later in the same
            # turn are bundled by one flush task.
            self._actr_eager_spent = True
            self._loop.call_soon(self._actr_eager_reset)
            with contextlib.suppress(ConnectionError):  # aiortc's own flush fails quietly too
                self._actr_run(self._data_channel_flush())
            return
        self._actr_flush_pending = True
        self._actr_spawn(self._actr_flush_soon())

    def _actr_eager_reset(self) -> None:
        self._actr_eager_spent = False

    async def _actr_flush_soon(self) -> None:
        self._actr_flush_pending = False
        with contextlib.suppress(ConnectionError):  # the association is going away
            await self._data_channel_flush()

    async def _data_channel_flush(self) -> None:
        if self._association_state != self.State.ESTABLISHED:
            return
        queue = self._data_channel_queue
        outbound = self._outbound_queue
        queued = False
        while queue and len(outbound) < _OUTBOUND_CHUNKS:
            channel, protocol, user_data = queue.popleft()
            stream_id = channel.id
            if stream_id is None:
                stream_id = self._data_channel_id
                assert stream_id is not None
                while stream_id in self._data_channels:
                    stream_id += 2
                self._data_channels[stream_id] = channel
                channel._setId(stream_id)
            if protocol == _DCEP:
                self._actr_enqueue(stream_id, protocol, user_data, None, None, True)
            else:
                lifetime = channel.maxPacketLifeTime
                expiry = time.time() + lifetime / 1000 if lifetime else None
                self._actr_enqueue(
                    stream_id, protocol, user_data, expiry, channel.maxRetransmits,
                    channel.ordered,
                )
                channel._addBufferedAmount(-len(user_data))
            queued = True
        if queued:
            await self._transmit()
        await self._transmit_reconfig()

    def _actr_enqueue(
        self,
        stream_id: int,
        pp_id: int,
        user_data: bytes,
        expiry: float | None,
        max_retransmits: int | None,
        ordered: bool,
    ) -> None:
        """Cut one message into DATA chunks on the outbound queue (aiortc's ``_send``
        without its transmit: the caller transmits once for everything it queued)."""
        if ordered:
            stream_seq = self._outbound_stream_seq.get(stream_id, 0)
            base_flags = 0
        else:
            stream_seq = 0
            base_flags = _UNORDERED
        size = len(user_data)
        count = max(1, -(-size // _USERDATA_MAX))
        append = self._outbound_queue.append
        tsn = self._local_tsn
        for index in range(count):
            chunk = DataChunk()
            flags = base_flags
            if index == 0:
                flags |= _FIRST
            if index == count - 1:
                flags |= _LAST
            chunk.flags = flags
            chunk.tsn = tsn
            chunk.stream_id = stream_id
            chunk.stream_seq = stream_seq
            chunk.protocol = pp_id
            part = user_data if count == 1 else user_data[index * _USERDATA_MAX:
                                                          (index + 1) * _USERDATA_MAX]
            chunk.user_data = part
            chunk._abandoned = False
            chunk._acked = False
            chunk._book_size = len(part)
            chunk._expiry = expiry
            chunk._in_flight = False
            chunk._max_retransmits = max_retransmits
            chunk._misses = 0
            chunk._retransmit = False
            chunk._sent_count = 0
            chunk._sent_time = None
            tsn = (tsn + 1) % _TSN_MODULO
            append(chunk)
        self._local_tsn = tsn
        if ordered:
            self._outbound_stream_seq[stream_id] = (stream_seq + 1) & 0xFFFF

    async def _transmit(self) -> None:
        if self._forward_tsn_chunk is not None:
            await self._send_chunk(self._forward_tsn_chunk)
            self._forward_tsn_chunk = None
            if not self._t3_handle:
                self._t3_start()

        burst = (2 if self._fast_recovery_exit is not None else 4) * _USERDATA_MAX
        burst += self._actr_acked
        self._actr_acked = 0
        # aiortc ignores the peer's receive window; on a lossless path its
        # congestion window then grows without bound and the peer's socket
        # queue with it, until ICE consent checks queued behind the data time
        # out and the connection dies. Keep what is in flight within the
        # window the peer advertised (RFC 9260 section 6.1, rule A).
        window = max(min(self._cwnd, self._actr_peer_rwnd), _USERDATA_MAX)
        cwnd = min(self._flight_size + burst, window)

        # Retransmissions, exactly as aiortc does them, but only when a chunk may
        # be marked: the flag is cleared first, so a marking during the scan re-sets it.
        if self._actr_rescan:
            self._actr_rescan = False
            earliest = True
            for chunk in self._sent_queue:
                if chunk._retransmit:
                    if self._fast_recovery_transmit:
                        self._fast_recovery_transmit = False
                    elif self._flight_size >= cwnd:
                        self._actr_rescan = True
                        return
                    self._flight_size_increase(chunk)
                    chunk._misses = 0
                    chunk._retransmit = False
                    chunk._sent_count += 1
                    await self._send_chunk(chunk)
                    if earliest:
                        self._t3_restart()
                earliest = False

        # New data, small chunks bundled, a pending SACK in front when it fits.
        outbound = self._outbound_queue
        if not outbound:
            return
        sent_queue = self._sent_queue
        pack_data = _DATA_HEADER.pack
        now = time.time()
        while outbound and self._flight_size < cwnd:
            room = _MAX_PACKET - _HEADER_LEN
            parts: list[bytes] = []
            if self._sack_needed:
                sack = self._actr_sack_chunk()
                if sack is not None:
                    sack_bytes = bytes(sack)
                    first = 16 + len(outbound[0].user_data)
                    if len(sack_bytes) + first + (-first % 4) <= room:
                        parts.append(sack_bytes)
                        room -= len(sack_bytes)
                        self._actr_sack_sent()
            while outbound and self._flight_size < cwnd:
                chunk = outbound[0]
                user_data = chunk.user_data
                length = 16 + len(user_data)
                pad = -length % 4
                if length + pad > room:  # never the first chunk: a full one fits an empty packet
                    break
                outbound.popleft()
                sent_queue.append(chunk)
                if not chunk._in_flight:
                    chunk._in_flight = True
                    self._flight_size += chunk._book_size
                chunk._sent_count += 1
                chunk._sent_time = now
                parts.append(pack_data(0, chunk.flags, length, chunk.tsn, chunk.stream_id,
                                       chunk.stream_seq, chunk.protocol))
                parts.append(user_data)
                if pad:
                    parts.append(_PADDING[pad])
                room -= length + pad
                if room < 20:  # not even a one-byte chunk fits any more
                    break
            await self._actr_send_packet(parts)
            if not self._t3_handle:
                self._t3_start()

    async def _actr_send_packet(self, parts: list[bytes]) -> None:
        header = _HEADER.pack(self._local_port, self._remote_port, self._remote_verification_tag)
        body = b"".join(parts)
        checksum = _crc32c(header + _ZERO + body)
        self._actr_write(header + _CHECKSUM.pack(checksum) + body)

    async def _send_chunk(self, chunk: _sctp.Chunk) -> None:
        """One chunk in its own packet (control chunks, retransmissions), written at once."""
        self._actr_write(
            _sctp.serialize_packet(
                self._local_port, self._remote_port, self._remote_verification_tag, chunk
            )
        )

    def _actr_write(self, packet: bytes) -> None:
        """Encrypt one SCTP packet and hand the DTLS record to the ICE socket.

        What aiortc's ``RTCDtlsTransport._send_data`` does through five nested
        coroutines (DTLS write, BIO read, ICE transport, aioice connection,
        STUN protocol), done synchronously: nothing on that path ever waits.
        Before DTLS is connected, or without a nominated ICE pair, it fails
        the way aiortc does (ConnectionError).
        """
        dtls = self.transport
        if dtls._state is not _DTLS_CONNECTED:
            raise ConnectionError("Cannot send encrypted data, not connected")
        ssl = dtls._ssl
        ssl.send(packet)
        record = ssl.bio_read(1500)
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            raise ConnectionError("Cannot send data, not connected")
        pair.protocol.transport.sendto(record, pair.remote_addr)
        dtls._RTCDtlsTransport__tx_bytes += len(record)
        dtls._RTCDtlsTransport__tx_packets += 1

    # ---- acknowledgements and the T3 timer ------------------------------------------------

    async def _receive_sack_chunk(self, chunk: SackChunk) -> None:
        self._actr_peer_rwnd = chunk.advertised_rwnd
        if chunk.gaps or self._fast_recovery_exit is not None:
            # Loss or recovery: aiortc's own handling, and strikes may mark
            # chunks for retransmission, so the next transmit scans.
            self._actr_rescan = True
            await super()._receive_sack_chunk(chunk)
            return
        cumulative = chunk.cumulative_tsn
        if _sctp.uint32_gt(self._last_sacked_tsn, cumulative):
            return
        # The healthy path of aiortc's handler (no gap blocks, not in fast
        # recovery): same acknowledgement, RTO and congestion window rules.
        self._last_sacked_tsn = cumulative
        cwnd_fully_utilized = self._flight_size >= self._cwnd
        sent_queue = self._sent_queue
        done = done_bytes = 0
        while sent_queue and _sctp.uint32_gte(cumulative, sent_queue[0].tsn):
            acked = sent_queue.popleft()
            done += 1
            if not acked._acked:
                done_bytes += acked._book_size
            if acked._in_flight:
                acked._in_flight = False
                self._flight_size -= acked._book_size
            if done == 1 and acked._sent_count == 1:
                self._update_rto(time.time() - acked._sent_time)
        if done and cwnd_fully_utilized:
            if self._cwnd <= self._ssthresh:
                self._cwnd += min(done_bytes, _USERDATA_MAX)
            else:
                self._partial_bytes_acked += done_bytes
                if self._partial_bytes_acked >= self._cwnd:
                    self._partial_bytes_acked -= self._cwnd
                    self._cwnd += _USERDATA_MAX
        if not sent_queue:
            self._t3_cancel()
        elif done:
            self._t3_restart()
        self._update_advanced_peer_ack_point()
        self._actr_acked = done_bytes
        await self._data_channel_flush()
        await self._transmit()

    # T3 is restarted by every SACK that acknowledges anything. aiortc cancels
    # and re-creates the timer each time (a heap push per SACK); here the timer
    # stays armed and a restart only moves its deadline: when it fires early it
    # re-arms itself for the rest. ``_t3_handle`` keeps aiortc's meaning
    # (None: T3 not running), so aiortc's own code paths stay correct.

    def _t3_start(self) -> None:
        assert self._t3_handle is None
        self._actr_t3_deadline = deadline = self._loop.time() + self._rto
        self._t3_handle = self._loop.call_at(deadline, self._t3_expired)

    def _t3_restart(self) -> None:
        self._actr_t3_deadline = deadline = self._loop.time() + self._rto
        if self._t3_handle is None:
            self._t3_handle = self._loop.call_at(deadline, self._t3_expired)

    def _t3_expired(self) -> None:
        deadline = self._actr_t3_deadline
        if self._loop.time() < deadline:  # restarted since armed: not due yet
            self._t3_handle = self._loop.call_at(deadline, self._t3_expired)
            return
        self._actr_rescan = True
        super()._t3_expired()

    # ---- receiving: in-order fast path, cheap reassembly, delayed SACK ----------------------

    def _get_inbound_stream(self, stream_id: int) -> InboundStream:
        stream = self._inbound_streams.get(stream_id)
        if stream is None:
            stream = self._inbound_streams[stream_id] = _FastInboundStream()
        return stream

    def _mark_received(self, tsn: int) -> bool:
        last = self._last_received_tsn
        if not self._sack_misordered and last is not None and tsn == (last + 1) % _TSN_MODULO:
            self._last_received_tsn = tsn
            if self._sack_duplicates:
                self._sack_duplicates = [
                    x for x in self._sack_duplicates if _sctp.uint32_gt(x, tsn)
                ]
            return False
        return super()._mark_received(tsn)

    async def _handle_data(self, data: bytes) -> None:
        try:
            _, _, verification_tag, chunks = _sctp.parse_packet(data)
        except ValueError:
            return
        immediate = False
        expected_tag = self._local_verification_tag
        for chunk in chunks:
            kind = type(chunk)
            if kind is InitChunk:
                if len(chunks) != 1:
                    return  # an INIT travels alone (RFC 9260 section 6.10)
                expected_tag = 0
            elif kind is ForwardTsnChunk:
                immediate = True
        if verification_tag != expected_tag:
            return
        for chunk in chunks:
            if type(chunk) is DataChunk:
                await self._actr_receive_data(chunk)
            else:
                await self._receive_chunk(chunk)
        if self._sack_needed:
            self._actr_unacked += 1
            if immediate or self._sack_misordered or self._sack_duplicates:
                await self._send_sack()
            elif self._actr_unacked >= 2:
                if not self._actr_sack_per_burst:
                    await self._send_sack()  # every second packet (RFC 9260 section 6.2)
                elif not self._actr_sack_soon:
                    # The peer's sender is ack-clocked (see ``sack_per_burst``):
                    # packets read in one wake-up share one SACK, sent once the
                    # burst is handled.
                    self._actr_sack_soon = True
                    self._loop.call_soon(self._actr_sack_burst)
            elif self._actr_unacked == 1:
                # A lone packet: its SACK rides on our next packet, goes with
                # the next one received, or leaves after SACK_DELAY. Like T3,
                # one armed timer is reused rather than one created per packet.
                self._actr_sack_at = due = self._loop.time() + SACK_DELAY
                if self._actr_sack_timer is None:
                    self._actr_sack_timer = self._loop.call_at(due, self._actr_sack_due)

    async def _actr_receive_data(self, chunk: DataChunk) -> None:
        """aiortc's DATA handling without the per-chunk detours: reassembly only
        when a last fragment is present, deferred stream resets only when one is
        pending."""
        self._sack_needed = True
        if self._mark_received(chunk.tsn):
            return
        stream = self._inbound_streams.get(chunk.stream_id)
        if stream is None:
            stream = self._get_inbound_stream(chunk.stream_id)
        stream.add_chunk(chunk)
        self._advertised_rwnd -= len(chunk.user_data)
        if chunk.flags & _LAST or getattr(stream, "lasts", 1):
            for message in stream.pop_messages():
                self._advertised_rwnd += len(message[2])
                await self._receive(*message)
        if self._reconfig_deferred is not None:
            await self._reset_deferred_streams()

    def _actr_sack_chunk(self) -> SackChunk | None:
        last = self._last_received_tsn
        if last is None:
            return None
        gaps: list[list[int]] = []
        gap_next = None
        for tsn in sorted(self._sack_misordered):
            pos = (tsn - last) % _TSN_MODULO
            if tsn == gap_next:
                gaps[-1][1] = pos
            else:
                gaps.append([pos, pos])
            gap_next = (tsn + 1) % _TSN_MODULO
        sack = SackChunk()
        sack.cumulative_tsn = last
        sack.advertised_rwnd = max(0, self._advertised_rwnd)
        sack.duplicates = self._sack_duplicates[:]
        sack.gaps = [(a, b) for a, b in gaps]
        return sack

    def _actr_sack_sent(self) -> None:
        self._sack_duplicates.clear()
        self._sack_needed = False
        self._actr_unacked = 0

    async def _send_sack(self) -> None:
        sack = self._actr_sack_chunk()
        if sack is None:
            return
        await self._send_chunk(sack)
        self._actr_sack_sent()

    def _actr_sack_burst(self) -> None:
        self._actr_sack_soon = False
        if self._sack_needed and self._association_state == self.State.ESTABLISHED:
            self._actr_run(self._actr_sack_quietly())

    def _actr_sack_due(self) -> None:
        self._actr_sack_timer = None
        if not self._sack_needed or self._association_state != self.State.ESTABLISHED:
            return
        due = self._actr_sack_at
        if self._loop.time() < due:  # a newer lone packet moved the deadline
            self._actr_sack_timer = self._loop.call_at(due, self._actr_sack_due)
            return
        self._actr_run(self._actr_sack_quietly())

    def _actr_run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` now; only if it waits does it go on in a (referenced) task."""
        waiting = start_eagerly(coro, loop=self._loop)
        if waiting is not None:
            self._actr_tasks.add(waiting)
            waiting.add_done_callback(self._actr_tasks.discard)

    def _actr_spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._actr_tasks.add(task)
        task.add_done_callback(self._actr_tasks.discard)

    async def _actr_sack_quietly(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send_sack()

    def _set_state(self, state: RTCSctpTransport.State) -> None:
        if state == self.State.CLOSED:
            timer = self._actr_sack_timer
            if timer is not None:
                self._actr_sack_timer = None
                timer.cancel()
        super()._set_state(state)

