"""Context: what a handler can do, bound to the message it is handling."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import InvalidId
from ..ids import ActorId, ActrTypeName
from ..payload_type import PayloadType
from ..proto import package_pb2
from .dest import Dest

if TYPE_CHECKING:
    from aiortc import MediaStreamTrack

    from ..inbound.stream_registry import StreamCallback
    from ..media import MediaCallback, MediaKind, MediaManager, MediaMode, OnEnded, Pushable
    from .node import ActrNode

__all__ = ["Context"]


class Context:
    """Passed to every handler and hook.

    ``caller_id`` is ``None`` for calls from this node's own shell (its
    ActrRef) and for lifecycle hooks. Calls made through a context carry its
    call chain, which is what lets A -> B -> A complete (see the scheduler).
    """

    __slots__ = ("_chain", "_node", "caller_id", "request_id")

    def __init__(
        self,
        node: ActrNode,
        caller_id: ActorId | None = None,
        request_id: str = "",
        chain: str | None = None,
    ) -> None:
        self._node = node
        self.caller_id = caller_id
        self.request_id = request_id
        self._chain = chain

    @property
    def self_id(self) -> ActorId:
        return self._node.actor_id

    def call(
        self,
        dest: Dest | ActorId | str,
        route_key: str,
        request: Any,
        *,
        response_type: type | None = None,
        timeout: float | None = None,
        payload_type: PayloadType = PayloadType.RPC_RELIABLE,
    ) -> Coroutine[Any, Any, Any]:
        """Call ``route_key`` on ``dest``; awaiting it gives the decoded response.

        Raises the :class:`~actr_py.errors.RemoteError` subclass matching the
        error code: NotFound (404), BadRequest (400), InternalError (500),
        DeadlineExceeded (504), Unavailable (503)...

        Returns the node's coroutine itself (await it, or make it a task): a
        wrapper coroutine would cost a frame on every call.
        """
        return self._node._call(
            dest, route_key, request, response_type, timeout, payload_type, self._chain
        )

    def tell(
        self,
        dest: Dest | ActorId | str,
        route_key: str,
        message: Any,
        *,
        payload_type: PayloadType = PayloadType.RPC_RELIABLE,
    ) -> Coroutine[Any, Any, None]:
        """Send without waiting; the receiver never answers a tell. Await the result."""
        return self._node._tell(dest, route_key, message, payload_type, self._chain)

    async def discover(self, actr_type: ActrTypeName | str) -> ActorId:
        """One running actor of ``actr_type``; :class:`NotFound` when there is none."""
        return await self._node.discover(actr_type)

    def register_stream(self, stream_id: str, callback: StreamCallback) -> None:
        self._node.streams.register(stream_id, callback)

    def unregister_stream(self, stream_id: str) -> bool:
        return self._node.streams.unregister(stream_id)

    async def send_data_stream(
        self,
        dest: Dest | ActorId | str,
        chunk: package_pb2.DataStream,
        payload_type: PayloadType = PayloadType.STREAM_RELIABLE,
    ) -> None:
        await self._node.send_data_stream(dest, chunk, payload_type)

    # ---- media (RTP tracks; see docs/media.md) -------------------------------------

    async def add_media_track(
        self,
        dest: Dest | ActorId | str,
        track_id: str,
        kind: MediaKind | str,
        codec: str,
        *,
        source: MediaStreamTrack | None = None,
        on_keyframe_request: Callable[[], None] | None = None,
        on_ended: OnEnded | None = None,
    ) -> None:
        """Start sending RTP track ``track_id`` (``"video"``: VP8/H264, ``"audio"``:
        Opus) to ``dest``; returns once the peer has accepted it."""
        await self._node.media.add_track(
            self._media_peer(dest), track_id, kind, codec, source=source,
            on_keyframe_request=on_keyframe_request, on_ended=on_ended,
        )

    async def remove_media_track(self, dest: Dest | ActorId | str, track_id: str) -> None:
        await self._node.media.remove_track(self._media_peer(dest), track_id)

    async def send_media_sample(
        self, dest: Dest | ActorId | str, track_id: str, sample: Pushable
    ) -> bool:
        """Queue a PyAV frame (encoded by the track's codec) or an encoded packet/
        MediaSample (sent as is); False when it was dropped to keep latency low."""
        return self._node.media.send_sample(self._media_peer(dest), track_id, sample)

    def register_media_track(
        self, track_id: str, callback: MediaCallback, *, mode: MediaMode = "decoded"
    ) -> None:
        """Deliver every received track called ``track_id`` to ``callback``."""
        self._node.media_frames.register(track_id, callback, mode=mode)

    def unregister_media_track(self, track_id: str) -> bool:
        return self._node.media_frames.unregister(track_id)

    @property
    def media(self) -> MediaManager:
        """The node's media tracks, for libraries that go beyond the calls above
        (the relay gates forwarded tracks and switches decoding on and off)."""
        return self._node.media

    def request_keyframe(self, source: ActorId, track_id: str) -> bool:
        """Ask ``source`` for a keyframe on the track it sends us (RTCP PLI)."""
        return self._node.media.request_keyframe(source, track_id)

    def _media_peer(self, dest: Dest | ActorId | str) -> ActorId:
        target = self._node._target(dest)
        if target is None or target == self._node.actor_id:
            raise InvalidId(f"{dest!r}: media tracks go to another actor over WebRTC")
        return target
