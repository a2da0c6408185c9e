"""DataStreamRegistry: stream chunks to the callback registered for their stream.

Each registered stream has one bounded queue and one consumer task, so its
chunks reach the callback one at a time and in sequence (upstream spawned a
task per chunk and lost order).

Backpressure: a STREAM_RELIABLE chunk waits for room in its stream's queue,
which stalls the wire reader (or, in process, the sender). A
STREAM_LATENCY_FIRST chunk never waits: when the queue is full the oldest
queued chunk is dropped and counted.

Chunks for a stream id nobody registered are held, in order, in a bounded
pending buffer (``pending_per_stream`` chunks for at most ``pending_streams``
streams, the oldest dropped first and counted) and handed over when the
stream is registered; this covers a sender that starts before the receiver
has registered. ``unregister`` drops whatever was still queued for that
stream (counted) and later chunks go to the pending buffer again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import ProtocolError
from ..ids import ActorId
from ..payload_type import PayloadType
from ..proto import package_pb2
from ..protocol.sequencer import StreamSequencer

__all__ = ["DataStreamRegistry", "StreamCallback", "StreamStats"]

log = logging.getLogger("actr_py.streams")

DataStream = package_pb2.DataStream
StreamCallback = Callable[[package_pb2.DataStream, ActorId], Awaitable[None]]
ErrorSink = Callable[[BaseException, str], None]


@dataclass
class StreamStats:
    delivered: int = 0
    dropped_latency: int = 0  # latency-first chunks pushed out by newer ones
    dropped_unregistered: int = 0  # pending buffer overflow or queued at unregister
    duplicates: int = 0
    stale: int = 0
    callback_errors: int = 0


_STOP = object()


class _Stream:
    __slots__ = ("callback", "queue", "sequencers", "task")

    def __init__(self, callback: StreamCallback, maxsize: int) -> None:
        self.callback = callback
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        self.sequencers: dict[tuple[ActorId, PayloadType], StreamSequencer] = {}
        self.task: asyncio.Task | None = None


class DataStreamRegistry:
    def __init__(
        self,
        *,
        queue_size: int = 1024,
        pending_per_stream: int = 256,
        pending_streams: int = 64,
        on_error: ErrorSink | None = None,
    ) -> None:
        self.queue_size = queue_size
        self.pending_per_stream = pending_per_stream
        self.pending_streams = pending_streams
        self.stats = StreamStats()
        self._streams: dict[str, _Stream] = {}
        self._pending: OrderedDict[str, deque] = OrderedDict()
        self._on_error = on_error

    def __contains__(self, stream_id: str) -> bool:
        return stream_id in self._streams

    def register(self, stream_id: str, callback: StreamCallback) -> None:
        if stream_id in self._streams:
            raise ValueError(f"stream {stream_id!r} is already registered")
        stream = _Stream(callback, self.queue_size)
        stream.task = asyncio.get_running_loop().create_task(
            self._consume(stream_id, stream), name=f"actr-stream-{stream_id}"
        )
        self._streams[stream_id] = stream
        for sender, pt, chunk in self._pending.pop(stream_id, ()):
            self._sequence_into(stream, sender, pt, chunk)

    def unregister(self, stream_id: str) -> bool:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return False
        dropped = stream.queue.qsize()
        if dropped:
            self.stats.dropped_unregistered += dropped
            log.info("stream %s unregistered with %d chunks undelivered", stream_id, dropped)
        if stream.task is not None:
            stream.task.cancel()
        return True

    async def close(self) -> None:
        tasks = [s.task for s in self._streams.values() if s.task is not None]
        for stream_id in list(self._streams):
            self.unregister(stream_id)
        self._pending.clear()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def deliver(
        self, sender: ActorId, payload_type: PayloadType, chunk: package_pb2.DataStream
    ) -> None:
        stream = self._streams.get(chunk.stream_id)
        if stream is None:
            self._hold(sender, payload_type, chunk)
            return
        ready = self._sequence(stream, sender, payload_type, chunk)
        queue = stream.queue
        for item in ready:
            if payload_type is PayloadType.STREAM_LATENCY_FIRST:
                if queue.full():
                    queue.get_nowait()
                    self.stats.dropped_latency += 1
                queue.put_nowait(item)
            elif queue.full():
                await queue.put(item)
            else:
                queue.put_nowait(item)

    def _sequence(
        self, stream: _Stream, sender: ActorId, pt: PayloadType, chunk: package_pb2.DataStream
    ) -> list[tuple[package_pb2.DataStream, ActorId]]:
        key = (sender, pt)
        seq = stream.sequencers.get(key)
        if seq is None:
            seq = stream.sequencers[key] = StreamSequencer(ordered=pt.ordered)
        d0, s0 = seq.duplicates, seq.stale
        try:
            ready = seq.offer(chunk.sequence, (chunk, sender))
        except ProtocolError as exc:
            self._report(exc, f"stream {chunk.stream_id!r} from {sender}")
            return []
        self.stats.duplicates += seq.duplicates - d0
        self.stats.stale += seq.stale - s0
        return ready

    def _sequence_into(
        self,
        stream: _Stream,
        sender: ActorId,
        pt: PayloadType,
        chunk: package_pb2.DataStream,
    ) -> None:
        # Replaying held chunks must not block register(); the queue is fresh.
        for item in self._sequence(stream, sender, pt, chunk):
            if stream.queue.full():
                stream.queue.get_nowait()
                self.stats.dropped_unregistered += 1
            stream.queue.put_nowait(item)

    def _hold(self, sender: ActorId, pt: PayloadType, chunk: package_pb2.DataStream) -> None:
        buf = self._pending.get(chunk.stream_id)
        if buf is None:
            if len(self._pending) >= self.pending_streams:
                _, oldest = self._pending.popitem(last=False)
                self.stats.dropped_unregistered += len(oldest)
            buf = self._pending[chunk.stream_id] = deque()
            log.debug("holding chunks for unregistered stream %s", chunk.stream_id)
        if len(buf) >= self.pending_per_stream:
            buf.popleft()
            self.stats.dropped_unregistered += 1
        buf.append((sender, pt, chunk))

    async def _consume(self, stream_id: str, stream: _Stream) -> None:
        queue = stream.queue
        callback = stream.callback
        stats = self.stats
        while True:
            chunk, sender = await queue.get()
            try:
                await callback(chunk, sender)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stats.callback_errors += 1
                self._report(exc, f"stream {stream_id!r} callback")
            else:
                stats.delivered += 1

    def _report(self, exc: BaseException, where: str) -> None:
        if self._on_error is not None:
            self._on_error(exc, where)
        else:
            log.warning("%s: %s", where, exc)
