"""Heartbeat eviction against the real server with a 1 s heartbeat."""

from __future__ import annotations

import pytest

from actr_py.ids import ActrTypeName
from actr_py.proto import actr_pb2
from actr_py.wire.signaling import SignalingClient
from tests.signaling_server._raw import RawPeer
from tests.support.signaling import signaling_server

pytestmark = pytest.mark.slow


async def test_silent_node_is_evicted_while_a_pinging_client_stays(tmp_path):
    t = ActrTypeName("acme", "hb")
    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        good = SignalingClient(srv.url, t, 1)
        await good.start()
        silent = await RawPeer.connect(srv.url)
        watcher = await RawPeer.connect(srv.url)
        try:
            await silent.register(t)
            assert good.heartbeat_interval == 1
            assert [a for a, _ in await good.route_candidates(t, 5)] == [silent.actor_id]
            # The silent node never pings: after 3 intervals it is evicted and its
            # socket closed with 4000.
            assert await silent.recv_close(timeout=15) == 4000
            assert await good.route_candidates(t, 5) == []
            # The client that kept pinging (registered earlier) is still there.
            await watcher.register(t)
            env = watcher.actr(route_candidates_request=actr_pb2.RouteCandidatesRequest(
                target_type=t.to_proto(), client_fingerprint="",
                criteria=actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria(
                    candidate_count=5)))
            reply = await watcher.request(env)
            ok = reply.server_to_actr.route_candidates_response.success
            assert [c.serial_number for c in ok.candidates] == [good.actor_id.serial]
            assert good.connected
            assert "actr_signaling_evictions_total 1" in srv.metrics_text()
        finally:
            await good.close()
            await silent.close()
            await watcher.close()
