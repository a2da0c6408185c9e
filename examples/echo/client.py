"""An echo client actor and a runnable in-process demo.

    python -m examples.echo.client            # service and client in one process
"""

from __future__ import annotations

import asyncio
import time

from actr_py import ActrSystem, Context, Workload, handler

from . import echo_pb2
from .service import ACTR_TYPE, EchoService

ECHO = "echo.EchoService.Echo"


class EchoClient(Workload):
    """Forwards the app's requests to whichever echo service discovery finds."""

    @handler("client.Client.Send")
    async def send(self, ctx: Context, text: str) -> str:
        target = await ctx.discover(ACTR_TYPE)
        resp = await ctx.call(
            target, ECHO, echo_pb2.EchoRequest(message=text), response_type=echo_pb2.EchoResponse
        )
        return f"{resp.reply} (served by {resp.served_by})"


async def run(messages: list[str], out=print) -> list[str]:
    service = await ActrSystem(ACTR_TYPE).attach(EchoService()).start()
    client = await ActrSystem("acme+echo-client").attach(EchoClient()).start()
    out(f"echo service up as {service.actor_id}")
    out(f"client up as {client.actor_id}")
    replies = []
    try:
        for text in messages:
            t0 = time.perf_counter()
            reply = await client.call("client.Client.Send", text)
            out(f"  {text!r} -> {reply!r} in {(time.perf_counter() - t0) * 1e6:.0f} us")
            replies.append(reply)
    finally:
        await client.shutdown()
        await service.shutdown()
    out("both nodes stopped")
    return replies


if __name__ == "__main__":
    asyncio.run(run(["hello", "actr"]))
