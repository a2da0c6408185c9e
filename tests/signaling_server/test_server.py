"""The real server process, real WebSockets on 127.0.0.1: protocol, checks and limits.

One server for the module (heartbeat 30 s, so nothing here is evicted by
accident); every test uses its own actor types so tests cannot see each other.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from actr_py.credential import (
    CredentialIssuer,
    CredentialVerifier,
    credential_to_query,
    generate_private_key,
)
from actr_py.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)
from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2, signaling_pb2, webrtc_pb2
from actr_py.wire.signaling import SignalingClient
from actr_py.wire.signaling.envelope import error_from_reply, make_envelope
from tests.signaling_server._raw import RawPeer, server_issuer
from tests.support.signaling import signaling_server, signaling_server_sync

pytestmark = pytest.mark.slow

F = actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria
ALLOW, DENY = actr_pb2.AclRule.ALLOW, actr_pb2.AclRule.DENY
_TYPES = itertools.count(1)
_ROOT = Path(__file__).resolve().parents[2]


def fresh(name: str) -> ActrTypeName:
    """A type no other test uses (the server is shared by the module)."""
    return ActrTypeName(f"m{next(_TYPES)}", name)


def allow(*types: ActrTypeName, permission: int = ALLOW) -> actr_pb2.Acl:
    principals = [actr_pb2.AclRule.Principal(actr_type=t.to_proto()) for t in types]
    return actr_pb2.Acl(rules=[actr_pb2.AclRule(permission=permission, principals=principals)])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = {
        "realms": [101, 102],
        "heartbeat_interval_secs": 30,
        "message_rate": 20,
        "message_burst": 40,
        "connection_rate": 1000,
        "connection_burst": 1000,
    }
    with signaling_server_sync(tmp_path_factory.mktemp("signaling"), config=config) as srv:
        yield srv


@pytest.fixture
async def client(server):
    made: list[SignalingClient] = []

    async def make(actr_type: ActrTypeName, realm: int = 1, **kw) -> SignalingClient:
        c = SignalingClient(server.url, actr_type, realm, **kw)
        await c.start()
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


@pytest.fixture
async def raw(server):
    made: list[RawPeer] = []

    async def make(**query: str) -> RawPeer:
        peer = await RawPeer.connect(server.url, **query)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()


async def set_load(c: SignalingClient, power: float, backlog: float, availability: int = 0):
    await c.request(
        actr_pb2.Ping(availability=availability, power_reserve=power, mailbox_backlog=backlog)
    )


# ---- registration ---------------------------------------------------------------


async def test_register_issues_distinct_ids_and_credentials_peers_can_verify(server, client):
    t = fresh("echo")
    a, b = await client(t), await client(t)
    assert a.actor_id.serial != b.actor_id.serial
    assert a.actor_id.type == t and a.actor_id.realm == 1
    async with aiohttp.ClientSession() as http:
        async with http.get(server.http_url + "/credential-keys") as resp:
            verifier = CredentialVerifier.from_json(await resp.json())
    claims = verifier.verify(b.credential, b.actor_id, time.time())
    assert claims.actor_id == b.actor_id
    assert claims.lifetime == pytest.approx(3600)
    with pytest.raises(Unauthorized):
        verifier.verify(b.credential, a.actor_id, time.time())
    assert a.heartbeat_interval == 30


async def test_unknown_realm_is_refused_and_provisioned_realms_accepted(server, client):
    with pytest.raises(Forbidden, match="realm 999 does not exist"):
        await client(fresh("x"), realm=999)
    assert (await client(fresh("x"), realm=101)).actor_id.realm == 101


async def test_realm_added_by_the_cli_is_usable_without_restart(server, client):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling_server", "realm", "add", "777",
        "--db", str(server.db_path), stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0 and b"realm 777 added" in out
    assert (await client(fresh("x"), realm=777)).actor_id.realm == 777


async def test_invalid_registrations_get_400(raw):
    peer = await raw()
    for t in (ActrTypeName("ok", "x"),):
        with pytest.raises(BadRequest, match="ws_address"):
            await peer.register(t, ws_address="http://example")
    bad_type = actr_pb2.ActrType(manufacturer="bad space", name="x")
    env = make_envelope(peer_to_server=signaling_pb2.PeerToSignaling(
        register_request=actr_pb2.RegisterRequest(actr_type=bad_type,
                                                  realm=actr_pb2.Realm(realm_id=1))))
    err = await peer.error_of(env)
    assert err.code == 400 and "may only hold" in err.message
    # The socket is still fine for a correct registration.
    assert (await peer.register(fresh("x"))).actr_id.serial_number > 0


async def test_health_and_metrics(server, client):
    await client(fresh("m"))
    health = server.health()
    assert health["status"] == "ok" and health["actors"] >= 1 and health["connections"] >= 1
    text = server.metrics_text()
    for name in ("actr_signaling_connections ", "actr_signaling_registered_actors ",
                 'actr_signaling_messages_total{kind="register_request"}',
                 "actr_signaling_registrations_total "):
        assert name in text


# ---- discovery ------------------------------------------------------------------


async def test_route_candidates_rank_by_reported_load(client):
    t = fresh("worker")
    caller = await client(fresh("caller"))
    workers = [
        await client(t, acl=allow(caller.actor_id.type), ws_address=f"ws://127.0.0.1:{9000 + i}/x")
        for i in range(4)
    ]
    loads = [(0.5, 3.0), (0.9, 5.0), (0.9, 1.0), (0.1, 0.0)]
    for w, (power, backlog) in zip(workers, loads, strict=True):
        await set_load(w, power, backlog)
    ids = [w.actor_id for w in workers]

    def order(result):
        return [ids.index(aid) for aid, _ in result]

    assert order(await caller.route_candidates(t, 4, ranking=(F.MAXIMUM_POWER_RESERVE,))) == [
        1, 2, 0, 3]
    assert order(await caller.route_candidates(t, 4, ranking=(F.MINIMUM_MAILBOX_BACKLOG,))) == [
        3, 2, 0, 1]
    best = await caller.route_candidates(t, 2)  # default: power, then backlog
    assert order(best) == [2, 1]
    # The endpoints travel with the candidates, in the same order.
    assert [addr for _, addr in best] == ["ws://127.0.0.1:9002/x", "ws://127.0.0.1:9001/x"]
    # A worker asking for its own type does not get itself back.
    own = await workers[0].route_candidates(t, 10)
    assert ids[0] not in [aid for aid, _ in own] and len(own) == 3


async def test_route_candidates_skip_unavailable_and_honour_health_floor(client):
    t = fresh("worker")
    caller = await client(t)
    ok, overloaded, down = await client(t), await client(t), await client(t)
    await set_load(overloaded, 1.0, 0.0, availability=actr_pb2.OVERLOADED)
    await set_load(down, 1.0, 0.0, availability=actr_pb2.UNAVAILABLE)
    got = {aid for aid, _ in await caller.route_candidates(t, 10)}
    assert got == {ok.actor_id, overloaded.actor_id}
    criteria = F(candidate_count=10, minimal_health_requirement=actr_pb2.FULL)
    reply = await caller.request(actr_pb2.RouteCandidatesRequest(
        target_type=t.to_proto(), criteria=criteria, client_fingerprint=""))
    assert [ActorId.from_proto(c) for c in reply.candidates] == [ok.actor_id]


async def test_route_candidates_report_fingerprint_matches(client):
    t = fresh("svc")
    spec_v1 = actr_pb2.ServiceSpec(name=f"{t}.Svc", fingerprint="v1")
    caller = await client(t)
    await client(t, service_spec=spec_v1)
    reply = await caller.request(actr_pb2.RouteCandidatesRequest(
        target_type=t.to_proto(), criteria=F(candidate_count=5), client_fingerprint="v1"))
    assert reply.has_exact_match and reply.compatibility_info[0].candidate_fingerprint == "v1"


async def test_discovery_lists_visible_types_with_filters(client):
    me = fresh("me")
    maker = me.manufacturer
    seen = ActrTypeName(maker, "seen")
    hidden = ActrTypeName(maker, "hidden")
    spec = actr_pb2.ServiceSpec(name="x.Seen", fingerprint="fp", description="d", tags=["a"])
    asker = await client(me)
    await client(seen, acl=allow(me), service_spec=spec)
    await client(hidden)  # default ACL: only its own type may see it
    entries = await asker.discover(manufacturer=maker)
    by_name = {(e.actr_type.manufacturer, e.actr_type.name): e for e in entries}
    assert set(by_name) == {(maker, "me"), (maker, "seen")}
    assert by_name[(maker, "seen")].name == "x.Seen"
    assert by_name[(maker, "seen")].service_fingerprint == "fp"
    assert list(by_name[(maker, "seen")].tags) == ["a"]
    assert len(await asker.discover(manufacturer=maker, limit=1)) == 1
    assert await asker.discover(manufacturer="nobody-makes-this") == []


async def test_get_endpoint_and_get_service_spec(client):
    t = fresh("svc")
    spec = actr_pb2.ServiceSpec(name=f"{t}.Svc", fingerprint="fp1",
                                protobufs=[actr_pb2.ServiceSpec.Protobuf(
                                    package="p", content="syntax='proto3';", fingerprint="f")])
    with_addr = await client(t, ws_address="ws://127.0.0.1:9999/lane", service_spec=spec)
    without = await client(t)
    asker = await client(t)
    assert await asker.get_endpoint(with_addr.actor_id) == "ws://127.0.0.1:9999/lane"
    assert await asker.get_endpoint(without.actor_id) is None
    gone = ActorId(1, 2**40, t)
    with pytest.raises(NotFound):
        await asker.get_endpoint(gone)
    with pytest.raises(Forbidden):
        await asker.get_endpoint(ActorId(101, with_addr.actor_id.serial, t))
    assert await asker.get_service_spec(f"{t}.Svc") == spec
    with pytest.raises(NotFound):
        await asker.get_service_spec("no.such.Service")


# ---- access control -------------------------------------------------------------


async def test_acl_denial_is_403_everywhere(client):
    caller_t, target_t = fresh("caller"), fresh("target")
    caller = await client(caller_t)
    target = await client(target_t)  # default ACL: other types denied
    with pytest.raises(Forbidden):
        await caller.relay(target.actor_id, actr_pb2.RoleNegotiation())
    with pytest.raises(Forbidden):
        await caller.get_endpoint(target.actor_id)
    assert await caller.route_candidates(target_t, 5) == []
    # An explicit DENY beats the same-type default.
    twin_blocker = await client(target_t, acl=allow(target_t, permission=DENY))
    with pytest.raises(Forbidden):
        await target.relay(twin_blocker.actor_id, actr_pb2.RoleNegotiation())


async def test_relay_is_delivered_and_answers_flow_back(client):
    caller_t, callee_t = fresh("caller"), fresh("callee")
    inbox_a: asyncio.Queue = asyncio.Queue()
    inbox_b: asyncio.Queue = asyncio.Queue()
    a = await client(caller_t, on_relay=inbox_a.put_nowait)
    # Only the callee's ACL lists the caller; the caller's own ACL does not list the callee.
    b = await client(callee_t, acl=allow(caller_t), on_relay=inbox_b.put)
    ice = webrtc_pb2.IceCandidate(candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                                  sdp_mid="0")
    assert await a.relay(b.actor_id, ice) is None
    got = await asyncio.wait_for(inbox_b.get(), 10)
    assert got.ice_candidate == ice
    assert ActorId.from_proto(got.source) == a.actor_id
    assert ActorId.from_proto(got.target) == b.actor_id
    # The server never hands one node's credential to another.
    assert got.credential.encrypted_token == b""
    answer = webrtc_pb2.SessionDescription(type=webrtc_pb2.SessionDescription.ANSWER, sdp="v=0")
    await b.relay(a.actor_id, answer)
    back = await asyncio.wait_for(inbox_a.get(), 10)
    assert back.session_description == answer
    assert ActorId.from_proto(back.source) == b.actor_id


async def test_relay_to_unknown_target_is_404_and_self_relay_400(raw):
    peer = await raw()
    await peer.register(fresh("x"))
    ghost = ActorId(1, 2**50, peer.actor_id.type).to_proto()
    ice = webrtc_pb2.IceCandidate(candidate="c")
    err = await peer.error_of(peer.relay(ghost, ice_candidate=ice))
    assert err.code == 404
    err = await peer.error_of(peer.relay(peer.actor_pb,
                                         ice_candidate=webrtc_pb2.IceCandidate(candidate="c")))
    assert err.code == 400


async def test_role_negotiation_answers_both_peers_with_opposite_roles(client):
    t = fresh("peer")
    first_inbox: asyncio.Queue = asyncio.Queue()
    second_inbox: asyncio.Queue = asyncio.Queue()
    first = await client(t, on_relay=first_inbox.put_nowait)
    second = await client(t, on_relay=second_inbox.put_nowait)
    mine = await second.relay(first.actor_id, actr_pb2.RoleNegotiation())
    theirs = await asyncio.wait_for(first_inbox.get(), 10)
    assert theirs.WhichOneof("payload") == "role_assignment"
    assert ActorId.from_proto(theirs.source) == second.actor_id
    assert ActorId.from_proto(theirs.target) == first.actor_id
    # The smaller (realm, serial, ...) offers: the first registered peer.
    assert theirs.role_assignment.is_offerer is True
    assert mine.is_offerer is False
    # Deterministic whichever side asks.
    again = await first.relay(second.actor_id, actr_pb2.RoleNegotiation())
    assert again.is_offerer is True
    echoed = await asyncio.wait_for(second_inbox.get(), 10)
    assert echoed.role_assignment.is_offerer is False
    assert second_inbox.empty() and first_inbox.empty()


async def test_role_negotiation_must_name_the_real_parties(raw, client):
    t = fresh("peer")
    other = await client(t)
    peer = await raw()
    await peer.register(t)
    wrong = actr_pb2.RoleNegotiation(to=other.actor_id.to_proto(), realm_id=1)
    getattr(wrong, "from").CopyFrom(other.actor_id.to_proto())  # claims to be the other side
    err = await peer.error_of(peer.relay(other.actor_id.to_proto(), role_negotiation=wrong))
    assert err.code == 400
    forged = peer.relay(other.actor_id.to_proto(),
                        role_assignment=actr_pb2.RoleAssignment(is_offerer=True))
    assert (await peer.error_of(forged)).code == 400


# ---- credentials ----------------------------------------------------------------


async def test_forged_and_foreign_credentials_are_401_and_the_socket_survives(raw):
    peer = await raw()
    await peer.register(fresh("x"))
    token = bytearray(peer.credential.encrypted_token)
    token[-1] ^= 0x01
    forged = actr_pb2.AIdCredential(encrypted_token=bytes(token),
                                    token_key_id=peer.credential.token_key_id)
    reply = await peer.request(peer.actr(credential=forged, ping=actr_pb2.Ping(
        availability=0, power_reserve=1, mailbox_backlog=0)))
    assert reply.WhichOneof("flow") == "envelope_error"
    assert reply.envelope_error.code == 401 and "signature" in reply.envelope_error.message
    foreign = CredentialIssuer(generate_private_key(), peer.credential.token_key_id, 60)
    err = await peer.error_of(peer.actr(credential=foreign.issue(peer.actor_id, time.time())
                                        .credential, ping=actr_pb2.Ping(
                                            availability=0, power_reserve=1, mailbox_backlog=0)))
    assert err.code == 401
    unknown_key = CredentialIssuer(generate_private_key(), 99, 60)
    err = await peer.error_of(peer.actr(credential=unknown_key.issue(peer.actor_id, time.time())
                                        .credential, ping=actr_pb2.Ping(
                                            availability=0, power_reserve=1, mailbox_backlog=0)))
    assert err.code == 401 and "unknown key id 99" in err.message
    assert await peer.error_of(peer.ping()) is None


async def test_expired_credential_is_401(server, raw):
    peer = await raw()
    await peer.register(fresh("x"))
    issuer = server_issuer(server.db_path, ttl=30)
    expired = issuer.issue(peer.actor_id, time.time() - 31).credential
    err = await peer.error_of(peer.actr(credential=expired, ping=actr_pb2.Ping(
        availability=0, power_reserve=1, mailbox_backlog=0)))
    assert err.code == 401 and "expired" in err.message
    # A genuinely signed, fresh credential for the same actor is accepted.
    fresh_cred = issuer.issue(peer.actor_id, time.time()).credential
    assert await peer.error_of(peer.actr(credential=fresh_cred, ping=actr_pb2.Ping(
        availability=0, power_reserve=1, mailbox_backlog=0))) is None


async def test_source_spoofing_is_refused(raw, client):
    t = fresh("x")
    inbox: asyncio.Queue = asyncio.Queue()
    victim = await client(t, on_relay=inbox.put_nowait)
    bystander = await client(t)
    attacker = await raw()
    await attacker.register(t)
    # Own credential, someone else's id as source.
    err = await attacker.error_of(attacker.actr(source=victim.actor_id.to_proto(),
                                                discovery_request=actr_pb2.DiscoveryRequest()))
    assert err.code == 401 and "belongs to" in err.message
    spoofed = attacker.relay(bystander.actor_id.to_proto(), source=victim.actor_id.to_proto(),
                             ice_candidate=webrtc_pb2.IceCandidate(candidate="evil"))
    assert (await attacker.error_of(spoofed)).code == 401
    # A valid credential of another actor does not work on this socket either.
    issuer_cred = victim.credential
    err = await attacker.error_of(attacker.actr(source=victim.actor_id.to_proto(),
                                                credential=issuer_cred,
                                                discovery_request=actr_pb2.DiscoveryRequest()))
    assert err.code == 401 and "not registered on this connection" in err.message
    assert inbox.empty()


async def test_credential_for_another_realm_is_403_and_cross_realm_relay_403(server, raw, client):
    t = fresh("x")
    in_101 = await client(t, realm=101)
    peer = await raw()
    await peer.register(t, realm=1)
    claimed = ActorId(101, peer.actor_id.serial, t).to_proto()
    err = await peer.error_of(peer.actr(source=claimed,
                                        discovery_request=actr_pb2.DiscoveryRequest()))
    assert err.code == 403 and "realm" in err.message
    err = await peer.error_of(peer.relay(in_101.actor_id.to_proto(),
                                         ice_candidate=webrtc_pb2.IceCandidate(candidate="c")))
    assert err.code == 403 and "another realm" in err.message
    mine = await client(t, realm=1)
    with pytest.raises(Forbidden):
        await mine.relay(in_101.actor_id, actr_pb2.RoleNegotiation())
    assert await mine.route_candidates(t, 10) == [(peer.actor_id, None)]


async def test_unregister_removes_the_actor_and_its_restore_token(server, client, raw):
    t = fresh("x")
    asker = await client(t)
    leaving = await client(t)
    aid, cred = leaving.actor_id, leaving.credential
    assert [a for a, _ in await asker.route_candidates(t, 5)] == [aid]
    psk = base64.urlsafe_b64encode(leaving._psk).rstrip(b"=").decode()
    await leaving.unregister("done")
    assert await asker.route_candidates(t, 5) == []
    peer = await raw(actor_id=str(aid), psk=psk, **credential_to_query(cred))
    first = await peer.recv()
    assert first.WhichOneof("flow") == "envelope_error" and first.envelope_error.code == 401


async def test_a_token_alone_cannot_take_over_an_identity(raw, client):
    """Peers see each other's credentials (lane handshakes): restoring needs the psk too."""
    t = fresh("x")
    owner = await raw()
    ok = await owner.register(t)
    assert len(ok.psk) == 32
    query = {"actor_id": str(owner.actor_id), **credential_to_query(owner.credential)}
    for extra in ({}, {"psk": "AAAA"}, {"psk": "!!not base64!!"}):
        thief = await raw(**query, **extra)
        first = await thief.recv()
        assert first.envelope_error.code == 401 and "secret" in first.envelope_error.message
    assert await owner.error_of(owner.ping()) is None  # untouched
    # With the secret (the owner itself, reconnecting) the identity moves sockets.
    psk = base64.urlsafe_b64encode(ok.psk).rstrip(b"=").decode()
    again = await raw(**query, psk=psk)
    restored = (await again.recv()).server_to_actr.register_response.success
    assert ActorId.from_proto(restored.actr_id) == owner.actor_id
    assert restored.credential != owner.credential
    assert await owner.recv_close() == 4001
    again.adopt(restored)
    assert await again.error_of(again.ping()) is None
    asker = await client(t)
    assert await asker.route_candidates(t, 5) == [(owner.actor_id, None)]


