"""One browser-subscriber run, meant to execute inside a private network namespace.

``python -m tests.media.browser.scenario --browser-role offerer --workdir DIR --out result.json``

Started by ``tests/media/test_browser.py`` under ``unshare --net`` (loopback
is then the only interface; tests/browser/README.md says why Chromium needs
that). In the namespace it starts the real signaling server, two actr_py
nodes in this process on separate hubs (a relay running
``MediaRelayWorkload`` and a publisher streaming the test pattern to it),
an aiohttp server for the pages, and headless Chromium on
``page/index.html``. The page reuses the plain actr peer of
``tests/browser/page`` (served under ``/browser/``), subscribes to the relay
and reports what its video decoder did. Everything both sides saw is
written as JSON; this module asserts nothing.

``--browser-role`` chooses who registers first, hence who offers the first
connection (the smaller serial offers): either way the relay then adds the
video track with a renegotiation offer of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from aiohttp import web

from actr_py import ActrConfig, ActrRef, ActrSystem, ActrTypeName, Workload
from actr_py.config import AclRuleConfig
from actr_py.media.relay import MediaRelayWorkload
from actr_py.media.testpattern import pattern_frame
from actr_py.wire.inproc import InprocHub
from tests.browser.scenario import Chromium, bring_loopback_up, log_node_to, tail, wait_for
from tests.support.signaling import signaling_server

PAGE_DIR = Path(__file__).resolve().parent / "page"
PEER_PAGE_DIR = Path(__file__).resolve().parents[2] / "browser" / "page"
RELAY_TYPE, PUBLISHER_TYPE, BROWSER_TYPE = "acme+relay", "acme+pub", "acme+browser"
TRACK = "camera"
SUBSCRIBE = "actr.media.Relay.Subscribe"
FRAMES = 30  # framesDecoded the page waits for


def config(url: str, actr_type: str, *admit: str) -> ActrConfig:
    acl = tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in admit)
    return ActrConfig(actr_type=actr_type, signaling_url=url, acl=acl, shutdown_grace=0.5)


class Pages:
    """Serves both pages and takes the page's events and final report."""

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
        app.router.add_static("/browser/", PEER_PAGE_DIR)
        app.router.add_static("/media/", PAGE_DIR)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _event(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.events.append(body)
        text = str(body.get("text", ""))
        if text.startswith("registered as ") and not self.registered.done():
            self.registered.set_result(text.removeprefix("registered as "))
        return web.Response(text="ok")

    async def _report(self, request: web.Request) -> web.Response:
        if not self.report.done():
            self.report.set_result(await request.json())
        return web.Response(text="ok")

    def url(self, signaling_url: str, budget_ms: int) -> str:
        query = urllib.parse.urlencode({
            "signaling": signaling_url, "target": RELAY_TYPE, "self": BROWSER_TYPE,
            "route": SUBSCRIBE, "codec": "VP8", "frames": str(FRAMES), "budget": str(budget_ms),
        })
        return f"http://127.0.0.1:{self.port}/media/index.html?{query}"


async def publish(ctx: Any, relay: Any) -> None:
    """The test pattern at 30 fps, 320x240, until cancelled."""
    start = time.monotonic()
    index = 0
    while True:
        await asyncio.sleep(max(0.0, start + index / 30 - time.monotonic()))
        await ctx.send_media_sample(relay, TRACK, pattern_frame(320, 240, index))
        index += 1


async def run(browser_role: str, workdir: Path, timeout: float) -> dict[str, Any]:
    log_node_to(workdir / "node.log")
    result: dict[str, Any] = {
        "browser_role": browser_role,
        "interfaces": [name for _, name in socket.if_nameindex()],
    }
    started = time.monotonic()
    pages = Pages()
    chromium = Chromium(workdir)
    refs: list[ActrRef] = []
    relay_workload = MediaRelayWorkload(TRACK)
    streaming: asyncio.Task[None] | None = None
    try:
        async with signaling_server(workdir / "signaling") as srv:
            await pages.start()
            url = pages.url(srv.url, budget_ms=int(timeout * 1000) - 2000)

            async def start_relay() -> ActrRef:
                system = ActrSystem(
                    config(srv.url, RELAY_TYPE, BROWSER_TYPE, PUBLISHER_TYPE), hub=InprocHub()
                )
                ref = await system.attach(relay_workload).start()
                refs.append(ref)
                return ref

            if browser_role == "answerer":
                relay = await start_relay()  # registered first: it offers
                await chromium.start(url)
            else:
                await chromium.start(url)
                result["browser_registered"] = await wait_for(
                    pages.registered, chromium, timeout, "registration")
                relay = await start_relay()  # registered second: the browser offers
            result["relay_id"] = str(relay.actor_id)
            publisher = await ActrSystem(
                config(srv.url, PUBLISHER_TYPE, RELAY_TYPE), hub=InprocHub()
            ).attach(Workload()).start()
            refs.append(publisher)
            await publisher.context.add_media_track(relay.actor_id, TRACK, "video", "VP8")
            streaming = asyncio.ensure_future(publish(publisher.context, relay.actor_id))
            left = timeout - (time.monotonic() - started)
            result["report"] = await wait_for(pages.report, chromium, left, "report")
            stats = relay_workload.relay.stats
            result["relay"] = {
                "joined": stats.joined, "forwarded": stats.forwarded, "decoded": stats.decoded,
                "keyframe_requests": stats.keyframe_requests,
                "decode_mode": relay.node.media_frames.mode(TRACK),
            }
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if streaming is not None:
            streaming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await streaming
        await chromium.kill()
        result["chromium_exit"] = chromium.exited()
        for ref in reversed(refs):
            with contextlib.suppress(Exception):
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
    bring_loopback_up()
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args.browser_role, args.workdir, args.timeout))
    args.out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
