"""Parent side of the node figures: signaling server, child node, client node.

Shared by the WebRTC and WebSocket node benchmarks (and kept open across the
figures of one run through :meth:`BenchContext.shared`), so each process
starts once per run instead of once per figure.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actr_py import ActorId, ActrConfig, ActrRef, ActrSystem, Workload
from actr_py.wire.inproc import InprocHub

from ._harness import cpu_plan
from ._procs import ROOT, Child, spawn

__all__ = ["NodeChild", "client_node", "node_child", "signaling"]


@contextlib.asynccontextmanager
async def signaling() -> AsyncIterator[str]:
    """The real signaling server (``tests.support.signaling``), pinned; yields its URL."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.signaling import signaling_server

    with tempfile.TemporaryDirectory(prefix="actr-bench-sig-") as tmp:
        async with signaling_server(Path(tmp), args=["--log-level", "warning"]) as srv:
            if srv.process is not None:
                cpu_plan().pin_child(srv.process.pid)
            yield srv.url


@dataclass
class NodeChild:
    child: Child
    actor_id: ActorId
    ws_address: str | None


@contextlib.asynccontextmanager
async def node_child(url: str, *args: str) -> AsyncIterator[NodeChild]:
    """A ``benchmarks._node`` process registered at ``url``."""
    async with spawn("benchmarks._node", "--signaling", url, *args) as child:
        ready = child.ready
        yield NodeChild(child, ActorId.parse(ready["actor_id"]), ready["ws"])


@contextlib.asynccontextmanager
async def client_node(url: str, **config: Any) -> AsyncIterator[ActrRef]:
    """A ``bench+client`` node in this process (its own hub: nothing is in process)."""
    cfg = ActrConfig(actr_type="bench+client", signaling_url=url, **config)
    ref = await ActrSystem(cfg, hub=InprocHub()).attach(Workload()).start()
    try:
        yield ref
    finally:
        await ref.shutdown()