# ---- limits and bad input -------------------------------------------------------


async def test_oversized_frame_is_413_and_the_connection_stays_usable(raw):
    peer = await raw()
    await peer.register(fresh("x"))
    big = actr_pb2.Ping(availability=0, power_reserve=1, mailbox_backlog=0,
                        sticky_client_ids=["x" * 1024] * 1100)
    env = peer.actr(ping=big)
    assert len(env.SerializeToString()) > 1 << 20
    reply = await peer.request(env)
    assert reply.WhichOneof("flow") == "envelope_error" and reply.envelope_error.code == 413
    with pytest.raises(PayloadTooLarge):
        raise error_from_reply(reply)
    assert await peer.error_of(peer.ping()) is None


async def test_frame_above_the_hard_cap_closes_only_that_socket(tmp_path):
    config = {"max_frame_bytes": 4096, "hard_max_frame_bytes": 65536}
    async with signaling_server(tmp_path, config=config) as srv:
        async with await RawPeer.connect(srv.url) as victim, \
                await RawPeer.connect(srv.url) as bystander:
            await bystander.register(fresh("x"))
            await victim.send(b"\x00" * 70_000)
            assert await victim.recv_close() == 1009
            assert await bystander.error_of(bystander.ping()) is None
            assert srv.health()["status"] == "ok"


