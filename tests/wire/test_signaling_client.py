"""SignalingClient: its pure parts, and its behaviour against the real server process."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time

import pytest
from aiohttp import web

from actr_py.credential import credential_to_query, decode_token
from actr_py.errors import (
    DeadlineExceeded,
    Forbidden,
    NotFound,
    ProtocolError,
    StateError,
    Unauthorized,
    Unavailable,
)
from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2, signaling_pb2, webrtc_pb2
from actr_py.wire.signaling import Backoff, Correlator, SignalingClient
from actr_py.wire.signaling.envelope import decode_envelope, error_from_reply, make_envelope
from signaling_server.__main__ import main as server_cli
from tests.signaling_server._raw import RawPeer
from tests.support.signaling import signaling_server, signaling_server_sync

ECHO = ActrTypeName("acme", "echo")


async def eventually(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Recorder:
    """Collects every callback, in order, to check what the node was told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def kw(self) -> dict:
        return {
            "on_connected": lambda: self.events.append(("connected",)),
            "on_disconnected": lambda exc: self.events.append(("disconnected", exc)),
            "on_registered": lambda aid: self.events.append(("registered", aid)),
        }

    def count(self, name: str) -> int:
        return sum(1 for e in self.events if e[0] == name)


# ---- pure parts -----------------------------------------------------------------


