"""One browser-peer run, meant to execute inside a private network namespace.

``python -m tests.browser.scenario --browser-role offerer --workdir DIR --out result.json``

Started by ``test_browser_peer.py`` under ``unshare --net``, so loopback is
the only interface there is: no packet of this run can reach eth0 or use
its address (see README.md for why the page's candidate filter alone is not
enough). In that namespace it brings ``lo`` up, then starts

* the real signaling server (``tests/support/signaling.py``),
* an actr_py node in this process with ``signaling_url`` (WebRTC on by
  default), an ACL admitting ``acme+browser`` and a bytes handler,
* an aiohttp server on 127.0.0.1 serving ``page/`` and taking the page's
  events and final report,
* headless Chromium on that page, in its own process group, killed at the end
  whatever happens.

The browser's role comes from registration order, which is how the server's
arbitration works (the smaller serial offers): for ``--browser-role offerer``
the page registers first and the node only afterwards; for ``answerer`` the
node is up before Chromium starts. Everything seen on both sides is written
as JSON for the test to assert on; this module asserts nothing itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import struct
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from aiohttp import web

from actr_py import ActrConfig, ActrRef, ActrSystem, Context, Workload, handler
from actr_py.config import AclRuleConfig
from actr_py.ids import ActrTypeName
from actr_py.wire.inproc import InprocHub
from tests.support.signaling import signaling_server

PAGE_DIR = Path(__file__).resolve().parent / "page"
CHROMIUM = "/usr/bin/chromium"
NODE_TYPE = "acme+browser-echo"
BROWSER_TYPE = "acme+browser"
ROUTE = "browser.Echo.Greet"
LANES = ("RPC_RELIABLE", "RPC_SIGNAL")

#: Each flag and why it is there: README.md, "Chromium flags".
CHROMIUM_FLAGS = (
    # the machine's standard headless set
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # WebRTC on loopback
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # console.log lines of the page end up in chromium.log
    "--enable-logging=stderr",
)


# ---- the Python peer ----------------------------------------------------------


class BrowserEcho(Workload):
    """Answers the browser with bytes: no msgpack needed in JavaScript.

    While it handles a call it also records what the node's side of the
    WebRTC connection looks like (the page may close it right after).
    """

    def __init__(self) -> None:
        self.ref: ActrRef | None = None
        self.calls: list[dict[str, Any]] = []

    @handler(ROUTE)
    async def greet(self, ctx: Context, req: bytes) -> bytes:
        self.calls.append({
            "caller": str(ctx.caller_id),
            "payload": req.decode(errors="replace"),
            "connection": self._connection_view(ctx),
        })
        return b"hello " + req + f" | from {ctx.self_id} to {ctx.caller_id}".encode()

    def _connection_view(self, ctx: Context) -> dict[str, Any] | None:
        network = self.ref.node.network if self.ref is not None else None
        if network is None or network.webrtc is None:
            return None
        conn = network.webrtc.coordinator.connection(ctx.caller_id)
        if conn is None:
            return None
        channels = [inbox.channel for inbox in conn._inboxes]
        if conn._control is not None:
            channels.append(conn._control)
        view: dict[str, Any] = {
            "kind": conn.kind,
            "mode": conn.mode,
            "offerer": conn.offerer,
            "channels": [
                {
                    "label": ch.label,
                    "ordered": ch.ordered,
                    "maxRetransmits": ch.maxRetransmits,
                    "protocol": ch.protocol,
                    "state": ch.readyState,
                }
                for ch in channels
            ],
        }
        try:  # aioice internals: best effort, the browser's getStats is authoritative
            ice = conn.peer_connection.sctp.transport.transport
            view["local_candidates"] = [c.ip for c in ice.iceGatherer.getLocalCandidates()]
            view["remote_candidates"] = [c.ip for c in ice.getRemoteCandidates()]
            view["nominated"] = [
                [pair.local_candidate.host, pair.remote_candidate.host]
                for pair in ice._connection._nominated.values()
            ]
        except Exception as exc:
            view["ice_error"] = repr(exc)
        return view


async def start_node(signaling_url: str) -> tuple[ActrRef, BrowserEcho]:
    config = ActrConfig(
        actr_type=NODE_TYPE,
        signaling_url=signaling_url,
        acl=(AclRuleConfig("allow", ((None, ActrTypeName.parse(BROWSER_TYPE)),)),),
        shutdown_grace=0.5,
    )
    workload = BrowserEcho()
    ref = await ActrSystem(config, hub=InprocHub()).attach(workload).start()
    workload.ref = ref
    return ref, workload


# ---- the page server ------------------------------------------------------------


class PageServer:
    """Static files of ``page/`` plus the two endpoints the page posts to."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.registered: asyncio.Future[str] = loop.create_future()
        self.report: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.events: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/event", self._event)
        app.router.add_post("/report", self._report)
        app.router.add_static("/page/", PAGE_DIR)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _event(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.events.append(body)
        if body.get("kind") == "registered" and not self.registered.done():
            self.registered.set_result(body["id"])
        return web.Response(text="ok")

    async def _report(self, request: web.Request) -> web.Response:
        if not self.report.done():
            self.report.set_result(await request.json())
        return web.Response(text="ok")

    def url(self, signaling_url: str, budget_ms: int) -> str:
        query = urllib.parse.urlencode({
            "signaling": signaling_url,
            "target": NODE_TYPE,
            "self": BROWSER_TYPE,
            "route": ROUTE,
            "text": "hi from chromium",
            "lanes": ",".join(LANES),
            "budget": str(budget_ms),
        })
        return f"http://127.0.0.1:{self.port}/page/index.html?{query}"


# ---- Chromium -----------------------------------------------------------------------


class Chromium:
    """Headless Chromium in its own process group, with a throwaway profile and HOME."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log_path = workdir / "chromium.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, url: str) -> None:
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=self.workdir))
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.workdir))
        # HOME too: Chromium's crash handler otherwise writes under ~/.config.
        env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_CACHE_HOME=str(home / ".cache"))
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True,
            )
        # For the test: if this process dies first, it still kills the group.
        (self.workdir / "chromium.pgid").write_text(str(self.process.pid))

    def exited(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def kill(self) -> None:
        """SIGKILL the whole process group (browser, zygote, renderers, GPU...)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        # Chromium's D-Bus complaints are noise in a container without a bus.
        kept = [line for line in text.splitlines() if "dbus" not in line.lower()]
        return "\n".join(kept[-lines:])


# ---- the run ------------------------------------------------------------------------


def bring_loopback_up() -> None:
    """``ip link set lo up`` without iproute2: a fresh namespace starts with lo down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        if not flags & iff_up:
            fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


async def wait_for(future: asyncio.Future[Any], chromium: Chromium, timeout: float,
                   what: str) -> Any:
    """The future's result; fail early if Chromium died, late if nothing came."""
    deadline = time.monotonic() + timeout
    while not future.done():
        if chromium.exited() is not None:
            raise RuntimeError(f"Chromium exited with {chromium.exited()} before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} from the page within {timeout:.0f}s")
        await asyncio.wait([future], timeout=0.1)
    return future.result()


def log_node_to(path: Path) -> None:
    """The node's WebRTC and network logs, for the test to print when it fails."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(relativeCreated)6.0f ms %(name)s %(message)s"))
    for name in ("actr_py.wire.webrtc", "actr_py.wire.signaling", "actr_py.network",
                 "actr_py.transport"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


async def run(browser_role: str, workdir: Path, timeout: float) -> dict[str, Any]:
    log_node_to(workdir / "node.log")
    result: dict[str, Any] = {
        "browser_role": browser_role,
        "interfaces": [name for _, name in socket.if_nameindex()],
        "chromium_flags": list(CHROMIUM_FLAGS),
    }
    started = time.monotonic()
    pages = PageServer()
    chromium = Chromium(workdir)
    ref: ActrRef | None = None
    workload: BrowserEcho | None = None
    try:
        async with signaling_server(workdir / "signaling") as srv:
            await pages.start()
            url = pages.url(srv.url, budget_ms=int(timeout * 1000) - 2000)
            if browser_role == "answerer":
                ref, workload = await start_node(srv.url)  # registered first: it offers
                await chromium.start(url)
            else:
                await chromium.start(url)
                result["browser_registered"] = await wait_for(
                    pages.registered, chromium, timeout, "registration")
                ref, workload = await start_node(srv.url)  # registered second: it answers
            result["node_id"] = str(ref.actor_id)
            left = timeout - (time.monotonic() - started)
            result["report"] = await wait_for(pages.report, chromium, left, "report")
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        await chromium.kill()
        result["chromium_exit"] = chromium.exited()
        if workload is not None:
            result["node_calls"] = workload.calls
        if ref is not None:
            await ref.shutdown(grace=0.5)
        await pages.close()
    result["page_events"] = pages.events
    result["chromium_log"] = chromium.log_tail()
    result["node_log"] = tail(workdir / "node.log")
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--browser-role", choices=("offerer", "answerer"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    bring_loopback_up()  # a no-op where lo is up already
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args.browser_role, args.workdir, args.timeout))
    args.out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