async def test_message_flood_is_answered_429_and_the_connection_stays_usable(raw):
    peer = await raw()
    await peer.register(fresh("x"))
    envs = [peer.ping() for _ in range(200)]
    for env in envs:
        await peer.send(env)
    errors: dict[str, object] = {}
    for _ in envs:
        reply = await peer.recv()
        errors[reply.reply_for] = error_from_reply(reply)
    assert set(errors) == {e.envelope_id for e in envs}  # every one answered exactly once
    ok = sum(1 for e in errors.values() if e is None)
    limited = sum(1 for e in errors.values() if isinstance(e, RateLimited))
    assert ok + limited == 200
    # Burst 40 (one spent on registering) then 20/s: most of the rest are refused.
    assert 39 <= ok < 120 and limited > 80
    await asyncio.sleep(0.2)  # a few tokens come back
    assert await peer.error_of(peer.ping()) is None


async def test_garbage_and_text_frames_get_400_and_others_are_unaffected(raw, client):
    t = fresh("x")
    good = await client(t)
    other = await client(t)
    peer = await raw()
    await peer.send(b"\xff\x00garbage")
    assert (await peer.recv()).envelope_error.code == 400
    await peer.ws.send_str("hello")
    assert (await peer.recv()).envelope_error.code == 400
    incomplete = make_envelope(actr_to_server=signaling_pb2.ActrToSignaling())
    reply = await peer.request(incomplete)
    assert reply.envelope_error.code == 400 and "required" in reply.envelope_error.message
    unregistered = make_envelope(actr_to_server=signaling_pb2.ActrToSignaling(
        source=good.actor_id.to_proto(), credential=good.credential,
        discovery_request=actr_pb2.DiscoveryRequest()))
    assert (await peer.error_of(unregistered)).code == 401
    assert [a for a, _ in await good.route_candidates(t, 5)] == [other.actor_id]


