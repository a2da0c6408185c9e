"""WebRtcCoordinator: every WebRTC connection of one node (the wire pool).

Connecting. ``connect(peer)`` is lazy and cached: a live connection is
returned at once; otherwise one *attempt* per peer is shared by every caller.
An attempt first settles who offers: it sends ``RoleNegotiation`` through the
relay and waits ``role_timeout`` for the server's ``RoleAssignment``; when
none comes, the deterministic rule of :mod:`.role` decides (a server that
forwards our RoleNegotiation instead of arbitrating lets the peer apply the
same rule at once). The offerer opens the channels and offers; the answerer
waits for that offer, repeating its RoleNegotiation every ``role_timeout`` so
a peer that still holds a stale connection is asked again once its heartbeat
has buried it. The whole attempt runs under ``connect_timeout``; on expiry
connect raises :class:`~actr_py.errors.Unavailable` so the transport above
can fall back to WebSocket.

Both peers connecting at once produces one connection: both ask, both get
(or compute) the same roles, and an attempt that already has a role ignores
further assignments. If two offers still cross (a server that contradicts
the rule), the offer of the rule's offerer wins and the other side abandons
its own and answers.

Inbound. An offer with no attempt creates the connection on the answering
side. Every connection that becomes ready, whichever side started it, is
announced through ``on_connection`` exactly once, then starts delivering
frames to the frame handler. A plain ``OFFER`` while we hold a live
connection means the peer lost it: ours is closed and replaced.

Restart. aiortc cannot restart ICE on a live RTCPeerConnection (its ICE
agent keeps the credentials and candidate pairs of the first negotiation and
``createOffer`` has no ``iceRestart``). :meth:`WebRtcCoordinator.restart`
therefore rebuilds: it offers a new RTCPeerConnection with type
``ICE_RESTART_OFFER`` while the old connection keeps serving, and swaps once
the new one is ready (make before break). A peer receiving
``ICE_RESTART_OFFER`` does the same on its side. A connection whose path
died is detected by the lane heartbeat, closed, dropped from the cache and
rebuilt by the next ``connect``.

Renegotiation. :meth:`WebRtcCoordinator.renegotiate` changes the media of a
live connection: it takes the connection's floor (:mod:`.media_floor`, so
two actr-py peers never offer at once), lets the caller add transceivers,
sends a ``RENEGOTIATION_OFFER`` and returns once the answer is applied. A
``RENEGOTIATION_OFFER`` from the peer is answered on the live connection.
Peer connections use ``max-bundle``, so a track added later rides the
transport the DataChannels already use, with no new ICE gathering.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy

from ...errors import (
    ActrError,
    Forbidden,
    InvalidId,
    NotFound,
    ProtocolError,
    StateError,
    Unavailable,
)
from ...ids import ActorId
from ...proto import actr_pb2, webrtc_pb2
from ..base import FrameHandler, WireConnection
from .config import WebRtcConfig
from .connection import WebRtcConnection
from .gathering import check_supported
from .media_floor import Floor
from .negotiator import Negotiator
from .role import offerer_by_rule, role_negotiation
from .signaling import InboundRelay, SignalingRelay, ice_ufrag

__all__ = ["OnConnection", "Prepare", "WebRtcCoordinator"]

logger = logging.getLogger(__name__)

#: Called once per connection that becomes ready, before it delivers frames.
OnConnection = Callable[[WebRtcConnection], None]
#: Changes a live peer connection's transceivers right before a renegotiation offer.
Prepare = Callable[[RTCPeerConnection], object]

_Type = webrtc_pb2.SessionDescription.Type


class _Attempt:
    """One try at building a connection to one peer."""

    def __init__(self, peer_id: ActorId, *, initiated: bool, restart: bool) -> None:
        self.peer_id = peer_id
        #: Somebody here called connect(): keep asking the server for roles.
        self.initiated = initiated
        self.restart = restart
        self.is_offerer: bool | None = None
        self.role_decided = asyncio.Event()
        self.negotiator: Negotiator | None = None
        self.changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.future: asyncio.Future[WebRtcConnection] = loop.create_future()
        self.future.add_done_callback(_retrieve)
        self.task: asyncio.Task[None] | None = None

    def decide(self, is_offerer: bool) -> None:
        if self.is_offerer is None:
            self.is_offerer = is_offerer
            self.role_decided.set()

    def use(self, negotiator: Negotiator) -> Negotiator | None:
        """Make ``negotiator`` current; return the one it replaces."""
        old, self.negotiator = self.negotiator, negotiator
        self.changed.set()
        return old


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Peer:
    __slots__ = ("attempt", "conn", "early", "floors", "lock", "negotiators")

    def __init__(self) -> None:
        self.conn: WebRtcConnection | None = None
        self.attempt: _Attempt | None = None
        #: IceCandidates that arrived before any negotiation existed.
        self.early: list[webrtc_pb2.IceCandidate] = []
        #: Serialises description handling and our own offers for this peer.
        self.lock = asyncio.Lock()
        self.negotiators: dict[WebRtcConnection, Negotiator] = {}
        self.floors: dict[WebRtcConnection, Floor] = {}

    def live(self) -> WebRtcConnection | None:
        conn = self.conn
        return conn if conn is not None and not conn.closed else None

    def take_early(self) -> list[webrtc_pb2.IceCandidate]:
        early, self.early = self.early, []
        return early


class WebRtcCoordinator:
    """Owns the WebRTC connections of the local node ``local_id``.

    ``relay`` carries negotiation to peers; inbound relays are fed to
    :meth:`handle_relay`. ``frame_handler`` receives every inbound frame of
    every connection. ``on_connection`` announces each new ready connection.
    """

    def __init__(
        self,
        local_id: ActorId,
        relay: SignalingRelay,
        frame_handler: FrameHandler,
        *,
        config: WebRtcConfig | None = None,
        on_connection: OnConnection | None = None,
    ) -> None:
        self.local_id = local_id
        self.config = config or WebRtcConfig()
        if self.config.ice_addresses is not None:
            check_supported()
        self._relay = relay
        self._frame_handler = frame_handler
        self._on_connection = on_connection
        self._peers: dict[ActorId, _Peer] = {}
        self._conns: set[WebRtcConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # ---- public -------------------------------------------------------------

    def connection(self, peer_id: ActorId) -> WebRtcConnection | None:
        """The live cached connection to ``peer_id``, if any (no I/O)."""
        peer = self._peers.get(peer_id)
        return peer.live() if peer is not None else None

    @property
    def connections(self) -> list[WebRtcConnection]:
        return [c for p in self._peers.values() if (c := p.live()) is not None]

    async def connect(self, peer_id: ActorId, *, timeout: float | None = None) -> WebRtcConnection:
        """The live connection to ``peer_id``, building it if needed.

        Concurrent callers share one attempt. Raises Unavailable when it
        cannot be built within ``connect_timeout`` (or ``timeout``, if shorter).
        """
        self._check_open()
        if peer_id == self.local_id:
            raise InvalidId(f"{peer_id}: cannot connect to ourselves")
        peer = self._peer(peer_id)
        live = peer.live()
        if live is not None:
            return live
        attempt = peer.attempt
        if attempt is None:
            attempt = self._start_attempt(peer_id, peer, initiated=True)
        elif not attempt.initiated:
            attempt.initiated = True
        return await self._await_attempt(attempt, timeout)

    async def restart(self, peer_id: ActorId) -> WebRtcConnection:
        """Rebuild the connection to ``peer_id`` on fresh ICE (make before break).

        Without a live connection this is :meth:`connect`.
        """
        self._check_open()
        peer = self._peer(peer_id)
        live = peer.live()
        attempt = peer.attempt
        if live is None:
            return await self.connect(peer_id)
        if attempt is None:
            attempt = self._start_attempt(peer_id, peer, initiated=True, restart=True)
            attempt.decide(True)
        return await self._await_attempt(attempt, None)

    async def renegotiate(
        self, peer_id: ActorId, prepare: Prepare | None = None
    ) -> WebRtcConnection:
        """Offer the live connection to ``peer_id`` again and apply the answer.

        ``prepare(pc)`` runs right before the offer is created, while this
        side holds the floor: add or change transceivers there, not earlier,
        or a concurrent offer from the peer could bind them (aiortc matches a
        pending transceiver to any new m-line of its kind). Raises Unavailable
        without a live connection; when no answer comes within
        ``connect_timeout`` the connection is failed (it would stay stuck
        with an unanswered offer) and Unavailable raised.
        """
        self._check_open()
        peer = self._peers.get(peer_id)
        conn = peer.live() if peer is not None else None
        if peer is None or conn is None:
            raise Unavailable(f"no live webrtc connection to {peer_id} to renegotiate")
        negotiator = peer.negotiators.get(conn)
        floor = peer.floors.get(conn)
        if negotiator is None or floor is None:
            raise Unavailable(f"webrtc connection to {peer_id} is being replaced")
        async with floor.turn():
            async with peer.lock:
                if conn.closed:
                    raise Unavailable(f"webrtc connection to {peer_id} closed")
                if prepare is not None:
                    prepare(conn.peer_connection)
                answered = negotiator.answer_waiter()
                try:
                    await negotiator.offer(renegotiation=True)
                except BaseException:
                    answered.cancel()
                    raise
            try:
                async with asyncio.timeout(self.config.connect_timeout):
                    await answered
            except TimeoutError:
                error = Unavailable(
                    f"{peer_id} did not answer a renegotiation within "
                    f"{self.config.connect_timeout}s"
                )
                conn._fail(error)
                raise error from None
        return conn

    async def handle_relay(self, source: ActorId, payload: InboundRelay) -> None:
        """Feed one inbound relay from ``source`` (SDP, candidate or role).

        Raises ProtocolError for an undecodable payload; failures to apply a
        valid one fail the attempt (its connect() raises Unavailable).
        """
        if self._closed or source == self.local_id:
            return
        peer = self._peer(source)
        if isinstance(payload, webrtc_pb2.IceCandidate):
            await self._on_candidate(source, peer, payload)
        elif isinstance(payload, webrtc_pb2.SessionDescription):
            async with peer.lock:
                await self._on_description(source, peer, payload)
        elif isinstance(payload, actr_pb2.RoleAssignment):
            if payload.remote_fixed:
                logger.debug("RoleAssignment.remote_fixed from server ignored")
            self._on_role(source, peer, payload.is_offerer)
        elif isinstance(payload, actr_pb2.RoleNegotiation):
            # A server that forwards instead of arbitrating: apply the rule now.
            try:
                target = ActorId.from_proto(payload.to)
            except InvalidId as exc:
                raise ProtocolError(f"RoleNegotiation with a bad target: {exc}") from None
            if target != self.local_id:
                raise ProtocolError(f"RoleNegotiation for {target} delivered to {self.local_id}")
            self._on_role(source, peer, offerer_by_rule(self.local_id, source))
        else:
            raise ProtocolError(f"unexpected relay payload {type(payload).__name__}")

    async def close(self) -> None:
        """Close every connection and stop every attempt."""
        if self._closed:
            return
        self._closed = True
        for peer in self._peers.values():
            attempt = peer.attempt
            if attempt is not None and attempt.task is not None:
                attempt.task.cancel()
        conns = list(self._conns)
        closing = (c.close("node shutting down") for c in conns)
        await asyncio.gather(*closing, return_exceptions=True)
        await asyncio.gather(*(c._aclose_tasks() for c in conns), return_exceptions=True)
        while self._tasks:  # attempts, and bookkeeping spawned by the closes above
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def __aenter__(self) -> WebRtcCoordinator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- attempts -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StateError("WebRtcCoordinator is closed")

    def _peer(self, peer_id: ActorId) -> _Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            peer = self._peers[peer_id] = _Peer()
        return peer

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _start_attempt(
        self, peer_id: ActorId, peer: _Peer, *, initiated: bool, restart: bool = False
    ) -> _Attempt:
        attempt = _Attempt(peer_id, initiated=initiated, restart=restart)
        peer.attempt = attempt
        attempt.task = self._spawn(self._run_attempt(peer, attempt))
        return attempt

    async def _await_attempt(self, attempt: _Attempt, timeout: float | None) -> WebRtcConnection:
        if timeout is None:
            return await asyncio.shield(attempt.future)
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(attempt.future)
        except TimeoutError:
            raise Unavailable(
                f"webrtc connection to {attempt.peer_id} not ready within {timeout}s"
            ) from None

    async def _run_attempt(self, peer: _Peer, attempt: _Attempt) -> None:
        conn: WebRtcConnection | None = None
        error: ActrError | None = None
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                conn = await self._drive(peer, attempt)
        except TimeoutError:
            error = Unavailable(
                f"webrtc connection to {attempt.peer_id} not established within "
                f"{self.config.connect_timeout}s"
            )
        except asyncio.CancelledError:
            error = Unavailable("webrtc coordinator closed")
        except (Unavailable, NotFound, Forbidden) as exc:
            error = exc
        except Exception as exc:
            logger.warning("webrtc attempt to %s failed", attempt.peer_id, exc_info=True)
            error = Unavailable(f"webrtc connection to {attempt.peer_id} failed: {exc}")
            error.__cause__ = exc
        finally:
            if peer.attempt is attempt:
                peer.attempt = None
        if error is not None or conn is None:
            if attempt.negotiator is not None:
                attempt.negotiator.conn._fail(error or Unavailable("attempt abandoned"))
            attempt.future.set_exception(error or Unavailable("attempt abandoned"))
            return
        self._adopt(peer, conn)
        attempt.future.set_result(conn)

    async def _drive(self, peer: _Peer, attempt: _Attempt) -> WebRtcConnection:
        peer_id = attempt.peer_id
        role_timeout = self.config.role_timeout
        if attempt.is_offerer is None and attempt.negotiator is None:
            if attempt.initiated:
                await self._ask_roles(peer_id)
            try:
                async with asyncio.timeout(role_timeout):
                    await attempt.role_decided.wait()
            except TimeoutError:
                attempt.decide(offerer_by_rule(self.local_id, peer_id))
                logger.debug("no RoleAssignment for %s: local rule decides", peer_id)
        if attempt.is_offerer and attempt.negotiator is None:
            async with peer.lock:
                if attempt.negotiator is None:  # an offer may have won meanwhile
                    negotiator = self._negotiator(peer_id, peer, offerer=True)
                    attempt.use(negotiator)
                    await negotiator.offer(restart=attempt.restart)
        while True:
            negotiator = attempt.negotiator
            if negotiator is None:
                attempt.changed.clear()
                try:
                    async with asyncio.timeout(role_timeout):
                        await attempt.changed.wait()
                except TimeoutError:
                    if attempt.initiated and not attempt.restart:
                        await self._ask_roles(peer_id)
                continue
            try:
                await negotiator.conn.wait_ready()
            except ActrError:
                if attempt.negotiator is not negotiator:
                    continue  # superseded by a newer offer
                raise
            if attempt.negotiator is negotiator:
                return negotiator.conn

    async def _ask_roles(self, peer_id: ActorId) -> None:
        try:
            await self._relay.send(peer_id, role_negotiation(self.local_id, peer_id))
        except (NotFound, Forbidden):
            raise  # the server says the peer is offline or off limits: no point waiting
        except Exception as exc:  # the local rule still works without the server
            logger.info("RoleNegotiation to %s not sent: %s", peer_id, exc)

    def _negotiator(self, peer_id: ActorId, peer: _Peer, *, offerer: bool) -> Negotiator:
        servers = [RTCIceServer(urls=url) for url in self.config.ice_servers]
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        conn = WebRtcConnection(
            peer_id, pc, frame_handler=self._frame_handler, config=self.config, offerer=offerer
        )
        negotiator = Negotiator(
            conn, relay=self._relay, config=self.config, early_candidates=peer.take_early()
        )
        self._conns.add(conn)
        peer.negotiators[conn] = negotiator
        peer.floors[conn] = Floor(
            conn,
            grant_timeout=self.config.connect_timeout,
            hold_timeout=self.config.connect_timeout,
        )
        conn.add_close_callback(self._on_closed)
        return negotiator

    def _adopt(self, peer: _Peer, conn: WebRtcConnection) -> None:
        old = peer.live()
        peer.conn = conn
        if old is not None and old is not conn:
            self._spawn(old.close("replaced by a restarted connection"))
        if self._on_connection is not None:
            try:
                self._on_connection(conn)
            except Exception:
                logger.exception("on_connection callback failed for %s", conn.peer_id)
        conn._activate()

    def _on_closed(self, conn: WireConnection, exc: BaseException | None) -> None:
        assert isinstance(conn, WebRtcConnection)
        peer = self._peers.get(conn.peer_id)
        if peer is not None:
            if peer.conn is conn:
                peer.conn = None
            peer.negotiators.pop(conn, None)
            peer.floors.pop(conn, None)
        self._spawn(self._forget(conn))

    async def _forget(self, conn: WebRtcConnection) -> None:
        await conn._wait_pc_closed()
        self._conns.discard(conn)

    # ---- inbound relays -----------------------------------------------------

    def _on_role(self, peer_id: ActorId, peer: _Peer, is_offerer: bool) -> None:
        attempt = peer.attempt
        if attempt is not None:
            if attempt.is_offerer is not None and attempt.is_offerer != is_offerer:
                logger.info(
                    "role for %s already %s; later assignment ignored",
                    peer_id,
                    "offerer" if attempt.is_offerer else "answerer",
                )
            attempt.decide(is_offerer)
            return
        if peer.live() is not None:
            return  # the peer will ask again once our heartbeat has buried this one
        attempt = self._start_attempt(peer_id, peer, initiated=False)
        attempt.decide(is_offerer)

    async def _on_candidate(
        self, peer_id: ActorId, peer: _Peer, msg: webrtc_pb2.IceCandidate
    ) -> None:
        attempt = peer.attempt
        negotiator = attempt.negotiator if attempt is not None else None
        if negotiator is None:
            live = peer.live()
            negotiator = peer.negotiators.get(live) if live is not None else None
        if negotiator is None:
            if len(peer.early) >= self.config.max_buffered_candidates:
                peer.early.pop(0)
            peer.early.append(msg)
            return
        try:
            await negotiator.add_candidate(msg)
        except ProtocolError:
            raise
        except Exception as exc:
            logger.info("ICE candidate from %s not applied: %s", peer_id, exc)

    def _expecting_answer(
        self, peer: _Peer, msg: webrtc_pb2.SessionDescription
    ) -> Negotiator | None:
        """The negotiator whose offer ``msg`` answers: an attempt's or the live one's."""
        attempt = peer.attempt
        first = attempt.negotiator if attempt is not None else None
        if first is not None and (not first.conn.offerer or first.answered):
            first = None
        live = peer.live()
        again = peer.negotiators.get(live) if live is not None else None
        if again is not None and not again.awaiting_answer:
            again = None
        if first is None or again is None:
            return first or again
        # An ICE restart and a renegotiation in flight together: the answer
        # names the ICE session it belongs to.
        return again if ice_ufrag(msg.sdp) == again.remote_ufrag else first

    async def _on_description(
        self, peer_id: ActorId, peer: _Peer, msg: webrtc_pb2.SessionDescription
    ) -> None:
        if msg.type == _Type.ANSWER:
            negotiator = self._expecting_answer(peer, msg)
            if negotiator is None:
                logger.info("stale answer from %s ignored", peer_id)
                return
            try:
                await negotiator.accept_answer(msg)
            except Exception as exc:
                negotiator.conn._fail(Unavailable(f"answer from {peer_id} rejected: {exc}"))
            return

        live = peer.live()
        if msg.type == _Type.RENEGOTIATION_OFFER and live is not None:
            negotiator = peer.negotiators.get(live)
            if negotiator is not None:
                if live.peer_connection.signalingState != "stable":
                    # Only a peer that ignores the floor gets here; aiortc cannot
                    # roll our offer back, so theirs loses and they must retry.
                    logger.warning("renegotiation offer from %s crossed ours: ignored", peer_id)
                    return
                try:
                    await negotiator.answer(msg, renegotiation=True)
                except Exception as exc:
                    live._fail(Unavailable(f"renegotiation from {peer_id} failed: {exc}"))
                return

        restart = msg.type == _Type.ICE_RESTART_OFFER
        attempt = peer.attempt
        current = attempt.negotiator if attempt is not None else None
        if current is not None and current.conn.offerer:
            if offerer_by_rule(self.local_id, peer_id):
                logger.info("offers crossed with %s: ours stands", peer_id)
                return
            logger.info("offers crossed with %s: answering theirs", peer_id)
        if attempt is None:
            if live is not None and not restart:
                live._fail(Unavailable(f"peer {peer_id} opened a new connection"))
            attempt = self._start_attempt(peer_id, peer, initiated=False, restart=restart)
        attempt.decide(False)
        attempt.is_offerer = False  # also when our crossing offer just lost
        negotiator = self._negotiator(peer_id, peer, offerer=False)
        replaced = attempt.use(negotiator)
        if replaced is not None:
            replaced.conn._fail(Unavailable(f"superseded by a newer offer from {peer_id}"))
        try:
            await negotiator.answer(msg)
        except Exception as exc:
            negotiator.conn._fail(Unavailable(f"offer from {peer_id} rejected: {exc}"))
            if isinstance(exc, ProtocolError):
                raise
