"""Start real actor-host processes (``host_main``) and wait until they serve."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from actr_py import ActorId
from tests.support.procs import ready_process


@dataclass
class HostProcess:
    process: asyncio.subprocess.Process
    actor_id: ActorId
    gateway: str
    log_path: str = field(default="")

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, nobody is told."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)

    async def wait(self, timeout: float = 15.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self, timeout: float = 15.0) -> int:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""


@contextlib.asynccontextmanager
async def host_process(*args: str, timeout: float = 30.0) -> AsyncIterator[HostProcess]:
    async with ready_process(
        "tests.actors.host_main", *args, what="actor host", timeout=timeout
    ) as (proc, (actor, gateway), log_path):
        yield HostProcess(proc, ActorId.parse(actor), gateway, log_path)
