"""The node side of signaling: one WebSocket to the signaling server, kept alive.

A :class:`SignalingClient` registers the node, then in the background reads
server messages, sends heartbeats, renews the credential at ~2/3 of its
lifetime and reconnects with backoff. A reconnect first presents the current
credential (``?actor_id=&token=&token_key_id=``) so the node keeps its ActorId
across network blips and server restarts; only when the server has forgotten
it (401) does it register again, which issues a new ActorId.

Callbacks may be plain functions or coroutine functions. They run one at a
time, in arrival order, on a worker task of their own: a slow ``on_relay``
delays later callbacks but never the heartbeat or request replies.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from ...credential import (
    CredentialVerifier,
    TokenClaims,
    UnknownKeyId,
    credential_to_query,
    decode_token,
    same_actor,
)
from ...errors import (
    ActrError,
    ProtocolError,
    StateError,
    Unauthorized,
    Unavailable,
    error_for_code,
)
from ...ids import ActorId, ActrTypeName
from ...proto import actr_pb2, signaling_pb2, webrtc_pb2
from .backoff import Backoff
from .correlation import Correlator
from .envelope import decode_envelope, error_from_reply, make_envelope, timestamp_seconds

__all__ = ["LoadProvider", "SignalingClient"]

log = logging.getLogger("actr_py.signaling")

#: Returns (availability, power_reserve, mailbox_backlog) for the next Ping.
LoadProvider = Callable[[], tuple[int, float, float]]
Callback = Callable[..., Any]

# ActrToSignaling payload class -> its oneof field name, and the field of the
# SignalingToActr reply that answers it.
_REQUEST_FIELD: dict[str, str] = {
    f.message_type.full_name: f.name
    for f in signaling_pb2.ActrToSignaling.DESCRIPTOR.oneofs_by_name["payload"].fields
    if f.name != "error"
}
_REPLY_FIELD: dict[str, str] = {
    "ping": "pong",
    "credential_update_request": "register_response",
    "unregister_request": "unregister_response",
    "discovery_request": "discovery_response",
    "route_candidates_request": "route_candidates_response",
    "get_service_spec_request": "get_service_spec_response",
    "subscribe_actr_up_request": "subscribe_actr_up_response",
    "unsubscribe_actr_up_request": "unsubscribe_actr_up_response",
    "get_endpoint_request": "get_endpoint_response",
    "actor_placement_request": "actor_placement_response",
}
_RELAY_FIELD: dict[type, str] = {
    webrtc_pb2.IceCandidate: "ice_candidate",
    webrtc_pb2.SessionDescription: "session_description",
    actr_pb2.RoleNegotiation: "role_negotiation",
}
_DEFAULT_RANKING = (
    actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria.MAXIMUM_POWER_RESERVE,
    actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria.MINIMUM_MAILBOX_BACKLOG,
)
#: Floor between two key fetches triggered by unknown key ids.
_KEY_REFRESH_MIN_INTERVAL = 5.0
#: How long a key id still unknown after a fetch is not fetched for again.
_UNKNOWN_KEY_RETRY = 30.0


def _unwrap(reply: signaling_pb2.SignalingEnvelope, kind: str) -> Any:
    """The success payload of a reply to a request of ``kind``."""
    field = _REPLY_FIELD[kind]
    if reply.WhichOneof("flow") != "server_to_actr" or (
        reply.server_to_actr.WhichOneof("payload") != field
    ):
        raise ProtocolError(f"unexpected reply to {kind}: {reply.WhichOneof('flow')}")
    msg = getattr(reply.server_to_actr, field)
    if "result" in msg.DESCRIPTOR.oneofs_by_name:
        if msg.WhichOneof("result") != "success":
            raise ProtocolError(f"reply to {kind} carries no result")
        return msg.success
    return msg


class SignalingClient:
    """A node's registration with the signaling server, kept alive in the background.

    Minimal use::

        client = SignalingClient(url, ActrTypeName("acme", "echo"), realm=1,
                                 on_relay=handle_relay)
        await client.start()            # connected and registered, or raises
        peers = await client.route_candidates(ActrTypeName("acme", "echo"), 3)
        ...
        await client.close()
    """

    def __init__(
        self,
        url: str,
        actr_type: ActrTypeName,
        realm: int,
        *,
        service_spec: actr_pb2.ServiceSpec | None = None,
        acl: actr_pb2.Acl | None = None,
        ws_address: str | None = None,
        load: LoadProvider | None = None,
        on_connected: Callable[[], Any] | None = None,
        on_disconnected: Callable[[BaseException | None], Any] | None = None,
        on_relay: Callable[[signaling_pb2.ActrRelay], Any] | None = None,
        on_actr_up: Callable[[ActorId], Any] | None = None,
        on_registered: Callable[[ActorId], Any] | None = None,
        request_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        renew_fraction: float = 2 / 3,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not 0 < renew_fraction < 1:
            raise ValueError("renew_fraction must be in (0, 1)")
        self.url = url
        self.actr_type = actr_type
        self.realm = realm
        self.service_spec = service_spec
        self.acl = acl
        self.ws_address = ws_address
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.renew_fraction = renew_fraction
        self._load = load
        self._callbacks: dict[str, Callback | None] = {
            "connected": on_connected,
            "disconnected": on_disconnected,
            "relay": on_relay,
            "actr_up": on_actr_up,
            "registered": on_registered,
        }
        self._backoff = Backoff(backoff_base, backoff_max)
        self._http = http_session
        self._owns_http = http_session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._pending: Correlator[signaling_pb2.SignalingEnvelope] = Correlator()
        self._events: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        self._event_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._subscriptions: set[ActrTypeName] = set()
        self._actor_id: ActorId | None = None
        self._credential: actr_pb2.AIdCredential | None = None
        #: Secret from RegisterOk.psk that proves a reconnect is really us; never shared.
        self._psk: bytes | None = None
        self._heartbeat_interval = 30.0
        self._renew_at: float | None = None
        self._verifier: CredentialVerifier | None = None
        self._keys_fetched_at = -_KEY_REFRESH_MIN_INTERVAL
        self._missing_keys: dict[int, float] = {}
        self._started = False
        self._closing = False
        self._force_register = False

    # ---- state ------------------------------------------------------------------

    @property
    def actor_id(self) -> ActorId | None:
        """The ActorId the server issued; None before the first registration."""
        return self._actor_id

    @property
    def credential(self) -> actr_pb2.AIdCredential | None:
        """The current credential (it changes on renewal and on reconnect)."""
        return self._credential

    @property
    def verifier(self) -> CredentialVerifier | None:
        """Checks peers' credentials with the server's public keys (None until fetched)."""
        return self._verifier

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def heartbeat_interval(self) -> float:
        return self._heartbeat_interval

    @property
    def http_url(self) -> URL:
        """The server's HTTP base, derived from the WebSocket URL."""
        url = URL(self.url)
        path = url.path
        prefix = path[: -len("/signaling/ws")] if path.endswith("/signaling/ws") else ""
        scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
        return url.with_scheme(scheme).with_path(prefix or "/").with_query(None)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected and registered; :class:`DeadlineExceeded` after ``timeout``."""
        if self._closing:
            raise StateError("signaling client is closed")
        if self._connected.is_set():
            return
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise error_for_code(504, f"not connected to {self.url} within {timeout}s") from None

    # ---- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Connect and register; raises the server's refusal (e.g. Forbidden for a bad realm).

        After it returns the client stays connected by itself until :meth:`close`.
        """
        if self._started:
            raise StateError("signaling client already started")
        self._started = True
        if self._http is None:
            self._http = aiohttp.ClientSession()
        self._event_task = asyncio.create_task(self._event_worker(), name="signaling-events")
        try:
            ws = await self._open(use_identity=False)
        except BaseException:
            await self._shutdown()
            raise
        self._attach(ws)
        self._supervisor = asyncio.create_task(self._supervise(ws), name="signaling-supervisor")
        try:
            await self.refresh_keys()
        except ActrError as exc:
            log.warning("could not fetch credential keys: %s", exc)

    async def close(self) -> None:
        """Disconnect and stop; the server unregisters the actor. Idempotent."""
        if self._closing:
            return
        self._closing = True
        was_connected = self.connected
        self._connected.clear()
        ws = self._ws
        if ws is not None:
            await ws.close()
        self._pending.fail_all(Unavailable("signaling client closed"))
        if was_connected:
            self._emit("disconnected", None)
        await self._shutdown()

    async def _shutdown(self) -> None:
        self._closing = True
        workers = [t for t in (self._supervisor, *self._side_tasks) if t is not None]
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.wait(workers)
        if self._event_task is not None:
            # Let queued callbacks (the final on_disconnected) run, then stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._events.join(), 2.0)
            self._event_task.cancel()
            await asyncio.wait([self._event_task])
        if self._owns_http and self._http is not None:
            await self._http.close()

    async def unregister(self, reason: str = "") -> None:
        """Tell the server this actor is gone for good (its id cannot be restored), then close."""
        if self._actor_id is not None and self.connected:
            req = actr_pb2.UnregisterRequest(actr_id=self._actor_id.to_proto())
            if reason:
                req.reason = reason
            with contextlib.suppress(Unavailable, ActrError):
                await self.request(req)
        await self.close()

    # ---- requests ---------------------------------------------------------------

    async def request(self, payload: Any, *, timeout: float | None = None) -> Any:
        """Send one ``ActrToSignaling`` request and return the success payload of its reply.

        ``payload`` is a request message (``actr_pb2.DiscoveryRequest``, ``Ping``,
        ...). Waits for a connection within the same ``timeout``. Error replies
        raise the matching :class:`~actr_py.errors.RemoteError` subclass.
        """
        kind = _REQUEST_FIELD.get(payload.DESCRIPTOR.full_name)
        if kind is None:
            raise TypeError(f"{payload.DESCRIPTOR.full_name} is not a signaling request")

        def build() -> signaling_pb2.SignalingEnvelope:
            return make_envelope(actr_to_server=self._actr_to_server(kind, payload))

        reply = await self._roundtrip(build, timeout)
        return _unwrap(reply, kind)

    async def route_candidates(
        self,
        actr_type: ActrTypeName,
        count: int = 1,
        *,
        ranking: tuple[int, ...] = _DEFAULT_RANKING,
        client_fingerprint: str = "",
    ) -> list[tuple[ActorId, str | None]]:
        """Live actors of ``actr_type`` this node may reach, best first, with their ws address."""
        criteria = actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria(
            candidate_count=count, ranking_factors=ranking
        )
        ok = await self.request(
            actr_pb2.RouteCandidatesRequest(
                target_type=actr_type.to_proto(),
                criteria=criteria,
                client_fingerprint=client_fingerprint,
            )
        )
        addresses = {
            e.actr_id.serial_number: (e.ws_address if e.HasField("ws_address") else None)
            for e in ok.endpoints
        }
        return [
            (ActorId.from_proto(c), addresses.get(c.serial_number)) for c in ok.candidates
        ]

    async def discover(
        self, manufacturer: str | None = None, limit: int | None = None
    ) -> list[actr_pb2.DiscoveryResponse.TypeEntry]:
        """Actor types this node may see in its realm."""
        req = actr_pb2.DiscoveryRequest()
        if manufacturer is not None:
            req.manufacturer = manufacturer
        if limit is not None:
            req.limit = limit
        ok = await self.request(req)
        return list(ok.entries)

    async def get_endpoint(self, actor_id: ActorId) -> str | None:
        """The ws address ``actor_id`` published (None if it has none); NotFound if offline."""
        endpoint = await self.request(actr_pb2.GetEndpointRequest(target=actor_id.to_proto()))
        return endpoint.ws_address if endpoint.HasField("ws_address") else None

    async def claim_key(
        self, name: str, key: str, storage_id: str, *, create: bool = False
    ) -> tuple[ActorId, str | None]:
        """The node serving virtual actor ``(name, key)`` and its ws address.

        ``create=True`` makes the key's home this node's storage if it has none
        yet; otherwise a key without a home is NotFound. See actr_py.actors.placement.
        """
        req = actr_pb2.ActorPlacementRequest(
            op=actr_pb2.ActorPlacementRequest.CLAIM, storage_id=storage_id, name=name, key=key,
            create=create,
        )
        placed = await self.request(req)
        return (
            ActorId.from_proto(placed.owner),
            placed.ws_address if placed.HasField("ws_address") else None,
        )

    async def get_service_spec(self, name: str) -> actr_pb2.ServiceSpec:
        return await self.request(actr_pb2.GetServiceSpecRequest(name=name))

    async def subscribe_actr_up(self, actr_type: ActrTypeName) -> None:
        """Receive ``on_actr_up`` for actors of this type; kept across reconnects."""
        self._subscriptions.add(actr_type)
        await self.request(actr_pb2.SubscribeActrUpRequest(target_type=actr_type.to_proto()))

    async def unsubscribe_actr_up(self, actr_type: ActrTypeName) -> None:
        self._subscriptions.discard(actr_type)
        await self.request(actr_pb2.UnsubscribeActrUpRequest(target_type=actr_type.to_proto()))

    async def relay(
        self,
        target: ActorId,
        payload: webrtc_pb2.IceCandidate | webrtc_pb2.SessionDescription | actr_pb2.RoleNegotiation,
        *,
        timeout: float | None = None,
    ) -> actr_pb2.RoleAssignment | None:
        """Relay a WebRTC negotiation message to ``target`` through the server.

        ``RoleNegotiation`` waits for the server's arbitration and returns this
        node's ``RoleAssignment`` (from/to/realm are filled in when unset); the
        target gets its own assignment via ``on_relay``. It raises NotFound
        (target offline) or Forbidden (ACL, realm) - do it before sending SDP.
        ICE candidates and session descriptions are sent without waiting; a
        refusal that comes back later is only logged.
        """
        kind = _RELAY_FIELD.get(type(payload))
        if kind is None:
            raise TypeError(f"cannot relay {type(payload).__name__}")

        def build() -> signaling_pb2.SignalingEnvelope:
            assert self._actor_id is not None and self._credential is not None
            body = payload
            if isinstance(payload, actr_pb2.RoleNegotiation):
                body = actr_pb2.RoleNegotiation()
                body.CopyFrom(payload)
                if not body.HasField("from"):
                    getattr(body, "from").CopyFrom(self._actor_id.to_proto())
                if not body.HasField("to"):
                    body.to.CopyFrom(target.to_proto())
                if not body.HasField("realm_id"):
                    body.realm_id = self._actor_id.realm
            relay = signaling_pb2.ActrRelay(
                source=self._actor_id.to_proto(),
                credential=self._credential,
                target=target.to_proto(),
                **{kind: body},
            )
            return make_envelope(actr_relay=relay)

        if kind != "role_negotiation":
            await self._send_only(build, timeout)
            return None
        reply = await self._roundtrip(build, timeout)
        if (
            reply.WhichOneof("flow") != "actr_relay"
            or reply.actr_relay.WhichOneof("payload") != "role_assignment"
        ):
            raise ProtocolError(f"unexpected reply to role negotiation: {reply.WhichOneof('flow')}")
        return reply.actr_relay.role_assignment

    # ---- peers' credentials -----------------------------------------------------

    async def refresh_keys(self) -> CredentialVerifier:
        """Fetch ``/credential-keys`` and replace :attr:`verifier`."""
        assert self._http is not None, "start() first"
        url = self.http_url.with_path(self.http_url.path.rstrip("/") + "/credential-keys")
        try:
            async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                if resp.status != 200:
                    raise error_for_code(resp.status, f"GET {url}: HTTP {resp.status}")
                data = await resp.json()
            verifier = CredentialVerifier.from_json(data)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"GET {url} failed: {exc}") from None
        self._verifier = verifier
        self._keys_fetched_at = time.monotonic()
        return verifier

    async def verify_peer(
        self, credential: actr_pb2.AIdCredential, claimed: ActorId, now: float | None = None
    ) -> TokenClaims:
        """Check a peer's credential locally.

        A key id the verifier does not know yet (the server rotated its key)
        triggers a refetch of ``/credential-keys``. Forged key ids must not make
        the node hammer the server: ids just above the newest known one (what a
        rotation produces) are fetched at once, others at most every
        ``_KEY_REFRESH_MIN_INTERVAL``, and an id still unknown after a fetch is
        not fetched for again for ``_UNKNOWN_KEY_RETRY``.
        """
        now = time.time() if now is None else now
        verifier = self._verifier or await self.refresh_keys()
        try:
            return verifier.verify(credential, claimed, now)
        except UnknownKeyId as exc:
            mono = time.monotonic()
            missed = self._missing_keys.get(exc.key_id)
            newest = max(verifier.key_ids, default=0)
            rotated = newest < exc.key_id <= newest + 16
            if (missed is not None and mono - missed < _UNKNOWN_KEY_RETRY) or (
                not rotated and mono - self._keys_fetched_at < _KEY_REFRESH_MIN_INTERVAL
            ):
                raise
        verifier = await self.refresh_keys()
        try:
            return verifier.verify(credential, claimed, now)
        except UnknownKeyId as exc:
            if len(self._missing_keys) > 64:
                self._missing_keys.clear()
            self._missing_keys[exc.key_id] = time.monotonic()
            raise

    # ---- internals: sending ---------------------------------------------------

    def _actr_to_server(self, kind: str, payload: Any) -> signaling_pb2.ActrToSignaling:
        assert self._actor_id is not None and self._credential is not None
        return signaling_pb2.ActrToSignaling(
            source=self._actor_id.to_proto(), credential=self._credential, **{kind: payload}
        )

    async def _ready(self, deadline: float) -> aiohttp.ClientWebSocketResponse:
        if not self._started or self._closing:
            raise StateError("signaling client is not running")
        if not self._connected.is_set():
            await self.wait_connected(max(0.0, deadline - time.monotonic()))
        ws = self._ws
        if ws is None or ws.closed:
            raise Unavailable("signaling connection is down")
        return ws

    async def _send_only(
        self, build: Callable[[], signaling_pb2.SignalingEnvelope], timeout: float | None
    ) -> None:
        deadline = time.monotonic() + (timeout or self.request_timeout)
        ws = await self._ready(deadline)
        try:
            await ws.send_bytes(build().SerializeToString())
        except (ConnectionError, RuntimeError) as exc:
            raise Unavailable(f"signaling send failed: {exc}") from None

    async def _roundtrip(
        self, build: Callable[[], signaling_pb2.SignalingEnvelope], timeout: float | None
    ) -> signaling_pb2.SignalingEnvelope:
        deadline = time.monotonic() + (timeout or self.request_timeout)
        ws = await self._ready(deadline)
        return await self._exchange(ws, build(), deadline)

    async def _exchange(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        env: signaling_pb2.SignalingEnvelope,
        deadline: float,
    ) -> signaling_pb2.SignalingEnvelope:
        fut = self._pending.expect(env.envelope_id)
        try:
            await ws.send_bytes(env.SerializeToString())
        except (ConnectionError, RuntimeError) as exc:
            self._pending.fail(env.envelope_id, Unavailable(str(exc)))
            raise Unavailable(f"signaling send failed: {exc}") from None
        reply = await self._pending.wait(
            env.envelope_id, fut, max(0.0, deadline - time.monotonic())
        )
        err = error_from_reply(reply)
        if err is not None:
            raise err
        return reply

    # ---- internals: connecting ------------------------------------------------

    async def _open(self, *, use_identity: bool) -> aiohttp.ClientWebSocketResponse:
        """Connect, then restore the identity or register; returns a ready socket."""
        assert self._http is not None
        url = URL(self.url)
        if use_identity and self._actor_id is not None and self._credential is not None:
            query = {"actor_id": str(self._actor_id), **credential_to_query(self._credential)}
            if self._psk is not None:
                query["psk"] = base64.urlsafe_b64encode(self._psk).rstrip(b"=").decode()
            url = url.update_query(query)
        else:
            use_identity = False
        try:
            ws = await self._http.ws_connect(
                url,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                autoping=True,
                max_msg_size=16 << 20,
            )
        except aiohttp.WSServerHandshakeError as exc:
            refused = f"{self.url}: upgrade refused: {exc.message}"
            raise error_for_code(exc.status, refused) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Unavailable(f"cannot connect to {self.url}: {exc}") from None
        try:
            if use_identity:
                if await self._await_restore(ws):
                    return ws
            await self._register_on(ws)
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _receive(
        self, ws: aiohttp.ClientWebSocketResponse, deadline: float
    ) -> signaling_pb2.SignalingEnvelope:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise error_for_code(504, "signaling handshake timed out")
        try:
            msg = await ws.receive(timeout=remaining)
        except TimeoutError:
            raise error_for_code(504, "signaling handshake timed out") from None
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise Unavailable(f"signaling connection closed during handshake ({msg.type.name})")
        return decode_envelope(msg.data)

    async def _await_restore(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """True if the server restored our registration; False if we must register."""
        env = await self._receive(ws, time.monotonic() + self.connect_timeout)
        err = error_from_reply(env)
        if err is not None:
            if err.code in (401, 403):
                log.info("server did not restore %s (%d %s); registering again",
                         self._actor_id, err.code, err.message)
                return False
            raise err
        ok = self._register_ok(env)
        if ok is None:
            raise ProtocolError(f"unexpected first message {env.WhichOneof('flow')}")
        self._adopt(ok, env)
        return True

    async def _register_on(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        req = actr_pb2.RegisterRequest(
            actr_type=self.actr_type.to_proto(), realm=actr_pb2.Realm(realm_id=self.realm)
        )
        if self.service_spec is not None:
            req.service_spec.CopyFrom(self.service_spec)
        if self.acl is not None:
            req.acl.CopyFrom(self.acl)
        if self.ws_address is not None:
            req.ws_address = self.ws_address
        env = make_envelope(peer_to_server=signaling_pb2.PeerToSignaling(register_request=req))
        await ws.send_bytes(env.SerializeToString())
        deadline = time.monotonic() + self.connect_timeout
        while True:
            reply = await self._receive(ws, deadline)
            if reply.reply_for == env.envelope_id:
                break
        err = error_from_reply(reply)
        if err is not None:
            raise err
        ok = self._register_ok(reply)
        if ok is None:
            raise ProtocolError("register reply carries no RegisterOk")
        self._adopt(ok, reply)

    @staticmethod
    def _register_ok(
        env: signaling_pb2.SignalingEnvelope,
    ) -> actr_pb2.RegisterResponse.RegisterOk | None:
        if env.WhichOneof("flow") != "server_to_actr":
            return None
        out = env.server_to_actr
        if out.WhichOneof("payload") != "register_response":
            return None
        if out.register_response.WhichOneof("result") != "success":
            return None
        return out.register_response.success

    def _adopt(
        self, ok: actr_pb2.RegisterResponse.RegisterOk, env: signaling_pb2.SignalingEnvelope
    ) -> None:
        """Take the id and credential of a RegisterOk (registration, restore or renewal)."""
        new_id = ActorId.from_proto(ok.actr_id)
        changed = self._actor_id is None or not same_actor(new_id, self._actor_id)
        self._actor_id = new_id
        self._credential = actr_pb2.AIdCredential()
        self._credential.CopyFrom(ok.credential)
        if ok.HasField("psk"):
            self._psk = bytes(ok.psk)
        elif changed:
            self._psk = None
        self._heartbeat_interval = float(ok.signaling_heartbeat_interval_secs or 30)
        self._renew_at = None
        lifetime: float | None = None
        try:
            claims, _, _ = decode_token(bytes(ok.credential.encrypted_token))
            lifetime = claims.lifetime
        except ActrError:
            # Not our token format: fall back on the server's clock in the envelope.
            sent = timestamp_seconds(env)
            if ok.HasField("credential_expires_at") and sent is not None:
                expires = ok.credential_expires_at.seconds + ok.credential_expires_at.nanos / 1e9
                lifetime = expires - sent
        if lifetime is not None and lifetime > 0:
            self._renew_at = time.monotonic() + lifetime * self.renew_fraction
        if changed:
            self._emit("registered", new_id)

    def _attach(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._connected.set()
        self._emit("connected")
        if self._subscriptions:
            task = asyncio.create_task(self._resubscribe(), name="signaling-resubscribe")
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    async def _resubscribe(self) -> None:
        for actr_type in list(self._subscriptions):
            try:
                await self.request(
                    actr_pb2.SubscribeActrUpRequest(target_type=actr_type.to_proto())
                )
            except ActrError as exc:
                log.warning("re-subscribing to %s failed: %s", actr_type, exc)

    async def _supervise(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            exc = await self._run_connection(ws)
            self._connected.clear()
            self._ws = None
            self._pending.fail_all(Unavailable("signaling connection lost"))
            if self._closing:
                return
            log.info("signaling connection lost: %s", exc)
            self._emit("disconnected", exc)
            reconnected = await self._reconnect()
            if reconnected is None:
                return
            ws = reconnected
            self._attach(ws)

    async def _reconnect(self) -> aiohttp.ClientWebSocketResponse | None:
        while not self._closing:
            await asyncio.sleep(self._backoff.next_delay())
            try:
                ws = await self._open(use_identity=not self._force_register)
            except ActrError as exc:
                log.info("reconnect to %s failed: %s", self.url, exc)
                continue
            self._force_register = False
            self._backoff.reset()
            return ws
        return None

    async def _run_connection(self, ws: aiohttp.ClientWebSocketResponse) -> BaseException | None:
        """Read, heartbeat and renew until the socket ends; returns why it ended."""
        helpers = [
            asyncio.create_task(self._heartbeat(ws), name="signaling-heartbeat"),
            asyncio.create_task(self._renewal(ws), name="signaling-renewal"),
        ]
        try:
            return await self._read(ws)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.wait(helpers)
            if not ws.closed:
                await ws.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> BaseException | None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self._dispatch(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return Unavailable(f"signaling connection failed: {ws.exception()}")
        if self._closing:
            return None
        return Unavailable(f"signaling connection closed (code {ws.close_code})")

    def _dispatch(self, data: bytes) -> None:
        try:
            env = decode_envelope(data)
        except ActrError as exc:
            log.warning("undecodable frame from signaling server: %s", exc)
            return
        if env.reply_for and self._pending.resolve(env.reply_for, env):
            return
        flow = env.WhichOneof("flow")
        if flow == "actr_relay":
            self._emit("relay", env.actr_relay)
        elif flow == "server_to_actr":
            kind = env.server_to_actr.WhichOneof("payload")
            if kind == "actr_up_event":
                self._emit("actr_up", ActorId.from_proto(env.server_to_actr.actr_up_event.actor_id))
            else:
                err = error_from_reply(env)
                log.info("unsolicited %s from signaling server%s", kind,
                         f": {err!r}" if err is not None else "")
        elif flow == "envelope_error":
            err = error_from_reply(env)
            log.info("signaling server error for %s: %r", env.reply_for or "-", err)

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            availability, power, backlog = self._current_load()
            ping = actr_pb2.Ping(
                availability=availability, power_reserve=power, mailbox_backlog=backlog
            )
            env = make_envelope(actr_to_server=self._actr_to_server("ping", ping))
            # Three intervals is when the server would evict us anyway.
            deadline = time.monotonic() + 3 * self._heartbeat_interval
            try:
                await self._exchange(ws, env, deadline)
            except Unauthorized as exc:
                log.warning("heartbeat refused (%s); registering again", exc)
                self._force_register = True
                await ws.close()
                return
            except ActrError as exc:
                if exc.code == 504:
                    log.warning("no pong within %.1fs; reconnecting", 3 * self._heartbeat_interval)
                    await ws.close()
                    return
                if exc.code == 503:
                    return
                log.info("heartbeat error: %r", exc)

    async def _renewal(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while self._renew_at is not None:
            await asyncio.sleep(max(0.0, self._renew_at - time.monotonic()))
            assert self._actor_id is not None
            req = actr_pb2.CredentialUpdateRequest(actr_id=self._actor_id.to_proto())
            env = make_envelope(
                actr_to_server=self._actr_to_server("credential_update_request", req)
            )
            try:
                reply = await self._exchange(ws, env, time.monotonic() + self.request_timeout)
                self._adopt(_unwrap(reply, "credential_update_request"), reply)
            except Unauthorized as exc:
                log.warning("credential renewal refused (%s); registering again", exc)
                self._force_register = True
                await ws.close()
                return
            except ActrError as exc:
                if exc.code == 503:
                    return
                log.warning("credential renewal failed (%r); retrying", exc)
                self._renew_at = time.monotonic() + min(5.0, self._heartbeat_interval)

    def _current_load(self) -> tuple[int, float, float]:
        if self._load is None:
            return (actr_pb2.FULL, 1.0, 0.0)
        try:
            availability, power, backlog = self._load()
            return int(availability), float(power), float(backlog)
        except Exception:
            log.exception("load provider failed; reporting defaults")
            return (actr_pb2.FULL, 1.0, 0.0)

    # ---- internals: callbacks ---------------------------------------------------

    def _emit(self, name: str, *args: Any) -> None:
        if self._callbacks.get(name) is not None:
            self._events.put_nowait((name, args))

    async def _event_worker(self) -> None:
        while True:
            name, args = await self._events.get()
            try:
                callback = self._callbacks[name]
                assert callback is not None
                result = callback(*args)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("signaling callback on_%s failed", name)
            finally:
                self._events.task_done()

