"""Media test fixtures: a real signaling server and nodes that meet only through it.

Each node gets its own InprocHub, so two nodes in this process cannot take
the in-process shortcut: everything between them is WebRTC on 127.0.0.1,
negotiated through the signaling server's relay, exactly as between processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from actr_py import ActrConfig, ActrRef, ActrSystem, ActrTypeName, Workload
from actr_py.config import AclRuleConfig
from actr_py.wire.inproc import InprocHub
from tests.support.signaling import SignalingServer, signaling_server_sync

#: Every type the media tests use; each node admits all of them.
TYPES = (
    "acme+pub", "acme+relay", "acme+sub", "acme+peer", "acme+browser",
    "demo+media-publisher", "demo+media-relay",  # examples/media_relay, run as children
)

StartNode = Callable[..., Awaitable[ActrRef]]


def media_config(url: str, actr_type: str, **extra: object) -> ActrConfig:
    acl = tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in TYPES)
    return ActrConfig(
        actr_type=actr_type, signaling_url=url, acl=acl, shutdown_grace=0.5, **extra  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignalingServer]:
    with signaling_server_sync(
        tmp_path_factory.mktemp("signaling"), config={"heartbeat_interval_secs": 1}
    ) as srv:
        yield srv


@pytest.fixture
async def node(server: SignalingServer) -> AsyncIterator[StartNode]:
    """node(actr_type, workload=None) -> a running ActrRef on its own hub; stopped after."""
    refs: list[ActrRef] = []

    async def start(actr_type: str, workload: Workload | None = None) -> ActrRef:
        system = ActrSystem(media_config(server.url, actr_type), hub=InprocHub())
        ref = await system.attach(workload or Workload()).start()
        refs.append(ref)
        return ref

    yield start
    for ref in reversed(refs):
        if ref.node.state.value == "running":
            await ref.shutdown(grace=0.5)
