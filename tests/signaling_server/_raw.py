"""A hand-driven signaling connection for tests that must send what a client never would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from actr_py.credential import CredentialIssuer, private_key_from_bytes
from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2, signaling_pb2
from actr_py.wire.signaling.envelope import decode_envelope, error_from_reply, make_envelope
from signaling_server.store import Store

__all__ = ["RawPeer", "server_issuer"]


def server_issuer(db_path: Path, ttl: float = 60.0) -> CredentialIssuer:
    """An issuer holding the server's own active key, read from its database.

    Lets a test mint tokens the server must accept as genuinely signed (expired
    ones, ones for other actors) without waiting for real time to pass.
    """
    store = Store(db_path)
    try:
        key = store.signing_keys()[-1]
    finally:
        store.close()
    return CredentialIssuer(private_key_from_bytes(key.private_key), key.key_id, ttl)


class RawPeer:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.actor_id: ActorId | None = None
        self.actor_pb: actr_pb2.ActrId | None = None
        self.credential: actr_pb2.AIdCredential | None = None
        #: Frames received while waiting for a specific reply.
        self.unsolicited: list[signaling_pb2.SignalingEnvelope] = []

    @classmethod
    async def connect(cls, url: str, **query: str) -> RawPeer:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url, params=query or None, max_msg_size=64 << 20)
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()

    async def __aenter__(self) -> RawPeer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, env: signaling_pb2.SignalingEnvelope | bytes) -> None:
        data = env if isinstance(env, bytes) else env.SerializePartialToString()
        await self.ws.send_bytes(data)

    async def recv(self, timeout: float = 10.0) -> signaling_pb2.SignalingEnvelope:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise ConnectionError(f"socket ended: {msg.type.name} {msg.data!r}")
        return decode_envelope(msg.data)

    async def recv_close(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes the socket; returns the close code."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING):
                    return self.ws.close_code
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self.unsolicited.append(decode_envelope(msg.data))

    async def request(
        self, env: signaling_pb2.SignalingEnvelope | bytes, *, reply_for: str | None = None,
        timeout: float = 10.0,
    ) -> signaling_pb2.SignalingEnvelope:
        """Send and return the frame whose reply_for names this envelope."""
        if reply_for is None:
            assert not isinstance(env, bytes)
            reply_for = env.envelope_id
        await self.send(env)
        async with asyncio.timeout(timeout):
            while True:
                reply = await self.recv(timeout)
                if reply.reply_for == reply_for:
                    return reply
                self.unsolicited.append(reply)

    async def register(
        self,
        actr_type: ActrTypeName,
        realm: int = 1,
        **fields: Any,
    ) -> actr_pb2.RegisterResponse.RegisterOk:
        req = actr_pb2.RegisterRequest(
            actr_type=actr_type.to_proto(), realm=actr_pb2.Realm(realm_id=realm), **fields
        )
        env = make_envelope(peer_to_server=signaling_pb2.PeerToSignaling(register_request=req))
        reply = await self.request(env)
        err = error_from_reply(reply)
        if err is not None:
            raise err
        ok = reply.server_to_actr.register_response.success
        self.adopt(ok)
        return ok

    def adopt(self, ok: actr_pb2.RegisterResponse.RegisterOk) -> None:
        self.actor_pb = ok.actr_id
        self.actor_id = ActorId.from_proto(ok.actr_id)
        self.credential = ok.credential

    def actr(
        self,
        *,
        source: actr_pb2.ActrId | None = None,
        credential: actr_pb2.AIdCredential | None = None,
        **payload: Any,
    ) -> signaling_pb2.SignalingEnvelope:
        """An ActrToSignaling envelope from this peer (or with the given source/credential)."""
        return make_envelope(
            actr_to_server=signaling_pb2.ActrToSignaling(
                source=source if source is not None else self.actor_pb,
                credential=credential if credential is not None else self.credential,
                **payload,
            )
        )

    def relay(
        self,
        target: actr_pb2.ActrId,
        *,
        source: actr_pb2.ActrId | None = None,
        credential: actr_pb2.AIdCredential | None = None,
        **payload: Any,
    ) -> signaling_pb2.SignalingEnvelope:
        return make_envelope(
            actr_relay=signaling_pb2.ActrRelay(
                source=source if source is not None else self.actor_pb,
                credential=credential if credential is not None else self.credential,
                target=target,
                **payload,
            )
        )

    def ping(self, power: float = 1.0, backlog: float = 0.0, availability: int = 0) -> Any:
        return self.actr(
            ping=actr_pb2.Ping(
                availability=availability, power_reserve=power, mailbox_backlog=backlog
            )
        )

    async def error_of(self, env: signaling_pb2.SignalingEnvelope) -> Any:
        """Send ``env`` and return the error its reply reports (None on success)."""
        return error_from_reply(await self.request(env))