def test_backoff_doubles_to_the_cap_and_resets():
    b = Backoff(1.0, 60.0, rand=lambda: 0.0)
    assert [b.next_delay() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    b.reset()
    assert b.next_delay() == 1


def test_backoff_jitter_only_shortens_within_bounds():
    b = Backoff(1.0, 60.0, jitter=0.5, rand=lambda: 1.0)
    assert [b.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    values = iter([0.0, 0.5, 0.999])
    b = Backoff(2.0, 8.0, jitter=0.5, rand=lambda: next(values))
    assert b.next_delay() == 2.0 and b.next_delay() == 3.0
    assert b.next_delay() == pytest.approx(8 * (1 - 0.4995))
    for bad in [dict(base=0), dict(base=2, maximum=1), dict(jitter=1.0)]:
        with pytest.raises(ValueError):
            Backoff(**bad)


def test_backoff_survives_many_failures():
    b = Backoff(1.0, 60.0, rand=lambda: 0.0)
    for _ in range(5000):
        assert b.next_delay() <= 60.0


async def test_correlator_matches_replies_to_their_requests():
    c: Correlator[str] = Correlator()
    fa, fb = c.expect("a"), c.expect("b")
    with pytest.raises(StateError):
        c.expect("a")
    assert not c.resolve("zzz", "stray")
    assert c.resolve("b", "for b")
    assert not c.resolve("b", "twice")
    assert await c.wait("b", fb, 1) == "for b"
    assert not fa.done() and "a" in c
    assert c.fail_all(Unavailable("gone")) == 1
    with pytest.raises(Unavailable):
        await fa
    assert len(c) == 0


async def test_correlator_timeout_is_504_and_forgets_the_request():
    c: Correlator[str] = Correlator()
    fut = c.expect("slow")
    with pytest.raises(DeadlineExceeded) as info:
        await c.wait("slow", fut, 0.01)
    assert info.value.code == 504 and "slow" not in c
    assert not c.resolve("slow", "late")


def test_decode_refuses_what_upb_would_let_through():
    good = make_envelope(actr_to_server=signaling_pb2.ActrToSignaling(
        source=ActorId(1, 5, ECHO).to_proto(),
        credential=actr_pb2.AIdCredential(encrypted_token=b"\xff\xfe", token_key_id=1),
        discovery_request=actr_pb2.DiscoveryRequest(manufacturer="acme")))
    data = good.SerializeToString()
    assert decode_envelope(data) == good  # binary token bytes are fine
    # The same bytes with "acme" turned into invalid UTF-8 deep inside.
    with pytest.raises(ProtocolError, match="manufacturer is not valid UTF-8"):
        decode_envelope(data.replace(b"acme", b"ac\xffe"))
    with pytest.raises(ProtocolError, match="required"):
        decode_envelope(signaling_pb2.SignalingEnvelope(envelope_id="x").SerializePartialToString())
    with pytest.raises(ProtocolError, match="envelope_version 2"):
        decode_envelope(signaling_pb2.SignalingEnvelope(
            envelope_version=2, envelope_id="x", envelope_error={"code": 1, "message": ""}
        ).SerializeToString())
    with pytest.raises(ProtocolError, match="no flow"):
        decode_envelope(signaling_pb2.SignalingEnvelope(envelope_version=1, envelope_id="x")
                        .SerializeToString())
    with pytest.raises(ProtocolError, match="undecodable"):
        decode_envelope(b"\xff\xff\xff")


def test_errors_are_read_from_all_three_reply_shapes():
    err = actr_pb2.ErrorResponse(code=404, message="gone")
    target = ActorId(1, 5, ECHO).to_proto()
    shapes = [
        make_envelope(envelope_error=err),
        make_envelope(server_to_actr=signaling_pb2.SignalingToActr(target=target, error=err)),
        make_envelope(server_to_actr=signaling_pb2.SignalingToActr(
            target=target, get_endpoint_response=actr_pb2.GetEndpointResponse(error=err))),
    ]
    for env in shapes:
        exc = error_from_reply(env)
        assert isinstance(exc, NotFound) and exc.message == "gone"
    ok = make_envelope(server_to_actr=signaling_pb2.SignalingToActr(
        target=target, pong=actr_pb2.Pong(seq=1)))
    assert error_from_reply(ok) is None


# ---- against the real server ----------------------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with signaling_server_sync(tmp_path_factory.mktemp("sig")) as srv:
        yield srv


async def test_start_raises_the_servers_refusal_and_cleans_up(shared):
    c = SignalingClient(shared.url, ECHO, realm=424242)
    with pytest.raises(Forbidden, match="realm 424242"):
        await c.start()
    assert not c.connected and c.actor_id is None
    with pytest.raises(StateError):
        await c.start()


async def test_start_raises_unavailable_when_nothing_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = SignalingClient(f"ws://127.0.0.1:{port}/signaling/ws", ECHO, 1)
    with pytest.raises(Unavailable, match="cannot connect"):
        await c.start()


async def test_start_times_out_against_a_server_that_never_answers():
    async def mute(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/signaling/ws", mute)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        c = SignalingClient(f"ws://127.0.0.1:{port}/signaling/ws", ECHO, 1, connect_timeout=0.3)
        with pytest.raises(DeadlineExceeded):
            await c.start()
    finally:
        await runner.cleanup()


async def test_misuse_is_reported_before_anything_is_sent(shared):
    c = SignalingClient(shared.url, ECHO, 1)
    with pytest.raises(StateError):
        await c.request(actr_pb2.DiscoveryRequest())
    await c.start()
    try:
        with pytest.raises(TypeError):
            await c.request(actr_pb2.Realm(realm_id=1))
        with pytest.raises(TypeError):
            await c.relay(c.actor_id, actr_pb2.RoleAssignment(is_offerer=True))
    finally:
        await c.close()
    with pytest.raises(StateError):
        await c.wait_connected(1)


async def test_callbacks_run_in_order_sync_or_async(shared):
    rec = Recorder()
    relays: list = []

    async def slow_relay(relay):
        await asyncio.sleep(0.05)
        relays.append(relay.ice_candidate.candidate)

    a = SignalingClient(shared.url, ECHO, 1, **rec.kw())
    b = SignalingClient(shared.url, ECHO, 1, on_relay=slow_relay)
    await a.start()
    await b.start()
    try:
        for i in range(5):
            await a.relay(b.actor_id, webrtc_pb2.IceCandidate(candidate=f"c{i}"))
        await eventually(lambda: len(relays) == 5, what="relays")
        assert relays == [f"c{i}" for i in range(5)]
    finally:
        await a.close()
        await b.close()
    assert [e[0] for e in rec.events] == ["registered", "connected", "disconnected"]
    assert rec.events[0][1] == a.actor_id and rec.events[2][1] is None


async def test_peer_credentials_verify_locally(shared):
    a = SignalingClient(shared.url, ECHO, 1)
    b = SignalingClient(shared.url, ECHO, 1)
    await a.start()
    await b.start()
    try:
        assert a.verifier is not None
        claims = await a.verify_peer(b.credential, b.actor_id)
        assert claims.actor_id == b.actor_id
        with pytest.raises(Unauthorized):
            await a.verify_peer(b.credential, a.actor_id)
    finally:
        await a.close()
        await b.close()


async def test_credential_is_renewed_without_reconnecting(tmp_path):
    config = {"credential_ttl_secs": 3, "heartbeat_interval_secs": 1}
    async with signaling_server(tmp_path, config=config) as srv:
        rec = Recorder()
        c = SignalingClient(srv.url, ECHO, 1, **rec.kw())
        await c.start()
        # A raw peer that keeps pinging with its first credential, never renewing.
        stale = await RawPeer.connect(srv.url)
        try:
            await stale.register(ECHO)
            expires = decode_token(bytes(stale.credential.encrypted_token))[0].expires_at
            first = c.credential
            first_id = c.actor_id
            await eventually(lambda: c.credential != first, what="renewal")
            assert c.actor_id == first_id
            # Past the stale credential's expiry the server refuses it...
            while True:
                err = await stale.error_of(stale.ping())
                if err is not None:
                    break
                assert time.time() < expires + 2, "expired credential still accepted"
                await asyncio.sleep(0.2)
            assert err.code == 401 and "expired" in err.message
            assert time.time() >= expires - 0.5
            # ... while the renewing client, past its first expiry too, keeps working.
            first_expiry = decode_token(bytes(first.encrypted_token))[0].expires_at
            await eventually(lambda: time.time() > first_expiry + 0.2, what="first expiry")
            assert await c.route_candidates(ECHO, 5) == [(stale.actor_id, None)]
            assert rec.count("connected") == 1 and rec.count("disconnected") == 0
            assert "actr_signaling_connections_total 2" in srv.metrics_text()
        finally:
            await c.close()
            await stale.close()


async def test_server_restart_is_transparent(tmp_path):
    async with signaling_server(tmp_path) as srv:
        ups: asyncio.Queue = asyncio.Queue()
        ra, rb = Recorder(), Recorder()
        a = SignalingClient(srv.url, ECHO, 1, backoff_base=0.05, backoff_max=0.5,
                            on_actr_up=ups.put_nowait, **ra.kw())
        b = SignalingClient(srv.url, ECHO, 1, backoff_base=0.05, backoff_max=0.5, **rb.kw())
        await a.start()
        await b.start()
        try:
            await a.subscribe_actr_up(ECHO)
            ids = (a.actor_id, b.actor_id)
            await srv.restart()
            await eventually(lambda: ra.count("connected") == 2 and rb.count("connected") == 2,
                             what="both reconnected")
            assert (a.actor_id, b.actor_id) == ids
            assert ra.count("registered") == 1 and rb.count("registered") == 1
            assert await a.route_candidates(ECHO, 5) == [(b.actor_id, None)]
            assignment = await a.relay(b.actor_id, actr_pb2.RoleNegotiation())
            assert assignment.is_offerer is (a.actor_id.serial < b.actor_id.serial)
            # The presence subscription came back with the reconnect.
            newcomer = SignalingClient(srv.url, ECHO, 1)
            await newcomer.start()
            try:
                up = await asyncio.wait_for(ups.get(), 10)
                while up != newcomer.actor_id:  # b's restore may be announced first
                    up = await asyncio.wait_for(ups.get(), 10)
            finally:
                await newcomer.close()
            assert "actr_signaling_restores_total 2" in srv.metrics_text()
        finally:
            await a.close()
            await b.close()


async def test_requests_wait_for_the_connection_and_fail_typed_meanwhile(tmp_path):
    async with signaling_server(tmp_path) as srv:
        rec = Recorder()
        c = SignalingClient(srv.url, ECHO, 1, backoff_base=0.05, backoff_max=0.2,
                            request_timeout=0.3, **rec.kw())
        await c.start()
        try:
            await srv.kill()
            await eventually(lambda: rec.count("disconnected") == 1, what="disconnect")
            assert not c.connected
            assert isinstance(rec.events[-1][1], Unavailable)
            with pytest.raises(DeadlineExceeded):
                await c.discover(limit=1)
            with pytest.raises(DeadlineExceeded):
                await c.wait_connected(0.1)
            await srv.start()
            await c.wait_connected(15)
            assert [e.actr_type.name for e in await c.discover()] == ["echo"]
        finally:
            await c.close()


async def test_registers_again_when_the_server_forgot_it(tmp_path):
    async with signaling_server(tmp_path) as srv:
        rec = Recorder()
        c = SignalingClient(srv.url, ECHO, 1, backoff_base=0.05, backoff_max=0.2, **rec.kw())
        await c.start()
        try:
            old = c.actor_id
            old_query = {"actor_id": str(old), **credential_to_query(c.credential)}
            await srv.kill()
            db = sqlite3.connect(srv.db_path)
            db.execute("DELETE FROM registrations")
            db.commit()
            db.close()
            await srv.start()
            await eventually(lambda: rec.count("registered") == 2, what="re-registration")
            assert c.actor_id != old and c.actor_id.serial > old.serial
            assert rec.events[-2:] == [("registered", c.actor_id), ("connected",)] or (
                rec.events[-1] == ("registered", c.actor_id))
            assert await c.discover()
            # The old identity is refused on the reconnect path: 401, must register.
            async with await RawPeer.connect(srv.url, **old_query) as raw:
                first = await raw.recv()
                assert first.envelope_error.code == 401
        finally:
            await c.close()


async def test_verifier_picks_up_a_rotated_signing_key(tmp_path):
    async with signaling_server(tmp_path) as srv:
        a = SignalingClient(srv.url, ECHO, 1, backoff_base=0.05, backoff_max=0.2)
        await a.start()
        try:
            assert a.verifier.key_ids == {1}
            await srv.kill()
            assert server_cli(["key", "rotate", "--db", str(srv.db_path)]) == 0
            await srv.start()
            b = SignalingClient(srv.url, ECHO, 1)
            await b.start()
            try:
                assert b.credential.token_key_id == 2
                claims = await a.verify_peer(b.credential, b.actor_id)
                assert claims.actor_id == b.actor_id and a.verifier.key_ids == {1, 2}
                # a itself was restored with its key-1 token and got a key-2 one.
                await a.wait_connected(15)
                assert a.credential.token_key_id == 2
            finally:
                await b.close()
        finally:
            await a.close()


async def test_get_endpoint_and_presence_helpers(shared):
    t = ActrTypeName("helpers", "svc")
    ups: list[ActorId] = []
    a = SignalingClient(shared.url, t, 1, on_actr_up=ups.append,
                        ws_address="ws://127.0.0.1:1234/lane")
    await a.start()
    await a.subscribe_actr_up(t)
    b = SignalingClient(shared.url, t, 1, load=lambda: (0, 0.5, 2.0))
    await b.start()
    try:
        assert await b.get_endpoint(a.actor_id) == "ws://127.0.0.1:1234/lane"
        await eventually(lambda: ups == [b.actor_id], what="actr up")
        assert await b.route_candidates(t, 3) == [(a.actor_id, "ws://127.0.0.1:1234/lane")]
    finally:
        await a.unregister("test over")
        await b.close()
    assert not a.connected
