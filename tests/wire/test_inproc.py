from __future__ import annotations

import pytest

from actr_py import ActrTypeName, PayloadType, Unavailable
from actr_py.proto import package_pb2
from actr_py.wire.inproc import InprocHub, default_hub


async def test_frames_and_envelopes_reach_the_peer_with_sender_identity() -> None:
    hub = InprocHub()
    got = []

    async def frames(sender, pt, data):
        got.append(("bytes", sender, pt, data))

    async def envs(sender, pt, env):
        got.append(("env", sender, pt, env.request_id))

    async def nothing(*args):
        pass

    a = hub.register(ActrTypeName("acme", "a"), 1, nothing, nothing)
    b = hub.register(ActrTypeName("acme", "b"), 1, frames, envs)
    link = hub.connect(a, b)
    await link.send(PayloadType.STREAM_RELIABLE, b"chunk")
    await link.send_envelope(PayloadType.RPC_RELIABLE, package_pb2.RpcEnvelope(request_id="r"))
    assert got == [("bytes", a, PayloadType.STREAM_RELIABLE, b"chunk"),
                   ("env", a, PayloadType.RPC_RELIABLE, "r")]


async def test_unique_ids_find_by_type_and_realm() -> None:
    hub = InprocHub()

    async def nothing(*args):
        pass

    t = ActrTypeName("acme", "x")
    ids = [hub.register(t, 1, nothing, nothing) for _ in range(3)]
    other = hub.register(t, 2, nothing, nothing)
    assert len(set(ids)) == 3
    assert hub.find(t, 1) == ids and hub.find(t, 2) == [other]
    hub.unregister(ids[0])
    hub.unregister(ids[0])  # idempotent
    assert hub.find(t, 1) == ids[1:]
    with pytest.raises(ValueError):
        hub.register(t, 1, nothing, nothing, serial=ids[1].serial)


async def test_connect_to_unknown_and_close() -> None:
    hub = InprocHub()

    async def nothing(*args):
        pass

    a = hub.register(ActrTypeName("acme", "a"), 1, nothing, nothing)
    b = hub.register(ActrTypeName("acme", "b"), 1, nothing, nothing)
    with pytest.raises(Unavailable):
        hub.connect(a, hub.register(ActrTypeName("acme", "c"), 1, nothing, nothing).__class__(
            1, 999, ActrTypeName("acme", "zz")))
    link = hub.connect(a, b)
    closed = []
    link.add_close_callback(lambda c, e: closed.append(e))
    await link.close()
    await link.close()
    assert len(closed) == 1
    with pytest.raises(Unavailable):
        await link.send(PayloadType.RPC_RELIABLE, b"")


def test_default_hub_is_a_singleton() -> None:
    assert default_hub() is default_hub()


async def test_a_synchronous_handover_returns_a_finished_awaitable() -> None:
    """No coroutine per message: the envelope is handed over by the call itself."""
    from actr_py.wire.base import DONE

    hub = InprocHub()
    got: list[str] = []

    def envs(sender, pt, env):  # an envelope handler that does not wait
        got.append(env.request_id)
        return None

    async def nothing(*args):
        pass

    a = hub.register(ActrTypeName("acme", "a"), 1, nothing, nothing)
    b = hub.register(ActrTypeName("acme", "b"), 1, nothing, envs)
    link = hub.connect(a, b)
    sent = link.send_envelope(PayloadType.RPC_RELIABLE, package_pb2.RpcEnvelope(request_id="r1"))
    assert sent is DONE and got == ["r1"]  # delivered before anything was awaited
    for _ in range(3):  # the one finished awaitable serves every await
        assert await sent is None
    hub.unregister(b)
    with pytest.raises(Unavailable):
        link.send_envelope(PayloadType.RPC_RELIABLE, package_pb2.RpcEnvelope(request_id="r2"))
