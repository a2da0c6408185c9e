"""Connections: events reach every connection (in process, over actr streams, over the
WebSocket gateway), params and auth, per-connection state, reconnect policy."""

from __future__ import annotations

import asyncio

import pytest

from actr_py import ActrConfig, ActrSystem, Workload
from actr_py.actors import (
    ActorClient,
    ActorInternalError,
    ActorWsClient,
    UserError,
)
from actr_py.actors.timing import RetryPolicy
from tests.actors._actors import Counter, Room


def fast_retry() -> RetryPolicy:
    return RetryPolicy(base=0.02, max_delay=0.1, max_attempts=20)


@pytest.fixture(autouse=True)
def _reset_room() -> None:
    Room.flaky = 0
    Room.admissions = 0


async def test_broadcast_reaches_every_kind_of_connection(make_host, hub) -> None:
    host = await make_host([Room], gateway="127.0.0.1:0")
    room = host.client().get_or_create(Room, "lobby")
    local = await room.connect({"nick": "local"})
    ws_client = ActorWsClient(host.gateway_url, retry=fast_retry)
    async with ActrSystem(ActrConfig(actr_type="acme+peer"), hub=hub).attach(Workload()) as ref:
        peer_client = ActorClient(ref.context, via=host.node.actor_id)
        peer = await peer_client.get_or_create(Room, "lobby").connect({"nick": "peer"})
        ws = await ws_client.connect("Room", "lobby", params={"nick": "web"})
        try:
            # Each got its own welcome, with its own per-connection state.
            assert await local.next_event("welcome", timeout=5) == ("welcome", ["local"])
            assert await peer.next_event("welcome", timeout=5) == ("welcome", ["peer"])
            assert await ws.next_event("welcome", timeout=5) == ("welcome", ["web"])
            assert await room.connections() == 3
            # Calls through a connection see it as self.conn; state is per connection.
            assert await ws.call("say", "hi") == 1
            assert await ws.call("say", "again") == 2
            assert await peer.call("say", "yo") == 1
            assert await room.say("plain") == 0
            for conn in (local, peer, ws):
                got = [(await conn.next_event("said", timeout=5))[1] for _ in range(4)]
                assert got == [["web", "hi"], ["web", "again"], ["peer", "yo"], ["?", "plain"]]
        finally:
            await peer.close()
            await ws_client.close()
            await local.close()
    for _ in range(100):
        if await room.connections() == 0:
            break
        await asyncio.sleep(0.01)
    assert await room.connections() == 0


async def test_refused_connect_is_a_4xx_and_is_not_retried(make_host) -> None:
    host = await make_host([Room], gateway="127.0.0.1:0")
    client = ActorWsClient(host.gateway_url, retry=fast_retry)
    try:
        with pytest.raises(UserError) as info:
            await client.connect("Room", "r", params={"nick": ""})
        err = info.value
        assert (err.code, err.kind, err.metadata) == (403, "nick_required", {"field": "nick"})
        assert Room.admissions == 1  # one handshake: a 4xx is not retried
        # In process, the same refusal.
        with pytest.raises(UserError) as local:
            await host.client().get_or_create(Room, "r").connect({})
        assert local.value.code == 403
    finally:
        await client.close()


async def test_5xx_is_retried_with_backoff_until_admitted(make_host) -> None:
    host = await make_host([Room], gateway="127.0.0.1:0")
    Room.flaky = 3  # three internal errors (500) before on_before_connect admits
    client = ActorWsClient(host.gateway_url, retry=fast_retry)
    try:
        conn = await client.connect("Room", "f", params={"nick": "patient"})
        assert conn.attempts == 4 and Room.admissions == 4
        assert await conn.next_event("welcome", timeout=5) == ("welcome", ["patient"])
    finally:
        await client.close()
    # With no retries allowed, the 500 surfaces (as an internal error, nothing leaked).
    Room.flaky = 1
    once = ActorWsClient(host.gateway_url, retry=lambda: RetryPolicy(max_attempts=0))
    try:
        with pytest.raises(ActorInternalError) as info:
            await once.connect("Room", "f", params={"nick": "x"})
        assert "not ready" not in str(info.value)
    finally:
        await once.close()


async def test_client_reconnects_when_the_server_side_socket_dies(make_host) -> None:
    host = await make_host([Counter], gateway="127.0.0.1:0")
    client = ActorWsClient(host.gateway_url, retry=fast_retry)
    try:
        conn = await client.connect("Counter", "rc")
        assert await conn.call("increment", 1) == 1
        first_id = conn.conn_id
        assert host.gateway.abort_all() == 1  # kill the server side of the socket
        # The client notices and reconnects by itself; calls and events work again.
        for _ in range(500):
            if conn.reconnects == 1 and conn.connected:
                break
            await asyncio.sleep(0.01)
        assert await conn.call("increment", 1, timeout=10) == 2
        assert await conn.next_event("changed", timeout=5) == ("changed", [1])
        assert await conn.next_event("changed", timeout=5) == ("changed", [2])
        assert conn.reconnects == 1
        assert conn.conn_id != first_id
        # Sleeping the actor closes with "reconnect": the client comes back and wakes it.
        await host.sleep_all()
        for _ in range(500):
            if conn.reconnects == 2 and conn.connected:
                break
            await asyncio.sleep(0.01)
        assert await conn.call("increment", 1, timeout=10) == 3
        assert conn.reconnects == 2
    finally:
        await client.close()


async def test_actor_side_disconnect_is_final(make_host) -> None:
    host = await make_host([Room], gateway="127.0.0.1:0")
    client = ActorWsClient(host.gateway_url, retry=fast_retry)
    try:
        conn = await client.connect("Room", "k", params={"nick": "a"})
        assert await host.client().get(Room, "k").kick_all() == 1
        with pytest.raises(Exception):  # noqa: B017 - closed: ActorUnavailable
            await conn.next_event("never", timeout=5)
        assert conn.closed and conn.reconnects == 0
        assert "4001" in conn.error.message
    finally:
        await client.close()


async def test_gateway_refuses_bad_requests_and_missing_actors(make_host) -> None:
    from actr_py.actors import ActorNotFound, BadArguments

    host = await make_host([Counter], gateway="127.0.0.1:0")
    client = ActorWsClient(host.gateway_url, retry=fast_retry)
    try:
        with pytest.raises(ActorNotFound):
            await client.connect("Counter", "missing", mode="get")
        with pytest.raises(ActorNotFound):
            await client.connect("NoSuchType", "x")
        with pytest.raises(BadArguments):
            await client.connect("Counter", "x", mode="sideways")
        ok = await client.connect("Counter", ("a", "b"), mode="create", input={"start": 4})
        assert await ok.call("get") == 4
        by_id = await client.connect("Counter", actor_id=ok.actor_id)
        assert await by_id.call("get") == 4
    finally:
        await client.close()
