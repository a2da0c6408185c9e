"""InboundGate: the single entry point for frames from every wire.

It decodes and routes by PayloadType: RPC responses complete pending calls,
RPC requests and tells go to the scheduler (and from there the mailbox),
stream chunks to the DataStreamRegistry. Media rides RTP tracks and never
comes through here; a MEDIA_RTP frame on a byte lane goes to the media
registry, which counts and drops it. A bad frame is counted, logged and
answered where it can be (a request with a readable id gets a 400); it never
stops the gate from serving the next frame.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from ..errors import ActrError, ProtocolError
from ..ids import ActorId
from ..outbound.pending import PendingCallTable
from ..payload_type import PayloadType
from ..proto import package_pb2
from ..protocol.envelope import check_envelope, decode_envelope
from .stream_registry import DataStreamRegistry

if TYPE_CHECKING:
    from ..media.registry import MediaFrameRegistry

__all__ = ["GateStats", "InboundGate"]

log = logging.getLogger("actr_py.inbound")

_RESPONSE = package_pb2.DIRECTION_RESPONSE
_REQUEST = package_pb2.DIRECTION_REQUEST
_RPC = (PayloadType.RPC_RELIABLE, PayloadType.RPC_SIGNAL)
_STREAMS = (PayloadType.STREAM_RELIABLE, PayloadType.STREAM_LATENCY_FIRST)

#: (sender, payload type, envelope, the bytes it arrived as or None in process).
#: Returns ``None`` when the request was taken without waiting (the common case:
#: no coroutine is made per message), else something to await.
RpcSink = Callable[
    [ActorId, PayloadType, package_pb2.RpcEnvelope, bytes | None], Awaitable[None] | None
]
ErrorReply = Callable[[ActorId, PayloadType, str, str, ActrError], Awaitable[None]]


@dataclass
class GateStats:
    requests: int = 0
    responses: int = 0
    chunks: int = 0
    malformed: int = 0
    late_responses: int = 0


class InboundGate:
    def __init__(
        self,
        *,
        pending: PendingCallTable,
        rpc_sink: RpcSink,
        streams: DataStreamRegistry,
        reply_error: ErrorReply,
        media: MediaFrameRegistry | None = None,
    ) -> None:
        self.pending = pending
        self.rpc_sink = rpc_sink
        self.streams = streams
        self.reply_error = reply_error
        self.media = media
        self.stats = GateStats()

    async def deliver(self, sender: ActorId, payload_type: PayloadType, data: bytes) -> None:
        """The :data:`FrameHandler` every wire feeds."""
        if payload_type in _RPC:
            try:
                env = decode_envelope(data)
            except ProtocolError as exc:
                await self._bad_rpc(sender, payload_type, _salvage(data), exc)
                return
            waiting = self._route_rpc(sender, payload_type, env, data)
            if waiting is not None:
                await waiting
        elif payload_type in _STREAMS:
            await self._stream(sender, payload_type, data)
        elif payload_type == PayloadType.MEDIA_RTP and self.media is not None:
            self.media.deliver_off_track(sender, data)
        else:
            self._malformed(sender, payload_type, f"no inbound route for {payload_type!r}")

    def deliver_envelope(
        self, sender: ActorId, payload_type: PayloadType, env: package_pb2.RpcEnvelope
    ) -> Awaitable[None] | None:
        """In-process peers hand over the envelope object; same checks, no parsing.

        Synchronous where nothing waits (the in-process round trip makes no
        coroutine here); otherwise returns what the caller must await.
        """
        try:
            check_envelope(env)
        except ProtocolError as exc:
            answerable = env.direction == _REQUEST and bool(env.request_id)
            return self._bad_rpc(sender, payload_type, env if answerable else None, exc)
        return self._route_rpc(sender, payload_type, env, None)

    def _route_rpc(
        self,
        sender: ActorId,
        payload_type: PayloadType,
        env: package_pb2.RpcEnvelope,
        raw: bytes | None,
    ) -> Awaitable[None] | None:
        """A response completes its pending call; a request or tell goes to the sink."""
        if env.direction == _RESPONSE:
            self.stats.responses += 1
            if not self.pending.resolve(sender, env):
                self.stats.late_responses += 1
                log.debug("response %s from %s matches no pending call", env.request_id, sender)
            return None
        self.stats.requests += 1
        return self.rpc_sink(sender, payload_type, env, raw)

    async def _bad_rpc(
        self,
        sender: ActorId,
        pt: PayloadType,
        answerable: package_pb2.RpcEnvelope | None,
        exc: ProtocolError,
    ) -> None:
        self._malformed(sender, pt, exc.message)
        # Answer when we can tell whom: a request whose id survived decoding.
        if answerable is not None:
            await self.reply_error(sender, pt, answerable.route_key, answerable.request_id, exc)

    async def _stream(self, sender: ActorId, pt: PayloadType, data: bytes) -> None:
        chunk = package_pb2.DataStream()
        try:
            chunk.ParseFromString(data)
        except DecodeError as exc:
            self._malformed(sender, pt, f"undecodable DataStream: {exc}")
            return
        if not chunk.IsInitialized():
            missing = ", ".join(chunk.FindInitializationErrors())
            self._malformed(sender, pt, f"DataStream missing required fields {missing}")
            return
        if type(chunk.stream_id) is not str:
            self._malformed(sender, pt, "DataStream stream_id is not valid UTF-8")
            return
        self.stats.chunks += 1
        await self.streams.deliver(sender, pt, chunk)

    def _malformed(self, sender: ActorId, pt: PayloadType, reason: str) -> None:
        self.stats.malformed += 1
        log.warning("dropped malformed %s frame from %s: %s", PayloadType(pt).name, sender, reason)


def _salvage(data: bytes) -> package_pb2.RpcEnvelope | None:
    """A request that parsed but failed validation, if it can be answered."""
    env = package_pb2.RpcEnvelope()
    try:
        env.ParseFromString(data)
    except DecodeError:
        return None
    if env.direction == _REQUEST and type(env.request_id) is str and env.request_id:
        if type(env.route_key) is not str:
            env.route_key = ""
        return env
    return None
