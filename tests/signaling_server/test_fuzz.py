"""Fuzz the real server from one socket while a well-behaved client keeps being served.

Deterministic: every choice comes from one seeded ``random.Random``. The fuzz
socket sends in batches and drains each batch with a sentinel ping (the server
answers a connection's frames in order), so the identity it builds the next
batch from does not depend on timing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable

import pytest

from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2, signaling_pb2, webrtc_pb2
from actr_py.wire.signaling import SignalingClient
from actr_py.wire.signaling.envelope import error_from_reply, make_envelope
from tests.signaling_server._raw import RawPeer
from tests.support.signaling import signaling_server

pytestmark = pytest.mark.slow

SEED = 20240611
MESSAGES = 5000
BATCH = 50

PROVIDER = ActrTypeName("acme", "provider")
GOOD = ActrTypeName("acme", "good")
FUZZ = ActrTypeName("fuzz", "thing")
ADDRESS = "ws://127.0.0.1:7777/lane"
SPEC = actr_pb2.ServiceSpec(name="acme.Provider", fingerprint="fp-provider", tags=["x"])


def _acl_allowing(*types: ActrTypeName) -> actr_pb2.Acl:
    return actr_pb2.Acl(rules=[actr_pb2.AclRule(
        permission=actr_pb2.AclRule.ALLOW,
        principals=[actr_pb2.AclRule.Principal(actr_type=t.to_proto()) for t in types])])


class Fuzzer:
    def __init__(self, rng: random.Random, peer: RawPeer, provider: ActorId, good: ActorId,
                 stranger_credential: actr_pb2.AIdCredential) -> None:
        self.rng = rng
        self.peer = peer
        self.provider = provider.to_proto()
        self.good = good.to_proto()
        self.stranger_credential = stranger_credential
        self.templates: list[Callable[[], signaling_pb2.SignalingEnvelope]] = [
            self.t_ping, self.t_discovery, self.t_route, self.t_spec, self.t_endpoint,
            self.t_subscribe, self.t_renew, self.t_relay, self.t_register,
        ]

    # ---- helpers --------------------------------------------------------------

    def text(self, limit: int = 24) -> str:
        alphabet = "abcXYZ019.-_+@: \u00e9\u4e2d\U0001f600"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randrange(0, limit)))

    def random_id(self) -> actr_pb2.ActrId:
        """Half well-formed ids (unknown serials, other realms), half nonsense."""
        rng = self.rng
        if rng.random() < 0.5:
            actr_type = rng.choice([PROVIDER, GOOD, FUZZ]).to_proto()
            realm = rng.choice([1, 1, 1, 101])
        else:
            actr_type = actr_pb2.ActrType(manufacturer=self.text(), name=self.text())
            realm = rng.choice([0, 1, 2, 101, 2**32 - 1])
        return actr_pb2.ActrId(
            realm=actr_pb2.Realm(realm_id=realm),
            serial_number=rng.choice([0, 1, rng.randrange(2**64), 2**64 - 1]),
            type=actr_type,
        )

    def me(self) -> actr_pb2.ActrId:
        return self.peer.actor_pb if self.peer.actor_pb is not None else self.random_id()

    def cred(self) -> actr_pb2.AIdCredential:
        if self.peer.credential is not None:
            return self.peer.credential
        return actr_pb2.AIdCredential(encrypted_token=b"", token_key_id=0)

    def actr(self, **payload) -> signaling_pb2.SignalingEnvelope:
        return make_envelope(actr_to_server=signaling_pb2.ActrToSignaling(
            source=self.me(), credential=self.cred(), **payload))

    # ---- valid templates ------------------------------------------------------

    def t_ping(self):
        rng = self.rng
        return self.actr(ping=actr_pb2.Ping(
            availability=rng.randrange(4), power_reserve=rng.choice([0.0, 1.0, float("nan"),
                                                                     float("inf"), -5.0]),
            mailbox_backlog=rng.random() * 100, sticky_client_ids=[self.text()]))

    def t_discovery(self):
        req = actr_pb2.DiscoveryRequest()
        if self.rng.random() < 0.5:
            req.manufacturer = self.rng.choice(["acme", "fuzz", self.text()])
        if self.rng.random() < 0.5:
            req.limit = self.rng.choice([0, 1, 5, 2**32 - 1])
        return self.actr(discovery_request=req)

    def t_route(self):
        rng = self.rng
        F = actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria
        req = actr_pb2.RouteCandidatesRequest(
            target_type=rng.choice([PROVIDER, FUZZ, GOOD]).to_proto(),
            client_fingerprint=rng.choice(["", "fp-provider", self.text()]))
        if rng.random() < 0.8:
            req.criteria.CopyFrom(F(
                candidate_count=rng.choice([0, 1, 3, 2**32 - 1]),
                ranking_factors=[rng.randrange(5) for _ in range(rng.randrange(4))]))
            if rng.random() < 0.3:
                req.criteria.minimal_health_requirement = rng.randrange(4)
        return self.actr(route_candidates_request=req)

    def t_spec(self):
        name = self.rng.choice(["acme.Provider", "nope", self.text(60)])
        return self.actr(get_service_spec_request=actr_pb2.GetServiceSpecRequest(name=name))

    def t_endpoint(self):
        target = self.rng.choice([self.provider, self.good, self.random_id(), self.me()])
        return self.actr(get_endpoint_request=actr_pb2.GetEndpointRequest(target=target))

    def t_subscribe(self):
        t = self.rng.choice([PROVIDER, FUZZ]).to_proto()
        if self.rng.random() < 0.7:
            return self.actr(subscribe_actr_up_request=actr_pb2.SubscribeActrUpRequest(
                target_type=t))
        return self.actr(unsubscribe_actr_up_request=actr_pb2.UnsubscribeActrUpRequest(
            target_type=t))

    def t_renew(self):
        return self.actr(credential_update_request=actr_pb2.CredentialUpdateRequest(
            actr_id=self.me()))

    def t_relay(self):
        rng = self.rng
        choice = rng.randrange(3)
        if choice == 0:
            payload = {"ice_candidate": webrtc_pb2.IceCandidate(candidate=self.text(80),
                                                                 sdp_mline_index=rng.randrange(4))}
        elif choice == 1:
            payload = {"session_description": webrtc_pb2.SessionDescription(
                type=rng.randrange(4), sdp=self.text(200))}
        else:
            neg = actr_pb2.RoleNegotiation(to=self.provider, realm_id=1)
            getattr(neg, "from").CopyFrom(self.me())
            payload = {"role_negotiation": neg}
        target = self.rng.choice([self.provider, self.provider, self.good, self.random_id()])
        return make_envelope(actr_relay=signaling_pb2.ActrRelay(
            source=self.me(), credential=self.cred(), target=target, **payload))

    def t_register(self):
        req = actr_pb2.RegisterRequest(actr_type=FUZZ.to_proto(), realm=actr_pb2.Realm(realm_id=1))
        if self.rng.random() < 0.3:
            req.ws_address = self.rng.choice(["ws://127.0.0.1:1/x", self.text()])
        return make_envelope(peer_to_server=signaling_pb2.PeerToSignaling(register_request=req))

    # ---- the three kinds of abuse --------------------------------------------

    def random_bytes(self) -> bytes:
        size = self.rng.choice([0, 1, 2, 8, 64, 300]) if self.rng.random() > 0.01 else 70_000
        return self.rng.randbytes(size)

    def mutated(self) -> bytes:
        rng = self.rng
        data = bytearray(rng.choice(self.templates)().SerializeToString())
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(5)
            if op == 0 and data:
                for _ in range(rng.randrange(1, 9)):
                    i = rng.randrange(len(data) * 8)
                    data[i // 8] ^= 1 << (i % 8)
            elif op == 1 and data:
                del data[rng.randrange(len(data)):]
            elif op == 2:
                i = rng.randrange(len(data) + 1)
                data[i:i] = rng.randbytes(rng.randrange(1, 16))
            elif op == 3 and data:
                i = rng.randrange(len(data))
                data[i:i] = data[i:i + rng.randrange(1, 32)]
            else:
                other = rng.choice(self.templates)().SerializeToString()
                data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other)):]
        return bytes(data)

    def wrong_fields(self) -> bytes:
        rng = self.rng
        env = rng.choice(self.templates)()
        flow = env.WhichOneof("flow")
        op = rng.randrange(9)
        if op == 0 and flow in ("actr_to_server", "actr_relay"):
            getattr(env, flow).source.CopyFrom(self.random_id())  # spoofed / nonsense source
        elif op == 1 and flow in ("actr_to_server", "actr_relay"):
            getattr(env, flow).credential.CopyFrom(self.stranger_credential)
        elif op == 2 and flow in ("actr_to_server", "actr_relay"):
            getattr(env, flow).credential.token_key_id = rng.randrange(2**32)
        elif op == 3:
            env.envelope_version = rng.choice([0, 2, 2**32 - 1])
        elif op == 4:
            env.ClearField(flow)
        elif op == 5:
            req = actr_pb2.RegisterRequest(
                actr_type=actr_pb2.ActrType(manufacturer=self.text(), name=self.text(),
                                            version=self.text(300)),
                realm=actr_pb2.Realm(realm_id=rng.choice([0, 1, 3, 101, 2**32 - 1])))
            if rng.random() < 0.5:
                req.acl.rules.add(permission=rng.randrange(2)).principals.add().realm.realm_id = 1
            if rng.random() < 0.5:
                req.service_spec.name = rng.choice(["", self.text()])
                req.service_spec.fingerprint = self.text()
            env = make_envelope(peer_to_server=signaling_pb2.PeerToSignaling(register_request=req))
        elif op == 6:
            env = make_envelope(actr_relay=signaling_pb2.ActrRelay(
                source=self.me(), credential=self.cred(), target=self.random_id(),
                role_assignment=actr_pb2.RoleAssignment(is_offerer=True)))
        elif op == 7:
            out = signaling_pb2.SignalingToActr(target=self.me(), pong=actr_pb2.Pong(seq=1))
            env = make_envelope(server_to_actr=out)
        else:
            inner = signaling_pb2.ActrToSignaling(source=self.me(), discovery_request={})
            env = make_envelope(actr_to_server=inner)  # no credential: incomplete
        return env.SerializePartialToString()

    def valid(self) -> bytes:
        """Well-formed and authenticated, with random content: the deep paths."""
        return self.rng.choice(self.templates)().SerializeToString()

    def next_frame(self) -> bytes:
        roll = self.rng.random()
        if roll < 0.15:
            return self.random_bytes()
        if roll < 0.5:
            return self.mutated()
        if roll < 0.8:
            return self.wrong_fields()
        return self.valid()


async def test_fuzzed_socket_does_not_disturb_a_well_behaved_client(tmp_path):
    config = {"message_rate": 1_000_000, "message_burst": 1_000_000,
              "max_frame_bytes": 65536, "connection_rate": 1000, "connection_burst": 1000}
    async with signaling_server(tmp_path, config=config) as srv:
        provider = SignalingClient(srv.url, PROVIDER, 1, service_spec=SPEC,
                                   acl=_acl_allowing(GOOD, FUZZ), ws_address=ADDRESS)
        good = SignalingClient(srv.url, GOOD, 1)
        await provider.start()
        await good.start()
        peer = await RawPeer.connect(srv.url)
        stop = asyncio.Event()
        good_rounds = 0

        async def well_behaved() -> None:
            nonlocal good_rounds
            while not stop.is_set():
                assert await good.route_candidates(PROVIDER, 8) == [(provider.actor_id, ADDRESS)]
                assert await good.get_endpoint(provider.actor_id) == ADDRESS
                assert await good.get_service_spec("acme.Provider") == SPEC
                entries = await good.discover(manufacturer="acme")
                assert {(e.actr_type.name, e.service_fingerprint) for e in entries} >= {
                    ("provider", "fp-provider")}
                good_rounds += 1

        codes: Counter[int] = Counter()
        try:
            await peer.register(FUZZ)
            fuzzer = Fuzzer(random.Random(SEED), peer, provider.actor_id, good.actor_id,
                            good.credential)
            checker = asyncio.create_task(well_behaved())
            started = time.monotonic()
            for _ in range(MESSAGES // BATCH):
                for _ in range(BATCH):
                    await peer.send(fuzzer.next_frame())
                sentinel = fuzzer.t_ping()
                await peer.send(sentinel)
                while True:
                    reply = await peer.recv(timeout=20)
                    err = error_from_reply(reply)
                    codes[0 if err is None else err.code] += 1
                    if reply.WhichOneof("flow") == "server_to_actr" and reply.server_to_actr.\
                            WhichOneof("payload") == "register_response" and err is None:
                        peer.adopt(reply.server_to_actr.register_response.success)
                    if reply.reply_for == sentinel.envelope_id:
                        break
                await asyncio.sleep(0)  # let the well-behaved client in
                assert not checker.done(), checker.exception()
            elapsed = time.monotonic() - started
            stop.set()
            await checker
        finally:
            stop.set()
            await peer.close()
            await provider.close()
            await good.close()

        assert srv.alive, "server process died"
        assert srv.health()["status"] == "ok"
        metrics = srv.metrics_text()
        assert 'actr_signaling_errors_total{code="500"}' not in metrics, metrics
        assert good_rounds >= 5
        # The abuse really reached the interesting refusals, not just the decoder.
        for code in (0, 400, 401, 403, 404, 413):
            assert codes[code] > 0, (code, codes)
        assert sum(codes.values()) >= MESSAGES // 2
        assert elapsed < 30