async def test_connection_rate_limit_per_ip(tmp_path):
    config = {"connection_rate": 0.2, "connection_burst": 3}
    async with signaling_server(tmp_path, config=config) as srv:
        peers = [await RawPeer.connect(srv.url) for _ in range(3)]
        try:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await RawPeer.connect(srv.url)
            assert info.value.status == 429
            c = SignalingClient(srv.url, fresh("x"), 1)
            with pytest.raises(RateLimited):
                await c.start()
            assert srv.health()["status"] == "ok"  # plain HTTP is not limited
            # The sockets that got in keep working.
            assert (await peers[0].register(fresh("x"))).actr_id.serial_number > 0
            assert 'actr_signaling_rejected_upgrades_total 2' in srv.metrics_text()
        finally:
            for p in peers:
                await p.close()


# ---- presence and process death ------------------------------------------------


async def test_presence_events_for_subscribed_types_only(client):
    t, other_t = fresh("svc"), fresh("other")
    ups: asyncio.Queue = asyncio.Queue()
    watcher = await client(t, on_actr_up=ups.put_nowait)
    await watcher.subscribe_actr_up(t)
    await watcher.subscribe_actr_up(other_t)
    await client(t, acl=allow(t, permission=DENY))  # hides itself from its own type
    await client(ActrTypeName(t.manufacturer, "unwatched"))
    newcomer = await client(t)
    assert await asyncio.wait_for(ups.get(), 10) == newcomer.actor_id
    await watcher.unsubscribe_actr_up(t)
    await client(t)
    # Nothing else arrived: the DENY-ing actor, the unwatched type and the one after
    # unsubscribing were not announced (a marker event proves the queue is drained).
    marker = await client(other_t, acl=allow(t))
    assert await asyncio.wait_for(ups.get(), 10) == marker.actor_id
    assert ups.empty()


