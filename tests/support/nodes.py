"""Start real node processes (``node_main``) and wait until they are registered."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from actr_py import ActorId

from .procs import ready_process

__all__ = ["NodeProcess", "node_process"]

@dataclass
class NodeProcess:
    process: asyncio.subprocess.Process
    actor_id: ActorId
    ws_address: str | None

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 10.0) -> int:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.kill()
            return await self.process.wait()


@contextlib.asynccontextmanager
async def node_process(signaling_url: str, *args: str, timeout: float = 20.0,
                       env: dict[str, str] | None = None) -> AsyncIterator[NodeProcess]:
    async with ready_process(
        "tests.support.node_main", "--signaling", signaling_url, *args,
        what="node", timeout=timeout, env=env,
    ) as (proc, (actor, address), _):
        yield NodeProcess(proc, ActorId.parse(actor), None if address == "-" else address)
