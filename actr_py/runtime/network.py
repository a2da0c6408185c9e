"""The node's reach beyond its process: signaling, WebRTC and WebSocket lanes.

Present only when the config names a signaling server. It registers the node
(the server issues its ActorId and credential), keeps it registered, answers
discovery, publishes the node's WebSocket address when it listens, checks
every peer that opens a WebSocket lane against the server's public keys, and
carries WebRTC negotiation (roles, SDP, ICE) between the coordinator and the
server's relay. Only registered, ACL-admitted peers can relay to us, so the
relay is what authenticates a WebRTC peer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import Forbidden, NotFound, StateError, Unauthorized
from ..ids import ActorId, ActrTypeName
from ..proto import actr_pb2, package_pb2, signaling_pb2, webrtc_pb2
from ..transport.webrtc_manager import WebRtcTransportManager
from ..transport.websocket_manager import WebSocketTransportManager
from ..wire.base import WireConnection
from ..wire.signaling import SignalingClient
from ..wire.webrtc import OutboundRelay, WebRtcConfig, WebRtcCoordinator
from ..wire.webrtc.candidate_filter import filter_description, keep_candidate
from ..wire.websocket import WebSocketListener, WebSocketPool

if TYPE_CHECKING:
    from .node import ActrNode

__all__ = ["NodeNetwork"]

log = logging.getLogger("actr_py.network")


class NodeNetwork:
    def __init__(self, node: ActrNode) -> None:
        self.node = node
        cfg = node.config
        assert cfg.signaling_url is not None
        self.pool = WebSocketPool(
            self_id=lambda: self.client.actor_id,
            credential_provider=lambda: self.client.credential,
            authenticate=self._authenticate,
            on_frame=node.gate.deliver,
        )
        self.websocket = WebSocketTransportManager(self.pool, self._resolve_address)
        self.listener: WebSocketListener | None = None
        if cfg.websocket_listen is not None:
            host, _, port = cfg.websocket_listen.rpartition(":")
            self.listener = self.pool.create_listener(host=host, port=int(port))
        self.client = SignalingClient(
            cfg.signaling_url,
            cfg.actr_type,
            cfg.realm,
            service_spec=node.service_spec(),
            acl=cfg.acl_proto(),
            load=self._load,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_registered=self._on_registered,
            on_actr_up=self._on_actr_up,
            on_relay=self._on_relay,
        )
        self.webrtc: WebRtcTransportManager | None = None

    @property
    def actor_id(self) -> ActorId:
        actor_id = self.client.actor_id
        if actor_id is None:
            raise StateError("not registered with the signaling server")
        return actor_id

    async def start(self) -> ActorId:
        """Listen (if configured), then register; returns the issued ActorId."""
        if self.listener is not None:
            await self.listener.start()
            self.client.ws_address = self.listener.address
        try:
            await self.client.start()  # calls _on_registered, which starts WebRTC
        except BaseException:
            await self.close()
            raise
        log.info(
            "registered as %s via %s%s", self.client.actor_id, self.node.config.signaling_url,
            f", lanes at {self.listener.address}" if self.listener else "",
        )
        return self.actor_id

    def _start_webrtc(self) -> None:
        cfg = self.node.config
        coordinator = WebRtcCoordinator(
            self.actor_id,
            _Relay(self),
            self.node.gate.deliver,
            config=WebRtcConfig(
                ice_addresses=cfg.webrtc_ice_addresses,
                connect_timeout=cfg.webrtc_connect_timeout,
            ),
            on_connection=self._on_webrtc_connection,
        )
        self.webrtc = WebRtcTransportManager(coordinator)

    def _on_webrtc_connection(self, conn: WireConnection) -> None:
        if self.webrtc is not None:
            self.webrtc.adopt(conn)
        self.node.media.attach(conn)

    async def close(self) -> None:
        if self.webrtc is not None:
            await self.webrtc.close()
        try:
            if self.client.connected:
                await self.client.unregister("node stopping")
        except Exception as exc:  # the server may already be gone
            log.debug("unregister failed: %r", exc)
        await self.client.close()
        await self.websocket.close()
        if self.listener is not None:
            await self.listener.close()

    # ---- discovery ---------------------------------------------------------

    async def discover(self, actr_type: ActrTypeName) -> ActorId:
        candidates = await self.client.route_candidates(actr_type, 1)
        if not candidates:
            raise NotFound(f"no running actor of type {actr_type} this node may reach")
        actor_id, address = candidates[0]
        self.websocket.learn(actor_id, address)
        return actor_id

    async def _resolve_address(self, peer: ActorId) -> str | None:
        return await self.client.get_endpoint(peer)

    # ---- lane authentication -------------------------------------------------

    async def _authenticate(self, hello: package_pb2.LaneHello) -> ActorId:
        claimed = ActorId.from_proto(hello.actr_id)
        if claimed.realm != self.node.config.realm:
            raise Forbidden(f"{claimed} is in realm {claimed.realm}, this node in another")
        try:
            await self.client.verify_peer(hello.credential, claimed)
        except Unauthorized:
            raise
        except Exception as exc:
            raise Unauthorized(f"cannot verify {claimed}: {exc}") from None
        return claimed

    # ---- signaling events ------------------------------------------------------

    def _load(self) -> tuple[int, float, float]:
        backlog = float(self.node.mailbox.depth()) if hasattr(self.node, "mailbox") else 0.0
        return actr_pb2.FULL, 1.0, backlog

    async def _on_connected(self) -> None:
        await self._hook("on_signaling_connected")

    async def _on_disconnected(self, exc: BaseException | None) -> None:
        await self._hook("on_signaling_disconnected", exc)

    def _on_registered(self, actor_id: ActorId) -> None:
        # Relays may follow at once (a peer that found us right away): the
        # coordinator must exist before the client hands on the first one.
        if self.node.config.webrtc and self.webrtc is None:
            self._start_webrtc()
        self.node._adopt_identity(actor_id)

    async def _on_relay(self, relay: signaling_pb2.ActrRelay) -> None:
        kind = relay.WhichOneof("payload")
        if self.webrtc is None or kind is None:
            log.debug("ignored a %s relay: WebRTC is off on this node", kind)
            return
        payload = getattr(relay, kind)
        allowed = self.node.config.webrtc_ice_addresses
        if isinstance(payload, webrtc_pb2.IceCandidate) and not keep_candidate(payload, allowed):
            log.debug("dropped a candidate outside %s: %s", allowed, payload.candidate)
            return
        if isinstance(payload, webrtc_pb2.SessionDescription):
            payload = filter_description(payload, allowed)
        try:
            source = ActorId.from_proto(relay.source)
            await self.webrtc.coordinator.handle_relay(source, payload)
        except Exception as exc:  # one bad relay must not stop the others
            log.warning("relay %s from %s refused: %s", kind, relay.source.serial_number, exc)

    async def _on_actr_up(self, actor_id: ActorId) -> None:
        await self._hook("on_actr_up", actor_id)

    async def _hook(self, name: str, *args: Any) -> None:
        try:
            await getattr(self.node.workload, name)(*args)
        except Exception as exc:
            log.warning("%s hook failed: %r", name, exc)


class _Relay:
    """The coordinator's SignalingRelay: our signaling client, and role answers fed back."""

    def __init__(self, network: NodeNetwork) -> None:
        self.network = network

    async def send(self, target: ActorId, payload: OutboundRelay) -> None:
        answer = await self.network.client.relay(target, payload)
        if answer is not None and self.network.webrtc is not None:
            # The server answers our RoleNegotiation to us directly, not via on_relay.
            await self.network.webrtc.coordinator.handle_relay(target, answer)
