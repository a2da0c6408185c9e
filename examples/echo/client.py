"""An echo client actor, runnable in one process or against a remote service.

    python -m examples.echo.client                                   # both in one process
    python -m examples.echo.client --signaling ws://127.0.0.1:8081/signaling/ws
"""

from __future__ import annotations

import argparse
import asyncio
import time

from actr_py import ActrConfig, ActrRef, ActrSystem, Context, Workload, handler

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


async def send_all(client: ActrRef, messages: list[str], out=print) -> list[str]:
    """The app asks its client node to send each message and reports the reply."""
    replies = []
    for text in messages:
        t0 = time.perf_counter()
        reply = await client.call("client.Client.Send", text)
        out(f"  {text!r} -> {reply!r} in {(time.perf_counter() - t0) * 1e6:.0f} us")
        replies.append(reply)
    return replies


async def run(messages: list[str], out=print) -> list[str]:
    """Service and client in this process."""
    async with ActrSystem(ACTR_TYPE).attach(EchoService()) as service:
        async with ActrSystem("acme+echo-client").attach(EchoClient()) as client:
            out(f"echo service up as {service.actor_id}")
            out(f"client up as {client.actor_id}")
            replies = await send_all(client, messages, out)
    out("both nodes stopped")
    return replies


async def run_remote(signaling_url: str, messages: list[str], out=print) -> list[str]:
    """The client in this process; the service wherever signaling finds it."""
    config = ActrConfig(actr_type="acme+echo-client", signaling_url=signaling_url)
    async with ActrSystem(config).attach(EchoClient()) as client:
        out(f"client registered as {client.actor_id}")
        return await send_all(client, messages, out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Call the echo service.")
    parser.add_argument("--signaling", help="find the service through this server")
    parser.add_argument("messages", nargs="*", default=["hello", "actr"])
    args = parser.parse_args()
    if args.signaling:
        asyncio.run(run_remote(args.signaling, args.messages))
    else:
        asyncio.run(run(args.messages))
