"""Start real node processes (``node_main``) and wait until they are registered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from actr_py import ActorId

__all__ = ["NodeProcess", "node_process"]

_ROOT = Path(__file__).resolve().parents[2]


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
    env = dict(os.environ, PYTHONPATH=str(_ROOT), **(env or {}))
    # stderr goes to a file: a pipe nobody reads would stall a chatty child.
    log = tempfile.NamedTemporaryFile(prefix="actr-node-", suffix=".log", delete=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.node_main", "--signaling", signaling_url, *args,
        cwd=_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line.startswith(b"READY "):
            await asyncio.sleep(0.2)
            err = await asyncio.to_thread(Path(log.name).read_text, errors="replace")
            raise RuntimeError(f"node did not start: {line!r}\n{err[-3000:]}")
        _, actor, address = line.decode().split()
        node = NodeProcess(proc, ActorId.parse(actor), None if address == "-" else address)
        yield node
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        log.close()
        os.unlink(log.name)
