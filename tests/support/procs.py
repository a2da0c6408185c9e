"""Run a test child process (``python -m MODULE``) until it says ``READY ...``.

The node and actor-host launchers share this: spawn with the repository on
``PYTHONPATH``, stderr to a file (a pipe nobody reads would stall a chatty
child), wait for the ready line, and always reap the child, by SIGKILL if it
is still running when the test is done with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "ready_process", "serve_until_terminated"]

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def ready_process(
    module: str,
    *args: str,
    what: str,
    timeout: float,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str], str]]:
    """Yield (process, the words after READY, its stderr log path)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    log = tempfile.NamedTemporaryFile(prefix=f"actr-{what}-", suffix=".log", delete=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args,
        cwd=ROOT, env=full_env, stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line.startswith(b"READY "):
            await asyncio.sleep(0.2)
            err = await asyncio.to_thread(Path(log.name).read_text, errors="replace")
            raise RuntimeError(f"{what} did not start: {line!r}\n{err[-3000:]}")
        yield proc, line.decode().split()[1:], log.name
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        log.close()
        os.unlink(log.name)


async def serve_until_terminated(ref: Any, *ready: str) -> None:
    """The child's side: say ``READY <ready...>``, serve until SIGTERM/SIGINT, shut down."""
    print("READY", *ready, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await ref.shutdown()
    print("STOPPED", flush=True)
