"""The signaling protocol: what the server does with each envelope.

Independent of aiohttp: it sees :class:`~signaling_server.connection.Connection`
objects and raw frames. Every failure becomes an error reply carrying an actr
code and ``reply_for``; nothing a peer sends can take the server down.

Error replies come in three shapes, so each reaches the right place:

* before the sender is authenticated (undecodable, too large, rate limited,
  bad credential): ``SignalingEnvelope.envelope_error``;
* a request that has a typed response (discovery, route candidates, ...):
  the response's own ``error`` member, in ``SignalingToActr``;
* anything else from an authenticated actor (ping, relay): ``SignalingToActr.error``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from actr_py.credential import (
    CredentialIssuer,
    CredentialVerifier,
    credential_from_query,
    private_key_from_bytes,
    public_key_bytes,
    same_actor,
)
from actr_py.errors import (
    ActrError,
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2, signaling_pb2
from actr_py.wire.signaling.envelope import decode_envelope, make_envelope

from .acl import AccessPolicy, may_discover, may_relay
from .config import ServerConfig
from .connection import Connection
from .metrics import Metrics
from .placement import PlacementService
from .ratelimit import KeyedRateLimiter, TokenBucket
from .registry import Registry, Session, type_key
from .store import RegistrationRow, Store

__all__ = ["DEV_REALM", "SignalingService"]

log = logging.getLogger("signaling_server")

DEV_REALM = 1
_MAX_NAME = 128
_MAX_ADDRESS = 1024
#: Relays the server originates (RoleAssignment) and relays it forwards carry no
#: credential: a bearer token handed to a peer would let that peer act as its owner.
_NO_CREDENTIAL = actr_pb2.AIdCredential(encrypted_token=b"", token_key_id=0)

_RESPONSES: dict[str, tuple[str, Any]] = {
    "unregister_request": ("unregister_response", actr_pb2.UnregisterResponse),
    "credential_update_request": ("register_response", actr_pb2.RegisterResponse),
    "discovery_request": ("discovery_response", actr_pb2.DiscoveryResponse),
    "route_candidates_request": ("route_candidates_response", actr_pb2.RouteCandidatesResponse),
    "get_service_spec_request": ("get_service_spec_response", actr_pb2.GetServiceSpecResponse),
    "subscribe_actr_up_request": (
        "subscribe_actr_up_response",
        actr_pb2.SubscribeActrUpResponse,
    ),
    "unsubscribe_actr_up_request": (
        "unsubscribe_actr_up_response",
        actr_pb2.UnsubscribeActrUpResponse,
    ),
    "get_endpoint_request": ("get_endpoint_response", actr_pb2.GetEndpointResponse),
    "actor_placement_request": ("actor_placement_response", actr_pb2.ActorPlacementResponse),
}


_Handler = Callable[[Connection, Session, signaling_pb2.SignalingEnvelope, Any], Awaitable[None]]


def _order_key(aid: ActorId) -> tuple[int, int, str, str]:
    return (aid.realm, aid.serial, aid.type.manufacturer, aid.type.name)


def _peek_envelope_id(data: bytes) -> str | None:
    """Best effort, for correlating a refusal of a frame we will not process."""
    env = signaling_pb2.SignalingEnvelope()
    try:
        env.ParseFromString(data)
    except Exception:
        return None
    envelope_id = env.envelope_id
    # Invalid UTF-8 comes back as bytes: such an id cannot be echoed.
    return envelope_id if isinstance(envelope_id, str) and envelope_id else None


def _b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return b""


def _check_type(msg: actr_pb2.ActrType) -> ActrTypeName:
    actr_type = ActrTypeName(msg.manufacturer, msg.name, msg.version)
    if max(len(msg.manufacturer), len(msg.name), len(msg.version)) > _MAX_NAME:
        raise BadRequest(f"actor type parts are limited to {_MAX_NAME} characters")
    return actr_type


class SignalingService:
    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.wall = wall
        self.mono = mono
        keys = store.ensure_signing_key()
        active = keys[-1]
        self.issuer = CredentialIssuer(
            private_key_from_bytes(active.private_key), active.key_id, config.credential_ttl_secs
        )
        self.verifier = CredentialVerifier(
            {k.key_id: public_key_bytes(private_key_from_bytes(k.private_key)) for k in keys}
        )
        self.registry = Registry()
        self.placement = PlacementService(self)
        self.metrics = Metrics()
        self.connection_limiter = KeyedRateLimiter(config.connection_rate, config.connection_burst)
        self.connections: set[Connection] = set()
        self.started_at = mono()
        self._spec_fingerprints: dict[tuple[int, str], str] = {}
        self._policies: dict[bytes, AccessPolicy] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._actr_handlers: dict[str, _Handler] = {
            "ping": self._on_ping,
            "credential_update_request": self._on_credential_update,
            "unregister_request": self._on_unregister,
            "discovery_request": self._on_discovery,
            "route_candidates_request": self._on_route_candidates,
            "get_service_spec_request": self._on_get_service_spec,
            "subscribe_actr_up_request": self._on_subscribe,
            "unsubscribe_actr_up_request": self._on_unsubscribe,
            "get_endpoint_request": self._on_get_endpoint,
            "actor_placement_request": self.placement.handle,
            "error": self._on_actor_error,
        }

    # ---- connections ----------------------------------------------------------

    def realm_exists(self, realm: int) -> bool:
        if realm == DEV_REALM and self.config.dev_realm:
            return True
        return realm in self.config.realms or self.store.realm_exists(realm)

    def allow_connection(self, remote: str) -> bool:
        """The per-IP upgrade rate limit; False means answer HTTP 429."""
        if self.connection_limiter.allow(remote, self.mono()):
            return True
        self.metrics.rejected_upgrades += 1
        return False

    def open_connection(self, ws: Any, remote: str) -> Connection:
        bucket = TokenBucket(self.config.message_rate, self.config.message_burst, self.mono())
        conn = Connection(ws, remote, bucket, self.config.outbound_queue)
        conn.placement_bucket = TokenBucket(
            self.config.placement_rate, self.config.placement_burst, self.mono()
        )
        conn.start()
        self.connections.add(conn)
        self.metrics.connections_total += 1
        return conn

    def connection_lost(self, conn: Connection) -> None:
        """A socket is gone: its actor is unregistered at once (its row stays for restore)."""
        self.connections.discard(conn)
        session = conn.session
        conn.session = None
        if session is not None and self.registry.get(session.actor_id.serial) is session:
            self.registry.remove(session.actor_id.serial)
            log.info("%s disconnected", session.actor_id)

    def sweep(self) -> int:
        """Evict actors silent for ``heartbeat_miss_limit`` intervals; returns how many."""
        limit = self.config.heartbeat_interval_secs * self.config.heartbeat_miss_limit
        now = self.mono()
        stale = [s for s in self.registry.sessions() if now - s.last_seen > limit]
        for session in stale:
            self.registry.remove(session.actor_id.serial)
            self.placement.node_gone(session)
            session.conn.session = None
            self.metrics.evictions_total += 1
            silent = now - session.last_seen
            log.info("%s evicted: no heartbeat for %.1fs", session.actor_id, silent)
            self._spawn(session.conn.close(4000, "heartbeat timeout"))
        return len(stale)

    def purge(self) -> int:
        return self.store.purge_expired_registrations(self.wall())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- frames -----------------------------------------------------------------

    async def handle_frame(self, conn: Connection, data: bytes) -> None:
        """Process one binary frame; always answers failures, never raises."""
        reply_for: str | None = None
        try:
            if len(data) > self.config.max_frame_bytes:
                reply_for = _peek_envelope_id(data)
                raise PayloadTooLarge(
                    f"frame of {len(data)} bytes exceeds max_frame_bytes "
                    f"{self.config.max_frame_bytes}"
                )
            if not conn.bucket.try_take(self.mono()):
                reply_for = _peek_envelope_id(data)
                raise RateLimited(
                    f"more than {self.config.message_rate:g} messages/s on this connection"
                )
            try:
                env = decode_envelope(data)
            except ActrError:
                self.metrics.messages["invalid"] += 1
                reply_for = _peek_envelope_id(data)
                raise
            reply_for = env.envelope_id
            flow = env.WhichOneof("flow")
            if (
                flow == "actr_to_server"
                and env.actr_to_server.WhichOneof("payload") == "actor_placement_request"
            ):
                # A host creating many actors at once should not starve its heartbeat
                # and discovery: placement draws on its own, larger budget.
                conn.bucket.refund()
                assert conn.placement_bucket is not None
                if not conn.placement_bucket.try_take(self.mono()):
                    raise RateLimited(
                        f"more than {self.config.placement_rate:g} placement requests/s"
                    )
            if flow == "peer_to_server":
                await self._on_peer(conn, env)
            elif flow == "actr_to_server":
                await self._on_actr(conn, env)
            elif flow == "actr_relay":
                await self._on_relay(conn, env)
            else:
                self.metrics.messages[str(flow)] += 1
                raise BadRequest(f"{flow} is not accepted from peers")
        except ActrError as exc:
            await self._send_envelope_error(conn, reply_for, exc)
        except Exception:
            log.exception("internal error on connection %d", conn.id)
            try:
                await self._send_envelope_error(
                    conn, reply_for, ActrError("internal server error", code=500)
                )
            except Exception:
                log.exception("could not even report it on connection %d", conn.id)

    async def reject(self, conn: Connection, exc: ActrError) -> None:
        """Refuse something that is not an envelope (a text frame)."""
        if conn.bucket.try_take(self.mono()):
            await self._send_envelope_error(conn, None, exc)

    async def _send(self, conn: Connection, env: signaling_pb2.SignalingEnvelope) -> None:
        await conn.send(env.SerializeToString())

    async def _send_envelope_error(
        self, conn: Connection, reply_for: str | None, exc: ActrError
    ) -> None:
        self._count_error(exc)
        err = actr_pb2.ErrorResponse(code=exc.code, message=exc.message or str(exc))
        await self._send(conn, make_envelope(reply_for=reply_for, envelope_error=err))

    async def _send_actor_error(
        self,
        conn: Connection,
        reply_for: str,
        target: actr_pb2.ActrId,
        exc: ActrError,
        kind: str | None = None,
    ) -> None:
        self._count_error(exc)
        err = actr_pb2.ErrorResponse(code=exc.code, message=exc.message or str(exc))
        out = signaling_pb2.SignalingToActr(target=target)
        if kind in _RESPONSES:
            field, cls = _RESPONSES[kind]
            getattr(out, field).CopyFrom(cls(error=err))
        else:
            out.error.CopyFrom(err)
        await self._send(conn, make_envelope(reply_for=reply_for, server_to_actr=out))

    def _count_error(self, exc: ActrError) -> None:
        self.metrics.errors[exc.code] += 1
        if exc.code >= 500:
            log.warning("error %d: %s", exc.code, exc.message)
        else:
            log.debug("refused %d: %s", exc.code, exc.message)

    async def _reply(
        self, conn: Connection, env: signaling_pb2.SignalingEnvelope, target: Any, **payload: Any
    ) -> None:
        out = signaling_pb2.SignalingToActr(target=target, **payload)
        await self._send(conn, make_envelope(reply_for=env.envelope_id, server_to_actr=out))

    # ---- registration -----------------------------------------------------------

    async def _on_peer(self, conn: Connection, env: signaling_pb2.SignalingEnvelope) -> None:
        kind = env.peer_to_server.WhichOneof("payload")
        self.metrics.messages[str(kind)] += 1
        if kind != "register_request":
            raise BadRequest("PeerToSignaling carries no register_request")
        req = env.peer_to_server.register_request
        try:
            session, ok = self._register(conn, req)
        except ActrError as exc:
            self._count_error(exc)
            err = actr_pb2.ErrorResponse(code=exc.code, message=exc.message or str(exc))
            # SignalingToActr requires a target; the would-be actor has no serial yet.
            placeholder = actr_pb2.ActrId(realm=req.realm, serial_number=0, type=req.actr_type)
            await self._reply(
                conn, env, placeholder, register_response=actr_pb2.RegisterResponse(error=err)
            )
            return
        await self._reply(
            conn, env, ok.actr_id, register_response=actr_pb2.RegisterResponse(success=ok)
        )
        self._announce(session)

    def _register(
        self, conn: Connection, req: actr_pb2.RegisterRequest
    ) -> tuple[Session, actr_pb2.RegisterResponse.RegisterOk]:
        actr_type = _check_type(req.actr_type)
        realm = req.realm.realm_id
        if not self.realm_exists(realm):
            raise Forbidden(f"realm {realm} does not exist")
        ws_address = req.ws_address if req.HasField("ws_address") else None
        if ws_address is not None and (
            not ws_address.startswith(("ws://", "wss://")) or len(ws_address) > _MAX_ADDRESS
        ):
            raise BadRequest(f"ws_address {ws_address[:64]!r} is not a ws:// or wss:// URL")
        acl = actr_pb2.Acl() if req.HasField("acl") else None
        if acl is not None:
            acl.CopyFrom(req.acl)
        spec = actr_pb2.ServiceSpec() if req.HasField("service_spec") else None
        if spec is not None:
            spec.CopyFrom(req.service_spec)
            if not spec.name:
                raise BadRequest("service_spec.name is empty")
        if conn.session is not None:
            # A second registration on one socket replaces the first.
            self._drop(conn.session, forget=True)
        aid = ActorId(realm, self.store.next_serial(), actr_type)
        issued = self.issuer.issue(aid, self.wall())
        # The reconnect secret: unlike the credential it never leaves the node (peers
        # see credentials in lane handshakes), so a peer cannot restore this identity.
        psk = os.urandom(32)
        self.store.save_registration(
            RegistrationRow(
                aid, acl, spec, ws_address, issued.claims.expires_at, hashlib.sha256(psk).digest()
            )
        )
        if spec is not None:
            key = (realm, spec.name)
            if self._spec_fingerprints.get(key) != spec.fingerprint:
                self.store.save_service_spec(realm, spec)
                self._spec_fingerprints[key] = spec.fingerprint
        session = Session(
            actor_id=aid,
            conn=conn,
            policy=self._policy(acl),
            acl=acl,
            service_spec=spec,
            ws_address=ws_address,
            expires_at=issued.claims.expires_at,
            last_seen=self.mono(),
        )
        self.registry.add(session)
        conn.session = session
        self.metrics.registrations_total += 1
        log.info("%s registered from %s", aid, conn.remote)
        ok = self._register_ok(aid, issued.credential, issued.claims.expires_at)
        ok.psk = psk
        return session, ok

    def _register_ok(
        self, aid: ActorId, credential: actr_pb2.AIdCredential, expires_at: float
    ) -> actr_pb2.RegisterResponse.RegisterOk:
        ok = actr_pb2.RegisterResponse.RegisterOk(
            actr_id=aid.to_proto(),
            credential=credential,
            signaling_heartbeat_interval_secs=self.config.heartbeat_interval_secs,
        )
        ok.credential_expires_at.seconds = int(expires_at)
        ok.credential_expires_at.nanos = int((expires_at - int(expires_at)) * 1e9)
        return ok

    def _policy(self, acl: actr_pb2.Acl | None) -> AccessPolicy:
        """Compile an ACL, sharing one object among identical ACLs (see route candidates)."""
        raw = b"" if acl is None else acl.SerializeToString(deterministic=True)
        policy = self._policies.get(raw)
        if policy is None:
            if len(self._policies) >= 4096:
                self._policies.clear()
            policy = self._policies[raw] = AccessPolicy.from_proto(acl)
        return policy

    def _drop(self, session: Session, *, forget: bool) -> None:
        if self.registry.get(session.actor_id.serial) is session:
            self.registry.remove(session.actor_id.serial)
        if session.conn.session is session:
            session.conn.session = None
        if forget:
            self.store.delete_registration(session.actor_id.serial)
            self.placement.node_gone(session)

    async def restore(self, conn: Connection, query: Mapping[str, str]) -> None:
        """Reconnect with identity (``?actor_id=&token=&token_key_id=&psk=``).

        ``psk`` (base64url) is the secret from the node's RegisterOk: the token
        alone does not restore a registration, since peers get to see tokens.
        On success the node gets an unsolicited RegisterResponse with its old
        ActorId and a fresh credential; otherwise an ``envelope_error`` (401, or
        403 if its realm is gone) and it must register on this same socket.
        """
        self.metrics.messages["restore"] += 1
        try:
            try:
                aid = ActorId.parse(query.get("actor_id", ""))
            except ActrError as exc:
                raise Unauthorized(f"actor_id query parameter: {exc.message}") from None
            cred = credential_from_query(query.get("token", ""), query.get("token_key_id", ""))
            self.verifier.verify(cred, aid, self.wall())
            if not self.realm_exists(aid.realm):
                raise Forbidden(f"realm {aid.realm} does not exist")
            row = self.store.load_registration(aid.serial)
            if row is None or not same_actor(row.actor_id, aid):
                raise Unauthorized(f"{aid} is not registered (any more); register again")
            if row.psk_hash is not None and not hmac.compare_digest(
                hashlib.sha256(_b64url(query.get("psk", ""))).digest(), row.psk_hash
            ):
                raise Unauthorized(f"reconnect secret for {aid} is missing or wrong")
        except ActrError as exc:
            if exc.code not in (401, 403):
                exc = Unauthorized(exc.message)
            await self._send_envelope_error(conn, None, exc)
            return
        old = self.registry.get(aid.serial)
        if old is not None:
            # The node came back before its old socket was noticed dead: take over.
            self._drop(old, forget=False)
            if old.conn is not conn:
                self._spawn(old.conn.close(4001, "replaced by a newer connection"))
        if conn.session is not None:
            self._drop(conn.session, forget=True)
        issued = self.issuer.issue(row.actor_id, self.wall())
        self.store.renew_registration(aid.serial, issued.claims.expires_at)
        session = Session(
            actor_id=row.actor_id,
            conn=conn,
            policy=self._policy(row.acl),
            acl=row.acl,
            service_spec=row.service_spec,
            ws_address=row.ws_address,
            expires_at=issued.claims.expires_at,
            last_seen=self.mono(),
        )
        self.registry.add(session)
        conn.session = session
        self.metrics.restores_total += 1
        log.info("%s restored from %s", row.actor_id, conn.remote)
        ok = self._register_ok(row.actor_id, issued.credential, issued.claims.expires_at)
        out = signaling_pb2.SignalingToActr(
            target=ok.actr_id, register_response=actr_pb2.RegisterResponse(success=ok)
        )
        await self._send(conn, make_envelope(server_to_actr=out))
        self._announce(session)

    def _announce(self, session: Session) -> None:
        """ActrUpEvent to every subscriber of the new actor's type that may see it."""
        for sub in self.registry.subscribers(session.key):
            if sub is session or not may_discover(sub.actor_id, session.actor_id, session.policy):
                continue
            out = signaling_pb2.SignalingToActr(
                target=sub.actor_id.to_proto(),
                actr_up_event=actr_pb2.ActrUpEvent(actor_id=session.actor_id.to_proto()),
            )
            sub.conn.offer(make_envelope(server_to_actr=out).SerializeToString())

    # ---- authenticated actor messages -----------------------------------------

    def _authenticate(
        self, conn: Connection, source_pb: actr_pb2.ActrId, credential: actr_pb2.AIdCredential
    ) -> Session:
        source = ActorId.from_proto(source_pb)
        claims = self.verifier.verify(credential, None, self.wall())
        if claims.actor_id.realm != source.realm:
            raise Forbidden(
                f"credential is for realm {claims.actor_id.realm}, message claims realm "
                f"{source.realm}"
            )
        if not same_actor(claims.actor_id, source):
            raise Unauthorized(f"credential belongs to {claims.actor_id}, not {source}")
        session = conn.session
        if session is None or session.actor_id.serial != source.serial:
            raise Unauthorized(f"{source} is not registered on this connection; register again")
        session.last_seen = self.mono()
        return session

    async def _on_actr(self, conn: Connection, env: signaling_pb2.SignalingEnvelope) -> None:
        msg = env.actr_to_server
        kind = msg.WhichOneof("payload")
        self.metrics.messages[str(kind)] += 1
        session = self._authenticate(conn, msg.source, msg.credential)
        try:
            handler = self._actr_handlers.get(str(kind))
            if handler is None:
                raise BadRequest("ActrToSignaling carries no payload")
            await handler(conn, session, env, getattr(msg, str(kind)))
        except ActrError as exc:
            await self._send_actor_error(conn, env.envelope_id, msg.source, exc, kind)

    def _check_self(self, session: Session, aid_pb: actr_pb2.ActrId, what: str) -> None:
        if not same_actor(ActorId.from_proto(aid_pb), session.actor_id):
            raise BadRequest(f"{what} must be the sender itself")

    async def _on_ping(self, conn: Connection, session: Session, env: Any, ping: Any) -> None:
        self.registry.report_load(
            session, ping.availability, ping.power_reserve, ping.mailbox_backlog
        )
        conn.pong_seq += 1
        await self._reply(
            conn, env, env.actr_to_server.source, pong=actr_pb2.Pong(seq=conn.pong_seq)
        )

    async def _on_credential_update(
        self, conn: Connection, session: Session, env: Any, req: Any
    ) -> None:
        self._check_self(session, req.actr_id, "credential_update_request.actr_id")
        issued = self.issuer.issue(session.actor_id, self.wall())
        session.expires_at = issued.claims.expires_at
        self.store.renew_registration(session.actor_id.serial, issued.claims.expires_at)
        ok = self._register_ok(session.actor_id, issued.credential, issued.claims.expires_at)
        await self._reply(
            conn, env, ok.actr_id, register_response=actr_pb2.RegisterResponse(success=ok)
        )

    async def _on_unregister(self, conn: Connection, session: Session, env: Any, req: Any) -> None:
        self._check_self(session, req.actr_id, "unregister_request.actr_id")
        self._drop(session, forget=True)
        log.info("%s unregistered (%s)", session.actor_id, req.reason or "no reason")
        ok = actr_pb2.UnregisterResponse(success=actr_pb2.UnregisterResponse.UnregisterOk())
        await self._reply(conn, env, env.actr_to_server.source, unregister_response=ok)

    async def _on_discovery(self, conn: Connection, session: Session, env: Any, req: Any) -> None:
        source = session.actor_id
        limit = min(req.limit or 64, self.config.max_candidates)
        manufacturer = req.manufacturer if req.HasField("manufacturer") else None
        entries = []
        for key, peers in sorted(self.registry.types_in_realm(source.realm)):
            if len(entries) >= limit:
                break
            if manufacturer is not None and key[1] != manufacturer:
                continue
            visible = next((p for p in peers if may_discover(source, p.actor_id, p.policy)), None)
            if visible is None:
                continue
            spec = visible.service_spec
            entry = actr_pb2.DiscoveryResponse.TypeEntry(
                actr_type=visible.actor_id.type.to_proto(),
                name=spec.name if spec is not None else str(visible.actor_id.type),
                service_fingerprint=visible.fingerprint,
            )
            if spec is not None:
                if spec.HasField("description"):
                    entry.description = spec.description
                if spec.HasField("published_at"):
                    entry.published_at = spec.published_at
                entry.tags.extend(spec.tags)
            entries.append(entry)
        ok = actr_pb2.DiscoveryResponse.DiscoveryOk(entries=entries)
        await self._reply(
            conn, env, env.actr_to_server.source,
            discovery_response=actr_pb2.DiscoveryResponse(success=ok),
        )

    async def _on_route_candidates(
        self, conn: Connection, session: Session, env: Any, req: Any
    ) -> None:
        source = session.actor_id
        wanted = _check_type(req.target_type)
        crit = req.criteria if req.HasField("criteria") else None
        cap = self.config.max_candidates
        count = min(crit.candidate_count or cap, cap) if crit is not None else cap
        if crit is not None and crit.HasField("minimal_health_requirement"):
            worst = crit.minimal_health_requirement
        else:
            worst = actr_pb2.OVERLOADED
        factors = crit.ranking_factors if crit is not None else ()
        # All candidates share realm and type, so only their ACLs differ; identical
        # ACLs share one policy object (see _policy): each is evaluated once here.
        verdicts: dict[int, bool] = {}
        chosen: list[Session] = []
        for s in self.registry.ranked(type_key(source.realm, wanted), factors):
            if s is session or s.availability > worst:
                continue
            admitted = verdicts.get(id(s.policy))
            if admitted is None:
                admitted = verdicts[id(s.policy)] = may_discover(source, s.actor_id, s.policy)
            if admitted:
                chosen.append(s)
                if len(chosen) >= count:
                    break
        ok = actr_pb2.RouteCandidatesResponse.RouteCandidatesOk()
        exact = False
        for s in chosen:
            aid = s.actor_id.to_proto()
            ok.candidates.append(aid)
            is_exact = bool(req.client_fingerprint) and req.client_fingerprint == s.fingerprint
            exact = exact or is_exact
            ok.compatibility_info.append(
                actr_pb2.CandidateCompatibilityInfo(
                    candidate_id=aid, candidate_fingerprint=s.fingerprint, is_exact_match=is_exact
                )
            )
            endpoint = ok.endpoints.add(actr_id=aid)
            if s.ws_address is not None:
                endpoint.ws_address = s.ws_address
        ok.has_exact_match = exact
        ok.is_sub_healthy = bool(chosen) and all(s.availability != actr_pb2.FULL for s in chosen)
        await self._reply(
            conn, env, env.actr_to_server.source,
            route_candidates_response=actr_pb2.RouteCandidatesResponse(success=ok),
        )

    async def _on_get_service_spec(
        self, conn: Connection, session: Session, env: Any, req: Any
    ) -> None:
        spec = self.store.get_service_spec(session.actor_id.realm, req.name)
        if spec is None:
            raise NotFound(f"no service spec named {req.name[:64]!r} in this realm")
        await self._reply(
            conn, env, env.actr_to_server.source,
            get_service_spec_response=actr_pb2.GetServiceSpecResponse(success=spec),
        )

    async def _on_subscribe(self, conn: Connection, session: Session, env: Any, req: Any) -> None:
        wanted = _check_type(req.target_type)
        self.registry.subscribe(session, type_key(session.actor_id.realm, wanted))
        ok = actr_pb2.SubscribeActrUpResponse(
            success=actr_pb2.SubscribeActrUpResponse.SubscribeOk()
        )
        await self._reply(conn, env, env.actr_to_server.source, subscribe_actr_up_response=ok)

    async def _on_unsubscribe(
        self, conn: Connection, session: Session, env: Any, req: Any
    ) -> None:
        wanted = _check_type(req.target_type)
        self.registry.unsubscribe(session, type_key(session.actor_id.realm, wanted))
        ok = actr_pb2.UnsubscribeActrUpResponse(
            success=actr_pb2.UnsubscribeActrUpResponse.UnsubscribeOk()
        )
        await self._reply(conn, env, env.actr_to_server.source, unsubscribe_actr_up_response=ok)

    async def _on_get_endpoint(
        self, conn: Connection, session: Session, env: Any, req: Any
    ) -> None:
        target = self._reachable(session, ActorId.from_proto(req.target))
        endpoint = actr_pb2.CandidateEndpoint(actr_id=target.actor_id.to_proto())
        if target.ws_address is not None:
            endpoint.ws_address = target.ws_address
        await self._reply(
            conn, env, env.actr_to_server.source,
            get_endpoint_response=actr_pb2.GetEndpointResponse(success=endpoint),
        )

    async def _on_actor_error(
        self, conn: Connection, session: Session, env: Any, err: Any
    ) -> None:
        log.info("%s reports error %d: %s", session.actor_id, err.code, err.message[:200])

    def _reachable(self, session: Session, target: ActorId) -> Session:
        """The live session of ``target`` if the relay rules let ``session`` reach it."""
        source = session.actor_id
        if target.realm != source.realm:
            raise Forbidden(f"{target} is in another realm than {source}")
        peer = self.registry.get(target.serial)
        if peer is None or not same_actor(peer.actor_id, target):
            raise NotFound(f"{target} is not registered")
        if not may_relay(source, session.policy, peer.actor_id, peer.policy):
            raise Forbidden(f"the ACLs of {source} and {target} do not admit each other")
        return peer

    # ---- relay ------------------------------------------------------------------

    async def _on_relay(self, conn: Connection, env: signaling_pb2.SignalingEnvelope) -> None:
        relay = env.actr_relay
        kind = relay.WhichOneof("payload")
        self.metrics.messages[f"relay_{kind}"] += 1
        session = self._authenticate(conn, relay.source, relay.credential)
        try:
            await self._relay(conn, session, env, str(kind))
        except ActrError as exc:
            await self._send_actor_error(conn, env.envelope_id, relay.source, exc)

    async def _relay(
        self, conn: Connection, session: Session, env: signaling_pb2.SignalingEnvelope, kind: str
    ) -> None:
        relay = env.actr_relay
        if kind == "None":
            raise BadRequest("relay carries no payload")
        if kind == "role_assignment":
            raise BadRequest("RoleAssignment is issued by the server, not relayed")
        peer = self._reachable(session, ActorId.from_proto(relay.target))
        if peer is session:
            raise BadRequest("relay to oneself")
        source, target = session.actor_id, peer.actor_id
        if kind == "role_negotiation":
            neg = relay.role_negotiation
            if (
                not same_actor(ActorId.from_proto(getattr(neg, "from")), source)
                or not same_actor(ActorId.from_proto(neg.to), target)
                or neg.realm_id != source.realm
            ):
                raise BadRequest("role_negotiation must name the relay's source, target and realm")
            source_offers = _order_key(source) < _order_key(target)
            source_pb, target_pb = source.to_proto(), target.to_proto()
            to_peer = signaling_pb2.ActrRelay(
                source=source_pb,
                credential=_NO_CREDENTIAL,
                target=target_pb,
                role_assignment=actr_pb2.RoleAssignment(is_offerer=not source_offers),
            )
            if not peer.conn.offer(make_envelope(actr_relay=to_peer).SerializeToString()):
                raise Unavailable(f"{target} is not keeping up with its signaling traffic")
            to_source = signaling_pb2.ActrRelay(
                source=target_pb,
                credential=_NO_CREDENTIAL,
                target=source_pb,
                role_assignment=actr_pb2.RoleAssignment(is_offerer=source_offers),
            )
            await self._send(conn, make_envelope(reply_for=env.envelope_id, actr_relay=to_source))
            self.metrics.relays[kind] += 1
            return
        forward = signaling_pb2.SignalingEnvelope()
        forward.CopyFrom(env)
        forward.actr_relay.source.CopyFrom(source.to_proto())
        forward.actr_relay.credential.CopyFrom(_NO_CREDENTIAL)
        if not peer.conn.offer(forward.SerializeToString()):
            raise Unavailable(f"{target} is not keeping up with its signaling traffic")
        self.metrics.relays[kind] += 1
