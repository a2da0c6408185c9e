"""WebRtcConnection: one aiortc RTCPeerConnection to one peer, as a WireConnection.

Channels. In-band (DCEP) DataChannels, one per PayloadType, labelled with the
enum name, plus ``actr-py.control``. The offerer opens all five before it
creates the offer; the answerer adopts what arrives (``datachannel`` events)
and never opens lane channels to an actr-py peer, so each lane has exactly one
channel used in both directions. Why in-band rather than ``negotiated=True``
with fixed ids: (1) the ``protocol`` field, through which we offer our framing,
is only carried by DCEP; (2) upstream actr opens in-band channels with these
labels, so only in-band interoperates with it; (3) a browser mirrors it with
plain ``createDataChannel(label, {ordered, maxRetransmits, protocol})`` on the
offering side and ``ondatachannel`` on the answering side.

Modes. The offerer's lane channels carry ``protocol = "actr-py/1"``. DCEP
cannot accept or refuse that, so each side confirms with a HELLO on the
control channel (:mod:`.control`). Both HELLOs seen: mode ``actr-py``, with
fragmentation (:mod:`.framing`), the heartbeat and credit flow control. A peer
that opens lane channels with an empty protocol, or sends no HELLO within
``hello_timeout`` once the transport is up, is a plain actr peer: mode
``plain``, one unframed message per frame, no heartbeat, frames above the
peer's max message size are refused with PayloadTooLarge. Lanes a plain peer
never opened are opened by us on first send.

Inbound. aiortc hands messages to a synchronous callback that only appends to
a per-channel deque; one reader task per channel awaits the FrameHandler per
frame, which keeps per-channel order and lets a slow consumer hold back its
own lane only. aiortc's SCTP ignores the receiver window, so that back
pressure reaches the remote sender through CREDIT messages instead: each
reliable lane has a window (``receive_window``, announced in HELLO) of bytes
sent but not yet consumed by our handler. Readers start only once the
connection has been announced, so no frame overtakes ``on_connection``.

Outbound. ``send`` does not create tasks: when the lane has room it writes
synchronously and returns; otherwise it queues in FIFO order until aiortc's
send buffer drains below ``send_low_water`` and the peer has granted credit.
A fragmented frame holds its lane until its last fragment is written, so
frames on one lane are never interleaved and keep their order. Between
actr-py peers, small frames written after the first within one event loop
iteration are packed into one batch message, sent by a single ``call_soon``
at the end of the iteration (see :mod:`.framing` for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Literal

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.exceptions import InvalidStateError
from aiortc.sdp import SessionDescription as _Sdp

from ...errors import ActrError, PayloadTooLarge, ProtocolError, Unavailable
from ...ids import ActorId
from ...payload_type import PayloadType
from ..base import FrameHandler, WireConnection
from ..eager import start_eagerly
from . import control, inline_receive, sctp_fast, udp_reads
from .config import WebRtcConfig
from .framing import (
    BATCH_ITEM_OVERHEAD,
    FRAGMENT_HEADER_SIZE,
    KIND_BATCH,
    PROTOCOL,
    RAW_LEAD_MIN,
    FrameEncoder,
    Reassembler,
    encode_batch,
    split_batch,
)
from .lanes import CONTROL_LABEL, LANE_BY_LABEL, LANES, LaneSpec, lane_spec

__all__ = ["Mode", "WebRtcConnection"]

logger = logging.getLogger(__name__)

Mode = Literal["actr-py", "plain"]

#: RFC 8841: without an SDP max-message-size the peer accepts 64 KiB.
_DEFAULT_REMOTE_MAX = 64 * 1024
#: Frames up to this size may be packed into a batch with their neighbours.
_COALESCE_MAX = 16 * 1024


class _SendLane:
    """Outbound state of one lane: its channel, framing and flow control."""

    __slots__ = (
        "channel",
        "encoder",
        "framed",
        "high_water",
        "limit",
        "outstanding",
        "pending",
        "pending_size",
        "spec",
        "tick_open",
        "waiters",
        "wakeup",
        "window",
        "writing",
    )

    def __init__(self, spec: LaneSpec, channel: RTCDataChannel, high_water: int) -> None:
        self.spec = spec
        self.channel = channel
        self.framed = False
        self.encoder = FrameEncoder(_DEFAULT_REMOTE_MAX)
        self.limit = _DEFAULT_REMOTE_MAX
        self.high_water = high_water
        #: Peer's receive window when it grants credit; None: no flow control.
        self.window: int | None = None
        self.outstanding = 0
        self.waiters: deque[object] = deque()
        self.writing = False
        self.wakeup: asyncio.Future[None] | None = None
        #: Small frames written in the current loop iteration after the first.
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.tick_open = False

    def has_room(self, size: int) -> bool:
        if self.channel.bufferedAmount > self.high_water:
            return False
        window = self.window
        if window is None:
            return True
        # Below a quarter of the window anything may go, so a frame larger than
        # the window still passes once the peer has caught up; the peer credits
        # every quarter window consumed, so a waiting sender always wakes.
        outstanding = self.outstanding
        return outstanding < (window >> 2) or outstanding + size <= window

    def notify(self) -> None:
        wakeup = self.wakeup
        if wakeup is not None:
            self.wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    async def wait(self) -> None:
        wakeup = self.wakeup
        if wakeup is None:
            wakeup = self.wakeup = asyncio.get_running_loop().create_future()
        await wakeup


class _Inbox:
    """Inbound state of one channel: decoder, credit, and the backlog, if any.

    Frames are delivered in order, one at a time. With no backlog a message
    is decoded and its frames handed to the FrameHandler right in aiortc's
    message callback (:func:`~actr_py.wire.eager.start_eagerly`): the
    handler almost never waits, so no task and no event-loop hop are spent.
    When a handler does wait (back pressure), or before the connection is
    announced, messages queue in ``items`` and one drain task (``reader``)
    delivers them until the queue is empty again.
    """

    __slots__ = (
        "channel",
        "consumed",
        "credit_every",
        "dropped",
        "feed",
        "items",
        "limit",
        "open",
        "reader",
        "spec",
        "waiter",
    )

    def __init__(self, spec: LaneSpec, channel: RTCDataChannel, limit: int | None) -> None:
        self.spec = spec
        self.channel = channel
        self.items: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        #: Only the latency-first lane is bounded (drop oldest).
        self.limit = limit
        self.dropped = 0
        self.consumed = 0
        #: The drain task while there is a backlog (or a handler is waiting).
        self.reader: asyncio.Task[None] | None = None
        #: Set once the connection is announced: frames may be delivered.
        self.open = False
        #: Reassembler.feed for framed (actr-py/1) channels, None for plain ones.
        self.feed: Callable[[bytes], bytes | None] | None = None
        #: Send CREDIT every this many consumed bytes (0: no flow control).
        self.credit_every = 0

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)


class WebRtcConnection(WireConnection):
    """A peer-to-peer connection carrying every DataChannel PayloadType.

    Built by :class:`~.coordinator.WebRtcCoordinator`; user code gets it
    ready from ``connect()`` or ``on_connection``.
    """

    kind = "webrtc"

    def __init__(
        self,
        peer_id: ActorId,
        pc: RTCPeerConnection,
        *,
        frame_handler: FrameHandler,
        config: WebRtcConfig,
        offerer: bool,
    ) -> None:
        super().__init__(peer_id)
        self._pc = pc
        self._config = config
        self._handler = frame_handler
        self.offerer = offerer
        self._loop = asyncio.get_running_loop()
        self._lanes: dict[PayloadType, _SendLane] = {}
        self._inboxes: list[_Inbox] = []
        self._control: RTCDataChannel | None = None
        self._mode: Mode | None = None
        self._plain_seen = False
        self._hello_expired = False
        self._hello_timer: asyncio.TimerHandle | None = None
        self._hello_sent = False
        self._peer_hello: control.Hello | None = None
        self._remote_max = _DEFAULT_REMOTE_MAX
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._active = False
        self._rx = 0
        self._ping_seq = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._pc_closed: asyncio.Task[None] | None = None
        self._close_reason: BaseException | None = None
        pc.on("connectionstatechange", self._on_pc_state)
        # Also on the offering side: a peer (a browser, say) may open extra
        # lane channels of its own; their frames must not be lost.
        pc.on("datachannel", self._on_datachannel)
        #: Whether the SCTP association runs :mod:`.sctp_fast` (decided once it exists).
        self.fast_sctp = False
        if offerer:
            self._open_channels()
            self.fast_sctp = sctp_fast.apply(pc)

    # ---- public -------------------------------------------------------------

    @property
    def peer_connection(self) -> RTCPeerConnection:
        """The underlying aiortc peer connection (stats, diagnostics)."""
        return self._pc

    @property
    def mode(self) -> Mode | None:
        """``"actr-py"`` or ``"plain"`` once ready; None before."""
        return self._mode

    @property
    def ready(self) -> bool:
        return self._ready.done() and self._ready.exception() is None

    @property
    def max_unfragmented(self) -> int:
        """Largest frame sent as a single DataChannel message.

        With a plain peer that is also the largest frame it can take at all.
        """
        if self._mode == "plain":
            return self._remote_max
        return min(self._config.fragment_size, self._remote_max)

    def dropped(self, payload_type: PayloadType) -> int:
        """Inbound messages dropped on a bounded (latency-first) lane."""
        return sum(i.dropped for i in self._inboxes if i.spec.payload_type == payload_type)

    async def wait_ready(self) -> None:
        """Return once usable; raise Unavailable (or the failure) if it died first."""
        await asyncio.shield(self._ready)

    async def send(self, payload_type: PayloadType, data: bytes) -> None:
        """Write one frame on the lane of ``payload_type``.

        Raises UnsupportedPayloadType for MEDIA_RTP, Unavailable once closed,
        PayloadTooLarge for an oversized frame to a plain peer.
        """
        lane = self._lanes.get(payload_type)
        if lane is None or not self._active or self._closed:
            lane = await self._lane_for_send(payload_type)
        if type(data) is not bytes:
            data = bytes(data)
        size = len(data)
        if lane.waiters or lane.writing or not lane.has_room(size):
            await self._wait_turn(lane, size)
        if lane.framed:
            if size <= _COALESCE_MAX:
                if lane.tick_open:
                    # Same loop iteration as an earlier frame: pack it.
                    if lane.pending_size + size + BATCH_ITEM_OVERHEAD >= lane.limit:
                        self._flush_pending(lane)
                    lane.pending.append(data)
                    lane.pending_size += size + BATCH_ITEM_OVERHEAD
                else:
                    lane.tick_open = True
                    self._loop.call_soon(self._end_tick, lane)
                    if size and data[0] < RAW_LEAD_MIN:
                        data = b"\x00" + data  # escape; size stays the caller's
                    self._write(lane, data)
            else:
                if lane.pending:
                    self._flush_pending(lane)
                if size <= lane.limit and data[0] >= RAW_LEAD_MIN:
                    self._write(lane, data)
                else:
                    await self._send_fragments(lane, data)
        elif size <= lane.limit:
            self._write(lane, data)
        else:
            raise PayloadTooLarge(
                f"{size}-byte frame exceeds the {lane.limit}-byte DataChannel message "
                f"limit of plain actr peer {self.peer_id}, which cannot reassemble fragments"
            )
        if lane.window is not None:
            lane.outstanding += size

    async def close(self, reason: str = "") -> None:
        """Say goodbye (actr-py peers), then close the peer connection. Idempotent."""
        if not self._closed:
            for lane in self._lanes.values():
                if lane.pending:
                    with contextlib.suppress(Unavailable):  # lost with the channel
                        self._flush_pending(lane)
            if self._control is not None and self._control.readyState == "open":
                self._send_control(control.Goodbye(reason))
            self._teardown(None)
        await self._wait_pc_closed()

    # ---- lifecycle (used by the coordinator) -----------------------------------

    def _activate(self) -> None:
        """Start delivering inbound frames; called once the connection is announced."""
        if self._active or self._closed:
            return
        self._active = True
        for inbox in self._inboxes:
            self._open_inbox(inbox)

    def _fail(self, exc: BaseException) -> None:
        """The connection is dead; close callbacks get ``exc``."""
        if not self._closed:
            logger.info("webrtc connection to %s closed: %s", self.peer_id, exc)
            self._teardown(exc)

    def _apply_remote_sdp(self, sdp: str) -> None:
        """Learn the peer's max message size from its SDP (0: unlimited).

        Also the moment both sides' SCTP transports exist and no association
        has started yet: switch ours to the fast one (:mod:`.sctp_fast`).
        """
        self.fast_sctp = sctp_fast.apply(self._pc)
        try:
            parsed = _Sdp.parse(sdp)
        except Exception:  # aiortc's parser asserts; the description itself was accepted
            return
        for media in parsed.media:
            if media.kind == "application":
                caps = media.sctpCapabilities
                if caps is not None:
                    self._remote_max = caps.maxMessageSize or self._config.max_message_size
                break

    def _on_transport_up(self) -> None:
        """ICE+DTLS connected: start waiting for the peer's HELLO (answerer)."""
        udp_reads.apply(self._pc)
        inline_receive.apply(self._pc)
        if not self.offerer:
            self._start_hello_timer()

    def _teardown(self, exc: BaseException | None) -> None:
        self._close_reason = exc
        self._mark_closed(exc)
        if not self._ready.done():
            self._ready.set_exception(exc or Unavailable(f"connection to {self.peer_id} closed"))
            self._ready.exception()  # retrieved: waiters re-raise it, nobody else must
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self._heartbeat is not None and self._heartbeat is not asyncio.current_task():
            self._heartbeat.cancel()
        for lane in self._lanes.values():
            lane.notify()
        for inbox in self._inboxes:
            inbox.wake()
        if self._pc_closed is None:
            self._pc_closed = self._loop.create_task(self._close_pc())

    async def _close_pc(self) -> None:
        try:
            await self._pc.close()
        except Exception:  # aiortc teardown of a half-built connection
            logger.debug("closing peer connection to %s failed", self.peer_id, exc_info=True)

    async def _wait_pc_closed(self) -> None:
        task = self._pc_closed
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def _aclose_tasks(self) -> None:
        """Cancel readers and heartbeat (coordinator shutdown)."""
        tasks = [i.reader for i in self._inboxes if i.reader is not None]
        if self._heartbeat is not None:
            tasks.append(self._heartbeat)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- channels -----------------------------------------------------------

    def _open_channels(self) -> None:
        for spec in LANES.values():
            channel = self._pc.createDataChannel(
                spec.label,
                ordered=spec.ordered,
                maxRetransmits=spec.max_retransmits,
                protocol=PROTOCOL,
            )
            self._adopt_lane(spec, channel)
        ctl = self._pc.createDataChannel(CONTROL_LABEL, ordered=True, protocol=PROTOCOL)
        self._adopt_control(ctl)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        try:
            if channel.label == CONTROL_LABEL:
                self._adopt_control(channel)
                return
            spec = LANE_BY_LABEL.get(channel.label)
            if spec is None:
                logger.info("ignoring DataChannel %r from %s", channel.label, self.peer_id)
                return
            if channel.protocol != PROTOCOL:
                self._plain_seen = True
            self._adopt_lane(spec, channel)
        except Exception as exc:  # never let an exception into aiortc's SCTP reader
            self._fail(Unavailable(f"adopting DataChannel {channel.label!r} failed: {exc}"))

    def _adopt_lane(self, spec: LaneSpec, channel: RTCDataChannel) -> None:
        limit = self._config.latency_queue_limit if not spec.reliable else None
        inbox = _Inbox(spec, channel, limit)
        self._inboxes.append(inbox)
        channel.on("message", self._make_receiver(inbox))
        channel.on("close", lambda: self._on_channel_close(channel))
        lane = self._lanes.get(spec.payload_type)
        if lane is None:
            lane = _SendLane(spec, channel, self._config.send_high_water)
            self._lanes[spec.payload_type] = lane
            channel.bufferedAmountLowThreshold = self._config.send_low_water
            channel.on("bufferedamountlow", lane.notify)
            channel.on("open", self._check_ready)
            if self._mode is not None:
                self._configure_lane(lane)
        if self._active:
            self._open_inbox(inbox)
        self._check_ready()

    def _adopt_control(self, channel: RTCDataChannel) -> None:
        if self._control is not None:
            logger.info("second control channel from %s ignored", self.peer_id)
            return
        self._control = channel
        channel.on("message", self._on_control_message)
        channel.on("close", lambda: self._on_channel_close(channel))
        if channel.readyState == "open":
            self._send_hello()
        else:
            channel.on("open", self._on_control_open)
        self._check_ready()

    def _on_control_open(self) -> None:
        self._send_hello()
        self._check_ready()

    def _on_channel_close(self, channel: RTCDataChannel) -> None:
        if self._closed:
            return
        essential = channel is self._control or any(
            lane.channel is channel for lane in self._lanes.values()
        )
        if essential:
            self._fail(Unavailable(f"DataChannel {channel.label} to {self.peer_id} closed"))

    def _on_pc_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self._on_transport_up()
        elif state in ("failed", "closed") and not self._closed:
            self._fail(Unavailable(f"peer connection to {self.peer_id} {state}"))

    # ---- readiness ----------------------------------------------------------

    def _start_hello_timer(self) -> None:
        if self._hello_timer is None and not self._ready.done():
            self._hello_timer = self._loop.call_later(
                self._config.hello_timeout, self._on_hello_timeout
            )

    def _on_hello_timeout(self) -> None:
        self._hello_expired = True
        self._check_ready()

    def _check_ready(self) -> None:
        if self._ready.done() or self._closed:
            return
        lanes_open = len(self._lanes) == len(LANES) and all(
            lane.channel.readyState == "open" for lane in self._lanes.values()
        )
        control_open = self._control is not None and self._control.readyState == "open"
        if self._peer_hello is not None:
            if lanes_open and control_open:
                self._set_ready("actr-py")
        elif self.offerer:
            # The peer ACKed our control channel; an actr-py peer sends its
            # HELLO right behind that ACK, a plain one never does.
            if lanes_open and control_open:
                self._start_hello_timer()
                if self._hello_expired:
                    self._set_ready("plain")
        elif self._control is None and (self._plain_seen or self._hello_expired):
            # Answerer: an actr-py offerer opens the control channel; once it
            # exists we wait for its HELLO (bounded by the connect deadline).
            self._set_ready("plain")

    def _set_ready(self, mode: Mode) -> None:
        self._mode = mode
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        for lane in self._lanes.values():
            self._configure_lane(lane)
        if mode == "actr-py":
            self._heartbeat = self._loop.create_task(self._run_heartbeat())
        logger.debug("webrtc connection to %s ready (%s)", self.peer_id, mode)
        self._ready.set_result(None)

    def _configure_lane(self, lane: _SendLane) -> None:
        lane.framed = self._mode == "actr-py" and lane.channel.protocol == PROTOCOL
        if lane.framed:
            limit = min(self._config.fragment_size, self._remote_max)
            lane.limit = max(limit, FRAGMENT_HEADER_SIZE + 1)
            lane.encoder = FrameEncoder(lane.limit)
            if lane.spec.reliable and self._peer_hello is not None:
                lane.window = self._peer_hello.window
        else:
            lane.limit = self._remote_max

    async def _lane_for_send(self, payload_type: PayloadType) -> _SendLane:
        spec = lane_spec(payload_type)
        if self._closed:
            raise self._unavailable()
        if not self._ready.done():
            await self.wait_ready()
        lane = self._lanes.get(payload_type)
        if lane is None:
            # Only a plain peer leaves a lane unopened: open it ourselves.
            channel = self._pc.createDataChannel(
                spec.label,
                ordered=spec.ordered,
                maxRetransmits=spec.max_retransmits,
                protocol=PROTOCOL,
            )
            self._adopt_lane(spec, channel)
            lane = self._lanes[payload_type]
        if lane.channel.readyState != "open":
            opened: asyncio.Future[None] = self._loop.create_future()

            def wake(*_: object) -> None:
                if not opened.done():
                    opened.set_result(None)

            lane.channel.once("open", wake)
            self.add_close_callback(wake)
            try:
                async with asyncio.timeout(self._config.connect_timeout):
                    await opened
            except TimeoutError:
                raise Unavailable(
                    f"DataChannel {spec.label} to {self.peer_id} did not open"
                ) from None
        if self._closed:
            raise self._unavailable()
        return lane

    # ---- sending ------------------------------------------------------------

    async def _wait_turn(self, lane: _SendLane, size: int) -> None:
        token = object()
        lane.waiters.append(token)
        try:
            while True:
                if self._closed:
                    raise self._unavailable()
                if lane.waiters[0] is token and not lane.writing and lane.has_room(size):
                    return
                await lane.wait()
        finally:
            lane.waiters.remove(token)
            lane.notify()

    def _write(self, lane: _SendLane, message: bytes) -> None:
        try:
            lane.channel.send(message)
        except InvalidStateError:
            raise self._lost(lane) from None

    def _end_tick(self, lane: _SendLane) -> None:
        lane.tick_open = False
        if lane.pending and not self._closed:
            try:
                self._flush_pending(lane)
            except Unavailable:
                pass  # already failed; nothing more to tell here

    def _flush_pending(self, lane: _SendLane) -> None:
        frames = lane.pending
        lane.pending = []
        lane.pending_size = 0
        if len(frames) == 1:
            frame = frames[0]
            message = frame if frame and frame[0] >= RAW_LEAD_MIN else b"\x00" + frame
        else:
            message = encode_batch(frames)
        self._write(lane, message)

    async def _send_fragments(self, lane: _SendLane, data: bytes) -> None:
        lane.writing = True
        channel = lane.channel
        try:
            for part in lane.encoder.encode(data):
                while channel.bufferedAmount > lane.high_water:
                    if self._closed:
                        raise self._unavailable()
                    await lane.wait()
                if self._closed:
                    raise self._unavailable()
                try:
                    channel.send(part)
                except InvalidStateError:
                    raise self._lost(lane) from None
        finally:
            lane.writing = False
            lane.notify()

    def _lost(self, lane: _SendLane) -> Unavailable:
        exc = Unavailable(f"DataChannel {lane.spec.label} to {self.peer_id} is not open")
        self._fail(exc)
        return self._unavailable()

    def _unavailable(self) -> Unavailable:
        reason = self._close_reason
        detail = f": {reason}" if reason is not None else ""
        return Unavailable(f"webrtc connection to {self.peer_id} is closed{detail}")

    # ---- receiving ----------------------------------------------------------

    def _make_receiver(self, inbox: _Inbox) -> Callable[[bytes | str], None]:
        items = inbox.items
        limit = inbox.limit

        def on_message(data: bytes | str) -> None:
            # Called by aiortc's SCTP reader: nothing may raise out of here.
            self._rx += 1
            if type(data) is str:
                data = data.encode()
            if inbox.open and inbox.reader is None and not items:
                self._deliver_now(inbox, data)  # type: ignore[arg-type]
                return
            if limit is not None and len(items) >= limit:
                items.popleft()
                inbox.dropped += 1
            items.append(data)  # type: ignore[arg-type]
            inbox.wake()

        return on_message

    def _open_inbox(self, inbox: _Inbox) -> None:
        """Set up decoding and credit for ``inbox`` and start delivering."""
        if inbox.open:
            return
        framed = self._mode == "actr-py" and inbox.channel.protocol == PROTOCOL
        if framed:
            inbox.feed = Reassembler(
                max_message_size=self._config.max_message_size,
                strict=inbox.spec.reliable,
                max_pending_messages=16 if inbox.spec.reliable else 8,
            ).feed
            if inbox.spec.reliable and self._peer_hello is not None:
                inbox.credit_every = max(1, self._config.receive_window >> 2)
        inbox.open = True
        if inbox.items:
            self._start_reader(inbox)

    def _decode(self, inbox: _Inbox, raw: bytes) -> tuple[bytes, ...] | list[bytes] | None:
        """The frames one DataChannel message carries; None if none (yet)."""
        feed = inbox.feed
        if feed is None or not raw or raw[0] >= RAW_LEAD_MIN:
            return (raw,)
        if raw[0] == KIND_BATCH:
            return split_batch(raw)
        frame = feed(raw)
        return None if frame is None else (frame,)

    def _consumed(self, inbox: _Inbox, size: int) -> None:
        inbox.consumed += size
        if inbox.consumed >= inbox.credit_every:
            self._send_control(control.Credit(inbox.spec.payload_type, inbox.consumed))
            inbox.consumed = 0

    def _deliver_now(self, inbox: _Inbox, raw: bytes) -> None:
        """Hand the frames of ``raw`` to the handler in this call stack.

        If a handler waits, it goes on in a task and the rest of this
        message's frames, and every later message, queue behind it.
        """
        try:
            frames = self._decode(inbox, raw)
        except ActrError as exc:
            self._fail(exc)
            return
        if frames is None:
            return
        handler = self._handler
        peer = self.peer_id
        payload_type = inbox.spec.payload_type
        for index, frame in enumerate(frames):
            try:
                waiting = start_eagerly(handler(peer, payload_type, frame), loop=self._loop)
            except Exception:
                logger.exception("frame handler failed on %s from %s", payload_type.name, peer)
                waiting = None
            if inbox.credit_every:
                self._consumed(inbox, len(frame))
            if waiting is not None:
                inbox.reader = self._loop.create_task(
                    self._read(inbox, waiting, list(frames[index + 1 :]))
                )
                return

    def _start_reader(self, inbox: _Inbox) -> None:
        if inbox.reader is None:
            inbox.reader = self._loop.create_task(self._read(inbox, None, []))

    async def _read(
        self, inbox: _Inbox, waiting: asyncio.Task[None] | None, rest: list[bytes]
    ) -> None:
        """Drain the backlog of ``inbox`` in order, then hand back to the fast path.

        ``waiting`` is a handler that suspended in the fast path; ``rest`` the
        frames of its message still to deliver.
        """
        handler = self._handler
        peer = self.peer_id
        payload_type = inbox.spec.payload_type
        items = inbox.items
        try:
            if waiting is not None:
                try:
                    await waiting
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # we are being cancelled (and took the handler with us)
                    # only the handler was cancelled: carry on with the next frame
                except Exception:
                    logger.exception(
                        "frame handler failed on %s from %s", payload_type.name, peer
                    )
            frames: tuple[bytes, ...] | list[bytes] | None = rest
            while True:
                for frame in frames or ():
                    try:
                        await handler(peer, payload_type, frame)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        logger.exception(
                            "frame handler failed on %s from %s", payload_type.name, peer
                        )
                    if inbox.credit_every:
                        self._consumed(inbox, len(frame))
                if not items:
                    return  # caught up: later messages take the fast path again
                if self._closed:
                    return
                try:
                    frames = self._decode(inbox, items.popleft())
                except ActrError as exc:
                    self._fail(exc)
                    return
        finally:
            inbox.reader = None

    # ---- control ------------------------------------------------------------

    def _send_hello(self) -> None:
        # Never after a plain fallback: the peer would frame what we cannot read.
        if not self._hello_sent and self._mode != "plain":
            self._hello_sent = True
            self._send_control(control.Hello(control.CONTROL_VERSION, self._config.receive_window))
            if self.fast_sctp:
                self._send_control(control.Features(control.FEATURE_ACK_CLOCKED_SCTP))

    def _send_control(self, message: control.ControlMessage) -> None:
        channel = self._control
        if channel is not None and channel.readyState == "open":
            try:
                channel.send(control.encode(message))
            except InvalidStateError:
                pass

    def _on_control_message(self, data: bytes | str) -> None:
        self._rx += 1
        try:
            if type(data) is str:
                raise ProtocolError("actr-py control: text message")
            message = control.decode(data)  # type: ignore[arg-type]
        except ProtocolError as exc:
            self._fail(exc)
            return
        if isinstance(message, control.Ping):
            self._send_control(control.Pong(message.seq))
        elif isinstance(message, control.Credit):
            try:
                lane = self._lanes.get(PayloadType(message.payload_type))
            except ValueError:
                lane = None
            if lane is not None:
                lane.outstanding = max(0, lane.outstanding - message.amount)
                lane.notify()
        elif isinstance(message, control.Hello):
            if self._mode == "plain":
                # We already fell back to plain; both sides must agree, so drop it.
                self._fail(Unavailable(f"HELLO from {self.peer_id} after plain fallback"))
            elif self._peer_hello is None:
                if message.version != control.CONTROL_VERSION:
                    logger.info("peer %s speaks control v%d", self.peer_id, message.version)
                self._peer_hello = message
                self._send_hello()
                self._check_ready()
        elif isinstance(message, control.Features):
            if message.flags & control.FEATURE_ACK_CLOCKED_SCTP:
                sctp_fast.sack_per_burst(self._pc)
        elif isinstance(message, control.Goodbye):
            reason = message.reason or "no reason given"
            self._fail(Unavailable(f"peer {self.peer_id} closed the connection: {reason}"))

    def _signs_of_life(self) -> int:
        """A counter that moves whenever anything arrives from the peer.

        Our own messages count, and so do DTLS packets: a peer whose SCTP is
        stalled on a retransmission timer behind bulk data cannot send a PONG
        for a while, but it still acknowledges our PINGs, which a dead peer
        cannot. aiortc exposes that count only through ``_get_stats``.
        """
        count = self._rx
        try:
            dtls = self._pc.sctp.transport  # type: ignore[union-attr]
            for stats in dtls._get_stats().values():
                count += getattr(stats, "packetsReceived", 0) or 0
        except Exception:  # aiortc changed: fall back to our own messages only
            pass
        return count

    async def _run_heartbeat(self) -> None:
        interval = self._config.heartbeat_interval
        timeout = self._config.heartbeat_timeout
        seen = self._signs_of_life()
        last_alive = last_tick = self._loop.time()
        while not self._closed:
            await asyncio.sleep(interval)
            now = self._loop.time()
            alive = self._signs_of_life()
            starved = now - last_tick >= timeout  # we were not running: judge nothing
            last_tick = now
            if alive != seen or starved:
                seen = alive
                last_alive = now
            elif now - last_alive >= timeout:
                self._fail(
                    Unavailable(
                        f"peer {self.peer_id} silent for {now - last_alive:.1f}s "
                        f"(heartbeat timeout {timeout}s)"
                    )
                )
                return
            self._ping_seq += 1
            self._send_control(control.Ping(self._ping_seq))

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._mode or "connecting")
        return f"<WebRtcConnection {self.peer_id} {state}>"
