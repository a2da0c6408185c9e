"""Run the real signaling server as a subprocess on 127.0.0.1 for tests and benchmarks.

::

    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        client = SignalingClient(srv.url, ...)
        ...
        await srv.restart()     # SIGKILL, then start again on the same port and db

``config`` keys are the server's config keys (see ``signaling_server/config.py``),
passed as flags. The server binds port 0 and prints the port it got; the
launcher waits for that line and for ``GET /health`` before yielding.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SignalingServer", "signaling_server", "signaling_server_sync"]

_ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"actr-signaling listening on ([0-9.]+):(\d+)")


def _flags(config: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in config.items():
        flag = "--" + key.replace("_", "-")
        if key == "realms":
            for realm in value:
                out += ["--realm", str(realm)]
        elif isinstance(value, bool):
            out.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            out += [flag, str(value)]
    return out


class SignalingServer:
    """A server subprocess; ``url`` stays the same across :meth:`restart`."""

    def __init__(
        self,
        workdir: Path,
        *,
        config: Mapping[str, Any] | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        db_path: Path | None = None,
        ready_timeout: float = 20.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = "127.0.0.1"
        self.port = 0
        self.db_path = Path(db_path) if db_path is not None else self.workdir / "signaling.db"
        self.log_path = self.workdir / "signaling-server.log"
        self.config = dict(config or {})
        self.args = list(args)
        self.env = dict(env or {})
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/signaling/ws"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        """Everything the server printed (all runs), for assertions and debugging."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ---- synchronous core (usable from sync fixtures) -----------------------

    def start_sync(self) -> None:
        if self.alive:
            raise RuntimeError("signaling server already running")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTR_SIGNALING_")}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [
            sys.executable, "-m", "signaling_server",
            "--host", self.host, "--port", str(self.port), "--db", str(self.db_path),
            *_flags(self.config), *self.args,
        ]
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                cmd, cwd=_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"signaling server exited with {self.process.returncode}:\n{self._run_log()}"
                )
            match = _LISTENING.search(self._run_log())
            if match:
                self.port = int(match.group(2))
                if self._health_ok():
                    return
            time.sleep(0.02)
        self.kill_sync()
        raise RuntimeError(
            f"signaling server not ready in {self.ready_timeout}s:\n{self.log_text()}"
        )

    def _run_log(self) -> str:
        with self.log_path.open("rb") as fh:
            fh.seek(self._log_offset)
            return fh.read().decode(errors="replace")

    def _health_ok(self) -> bool:
        try:
            with urllib.request.urlopen(self.http_url + "/health", timeout=2) as resp:
                return resp.status == 200 and json.load(resp).get("status") == "ok"
        except OSError:
            return False

    def kill_sync(self) -> None:
        """SIGKILL: no shutdown, sockets reset - like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop_sync(self, timeout: float = 5.0) -> None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``timeout``)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.http_url + "/health", timeout=5) as resp:
            result: dict[str, Any] = json.load(resp)
            return result

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.http_url + "/metrics", timeout=5) as resp:
            return resp.read().decode()

    # ---- async API ------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.start_sync)

    async def kill(self) -> None:
        await asyncio.to_thread(self.kill_sync)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    async def restart(self, *, graceful: bool = False) -> None:
        """Kill (or stop) and start again on the same port and database."""
        await (self.stop() if graceful else self.kill())
        await self.start()


def _workdir(tmp_path: Path | str | None) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    if tmp_path is not None:
        return Path(tmp_path), None
    tmp = tempfile.TemporaryDirectory(prefix="actr-signaling-")
    return Path(tmp.name), tmp


@contextlib.asynccontextmanager
async def signaling_server(
    tmp_path: Path | str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    db_path: Path | None = None,
) -> AsyncIterator[SignalingServer]:
    """Start a server (port 0, db in ``tmp_path`` or a temp dir); stop it on exit."""
    workdir, tmp = _workdir(tmp_path)
    server = SignalingServer(workdir, config=config, args=args, env=env, db_path=db_path)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        if tmp is not None:
            tmp.cleanup()


@contextlib.contextmanager
def signaling_server_sync(
    tmp_path: Path | str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    db_path: Path | None = None,
) -> Iterator[SignalingServer]:
    """The same for synchronous (e.g. module-scoped) fixtures."""
    workdir, tmp = _workdir(tmp_path)
    server = SignalingServer(workdir, config=config, args=args, env=env, db_path=db_path)
    try:
        server.start_sync()
        yield server
    finally:
        server.stop_sync()
        if tmp is not None:
            tmp.cleanup()
