"""Start real actor-host processes (``host_main``) and wait until they serve."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from actr_py import ActorId

_ROOT = Path(__file__).resolve().parents[2]


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
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    log = tempfile.NamedTemporaryFile(prefix="actr-actors-", suffix=".log", delete=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.actors.host_main", *args,
        cwd=_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line.startswith(b"READY "):
            await asyncio.sleep(0.2)
            err = await asyncio.to_thread(Path(log.name).read_text, errors="replace")
            raise RuntimeError(f"actor host did not start: {line!r}\n{err[-3000:]}")
        _, actor, gateway = line.decode().split()
        yield HostProcess(proc, ActorId.parse(actor), gateway, log.name)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        log.close()
        os.unlink(log.name)
