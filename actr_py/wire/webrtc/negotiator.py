"""SDP offer/answer and trickle ICE for one peer connection, through the relay.

aiortc gathers every candidate inside ``setLocalDescription`` and puts them in
the SDP, so there is no real trickle on the sending side; we still send each
candidate as an ``IceCandidate`` followed by end-of-candidates, because a peer
may strip candidates from the SDP or expect trickle (browsers do both).

The receiving side is a proper trickle implementation: candidates that arrive
before the remote description (the relay does not keep order across message
types, and a fast peer trickles before its offer is processed) are buffered
here and applied right after ``setRemoteDescription``. Candidates tagged with
another ICE username fragment belong to an older attempt and are dropped.

Renegotiation (media tracks added to a live connection) reuses the same
negotiator: ``offer(renegotiation=True)`` sends a ``RENEGOTIATION_OFFER`` on
the established ICE session, so neither side trickles candidates again. Every
offer we create carries actr's reference payload types (VP8 96, H264 102,
Opus 111; see :mod:`.media_sdp`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiortc import RTCSessionDescription
from aiortc.sdp import SessionDescription as ParsedSdp

from ...errors import ProtocolError, StateError, Unavailable
from ...ids import ActorId
from ...proto import webrtc_pb2
from .config import WebRtcConfig
from .connection import WebRtcConnection
from .gathering import restrict_gathering, set_receive_buffer, verify_local_candidates
from .media_sdp import remap_payload_types
from .signaling import (
    SignalingRelay,
    candidate_from_proto,
    candidate_to_proto,
    description_from_proto,
    description_to_proto,
    end_of_candidates,
    ice_ufrag,
)

__all__ = ["Negotiator"]

_Type = webrtc_pb2.SessionDescription.Type

logger = logging.getLogger(__name__)


class Negotiator:
    """Drives one :class:`WebRtcConnection` through offer/answer and trickle ICE."""

    def __init__(
        self,
        conn: WebRtcConnection,
        *,
        relay: SignalingRelay,
        config: WebRtcConfig,
        early_candidates: Iterable[webrtc_pb2.IceCandidate] = (),
    ) -> None:
        self.conn = conn
        self._pc = conn.peer_connection
        self._relay = relay
        self._config = config
        self._pending: list[webrtc_pb2.IceCandidate] = list(early_candidates)
        self.remote_ufrag: str | None = None
        self.remote_applied = False
        self.answered = False
        #: An offer of ours is out and its answer has not been applied yet.
        self.awaiting_answer = False
        self._answer_waiters: list[asyncio.Future[None]] = []
        self.applied_candidates = 0
        self.dropped_candidates = 0
        conn.add_close_callback(self._fail_waiters)

    @property
    def peer_id(self) -> ActorId:
        return self.conn.peer_id

    async def offer(self, *, restart: bool = False, renegotiation: bool = False) -> None:
        """Create and send our offer.

        ``ICE_RESTART_OFFER`` when rebuilding a live connection,
        ``RENEGOTIATION_OFFER`` when changing the media of a live one.
        """
        created = await self._pc.createOffer()
        offer = RTCSessionDescription(sdp=remap_payload_types(created.sdp), type="offer")
        await self._set_local(offer)
        self.awaiting_answer = True
        sdp = self._pc.localDescription.sdp
        if renegotiation:
            msg = webrtc_pb2.SessionDescription(type=_Type.RENEGOTIATION_OFFER, sdp=sdp)
        else:
            msg = description_to_proto(self._pc.localDescription, restart=restart)
        await self._relay.send(self.peer_id, msg)
        if not renegotiation:
            await self._trickle()

    async def accept_answer(self, msg: webrtc_pb2.SessionDescription) -> None:
        if self._pc.signalingState != "have-local-offer":
            raise StateError(f"answer from {self.peer_id} without an offer of ours pending")
        await self._set_remote(description_from_proto(msg))
        self.answered = True
        self.awaiting_answer = False
        waiters, self._answer_waiters = self._answer_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def answer_waiter(self) -> asyncio.Future[None]:
        """A future resolved when the answer to our next (or current) offer is
        applied; it fails with Unavailable if the connection closes first."""
        waiter = asyncio.get_running_loop().create_future()
        if self.conn.closed:
            waiter.set_exception(Unavailable(f"connection to {self.peer_id} closed"))
        else:
            self._answer_waiters.append(waiter)
        return waiter

    def _fail_waiters(self, _conn: object, _exc: BaseException | None) -> None:
        waiters, self._answer_waiters = self._answer_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(Unavailable(f"connection to {self.peer_id} closed"))

    async def answer(
        self, msg: webrtc_pb2.SessionDescription, *, renegotiation: bool = False
    ) -> None:
        """Apply the peer's offer and send our answer."""
        await self._set_remote(description_from_proto(msg))
        answer = await self._pc.createAnswer()
        await self._set_local(answer)
        await self._relay.send(self.peer_id, description_to_proto(self._pc.localDescription))
        self.answered = True
        if not renegotiation:
            await self._trickle()

    async def add_candidate(self, msg: webrtc_pb2.IceCandidate) -> None:
        """Apply a trickled candidate, or keep it until the remote description is set."""
        if not self.remote_applied:
            if len(self._pending) >= self._config.max_buffered_candidates:
                self._pending.pop(0)
                self.dropped_candidates += 1
            self._pending.append(msg)
            return
        await self._apply(msg)

    # ---- internals ----------------------------------------------------------

    async def _set_local(self, description: RTCSessionDescription) -> None:
        addresses = self._config.ice_addresses
        if addresses is not None:
            restrict_gathering(self._pc, addresses)
        await self._pc.setLocalDescription(description)
        if addresses is not None:
            verify_local_candidates(self._pc, addresses)
        if self._config.udp_receive_buffer is not None:
            set_receive_buffer(self._pc, self._config.udp_receive_buffer)

    async def _set_remote(self, description: RTCSessionDescription) -> None:
        await self._pc.setRemoteDescription(description)
        self.remote_ufrag = ice_ufrag(description.sdp)
        self.conn._apply_remote_sdp(description.sdp)
        self.remote_applied = True
        pending, self._pending = self._pending, []
        for msg in pending:
            try:
                await self._apply(msg)
            except ProtocolError as exc:  # one bad early candidate must not sink the rest
                self.dropped_candidates += 1
                logger.info("buffered ICE candidate from %s dropped: %s", self.peer_id, exc)

    async def _apply(self, msg: webrtc_pb2.IceCandidate) -> None:
        ufrag = msg.username_fragment
        if ufrag and self.remote_ufrag and ufrag != self.remote_ufrag:
            self.dropped_candidates += 1
            logger.debug("stale ICE candidate for ufrag %s from %s dropped", ufrag, self.peer_id)
            return
        candidate = candidate_from_proto(msg)
        await self._pc.addIceCandidate(candidate)
        self.applied_candidates += 1

    async def _trickle(self) -> None:
        if not self._config.trickle:
            return
        parsed = ParsedSdp.parse(self._pc.localDescription.sdp)
        for index, media in enumerate(parsed.media):
            mid = media.rtp.muxId
            ufrag = media.ice.usernameFragment if media.ice is not None else ""
            for candidate in media.ice_candidates:
                await self._relay.send(
                    self.peer_id,
                    candidate_to_proto(candidate, sdp_mid=mid, sdp_mline_index=index, ufrag=ufrag),
                )
            if media.ice_candidates_complete:
                await self._relay.send(
                    self.peer_id, end_of_candidates(sdp_mid=mid, sdp_mline_index=index, ufrag=ufrag)
                )
            if parsed.group:  # BUNDLE: one ICE session for every m-line
                break
