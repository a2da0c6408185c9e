"""Child processes of the benchmarks: spawn, pin, talk JSON lines, stop.

Every cross-process figure has a far end in a child process: a node, a bare
aiortc peer, a bare WebSocket server. They all follow one small protocol so
their setup code is not repeated per benchmark:

* the child writes one JSON line when it is ready (``{"ready": ...}``);
* the parent writes one JSON request per line on the child's stdin and reads
  exactly one JSON reply line per request from its stdout, in order;
* the child exits when its stdin closes.

Children run on the event loop kind of the run (``ACTR_PY_LOOP``, see
:mod:`actr_py.loop`) and are pinned to the child CPUs (see
:class:`~benchmarks._harness.CpuPlan`). Their stderr goes to a temporary
file that is shown when they fail to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from actr_py import loop as actr_loop

from ._harness import cpu_plan

__all__ = ["ROOT", "Child", "serve_lines", "spawn"]

ROOT = Path(__file__).resolve().parents[1]

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Child:
    """A running child process speaking JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process, ready: dict[str, Any], log: Path) -> None:
        self.proc = proc
        self.ready = ready
        self.log = log
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def request(self, timeout: float = 60.0, **message: Any) -> dict[str, Any]:
        """Send one request and return its reply (requests are answered in order)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"child {self.pid} exited: {self.tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"child {self.pid}: {reply['error']}")
        return reply

    def tail(self) -> str:
        return _tail(self.log)


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-3000:]
    return ""


@contextlib.asynccontextmanager
async def spawn(module: str, *args: str, ready_timeout: float = 30.0,
                env: dict[str, str] | None = None,
                cpus: Literal["children", "parent"] = "children") -> AsyncIterator[Child]:
    """Run ``python -m module args`` on this run's loop kind, pinned to the child
    CPUs (or, ``cpus="parent"``, to the measuring process's, for a process that
    stands in for it while it waits)."""
    child_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    child_env[actr_loop.LOOP_ENV] = actr_loop.loop_kind()
    fd, log_name = tempfile.mkstemp(prefix="actr-bench-", suffix=".log")
    log = Path(log_name)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=ROOT, env=child_env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=fd,
        limit=16 * 1024 * 1024,
    )
    os.close(fd)
    plan = cpu_plan()
    if cpus == "parent":
        plan.pin_like_parent(proc.pid)
    else:
        plan.pin_child(proc.pid)
    try:
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), ready_timeout)
        except TimeoutError:
            line = b""
        if not line:
            await asyncio.sleep(0.2)
            raise RuntimeError(f"{module} did not start:\n{_tail(log)}")
        ready = json.loads(line)["ready"]
        yield Child(proc, ready, log)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if os.environ.get("ACTR_BENCH_KEEP_LOGS"):
            print(f"# {module} log kept: {log}", file=sys.stderr)
        else:
            os.unlink(log)


async def serve_lines(ready: Any, handler: Handler) -> None:
    """Child side: announce ``ready``, then answer requests until stdin closes.

    ``ACTR_BENCH_LOG=info`` (or any level) logs to the child's stderr, which
    ``ACTR_BENCH_KEEP_LOGS=1`` keeps in a file after the run.
    """
    level = os.environ.get("ACTR_BENCH_LOG")
    if level:
        logging.basicConfig(level=level.upper(), stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def write(obj: Any) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    write({"ready": ready})
    while line := await reader.readline():
        try:
            reply = await handler(json.loads(line))
        except Exception as exc:  # reported to the parent, which raises it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        write(reply)