_CHILD = """
import asyncio, sys
from actr_py.ids import ActrTypeName
from actr_py.wire.signaling import SignalingClient

async def main():
    c = SignalingClient(sys.argv[1], ActrTypeName.parse(sys.argv[2]), 1)
    await c.start()
    print(c.actor_id, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_killed_client_process_disappears_from_route_candidates(client):
    t = fresh("doomed")
    asker = await client(t)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, asker.url, str(t),
        stdout=asyncio.subprocess.PIPE, cwd=_ROOT, env={**os.environ, "PYTHONPATH": str(_ROOT)},
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        child = ActorId.parse(line.decode().strip())
        assert [a for a, _ in await asker.route_candidates(t, 5)] == [child]
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        # Heartbeat is 30 s here, so only the socket closing can explain a quick removal.
        deadline = time.monotonic() + 10
        while await asker.route_candidates(t, 5):
            assert time.monotonic() < deadline, "killed node still offered"
            await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_placement_requests_have_their_own_budget(client):
    """A host creating many actors at once is not refused by the message rate
    (20/s, burst 40 on this server), while ordinary messages still are."""
    host = await client(ActrTypeName("acme", "host"))
    storage = f"storage-{os.getpid()}"
    await host.request(actr_pb2.ActorPlacementRequest(
        op=actr_pb2.ActorPlacementRequest.ANNOUNCE, storage_id=storage))
    placed = await asyncio.gather(
        *(host.claim_key("Counter", f"k{i}", storage, create=True) for i in range(120)),
        return_exceptions=True,
    )
    refused = [p for p in placed if isinstance(p, BaseException)]
    assert not refused, refused[:3]
    assert all(owner == host.actor_id for owner, _ in placed)
    found = await asyncio.gather(
        *(host.discover() for _ in range(120)), return_exceptions=True
    )
    assert any(isinstance(f, RateLimited) for f in found)
