"""EchoService: a protobuf-typed actor. Route keys and types come from echo.proto.

Run it as its own process next to a signaling server::

    python -m examples.echo.service --signaling ws://127.0.0.1:8081/signaling/ws
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from actr_py import ActrConfig, ActrSystem, ActrTypeName, Context, Workload, handler
from actr_py.config import AclRuleConfig

from . import echo_pb2

SERVICE = echo_pb2.DESCRIPTOR.services_by_name["EchoService"]
ACTR_TYPE = "acme+echo"


class EchoService(Workload, service=SERVICE):
    def __init__(self) -> None:
        self.served = 0

    @handler("Echo")  # -> "echo.EchoService.Echo", EchoRequest -> EchoResponse
    async def echo(self, ctx: Context, req: echo_pb2.EchoRequest) -> echo_pb2.EchoResponse:
        self.served += 1
        return echo_pb2.EchoResponse(reply=req.message, served_by=str(ctx.self_id))

    @handler("Ping")  # rides RPC_SIGNAL, as the method option in echo.proto says
    async def ping(self, ctx: Context, req: echo_pb2.EchoRequest) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse(reply="pong", served_by=str(ctx.self_id))


def service_config(signaling_url: str, listen: str = "127.0.0.1:0") -> ActrConfig:
    """Listen for direct lanes; admit echo clients (other types are denied by default)."""
    admit_clients = AclRuleConfig("allow", ((None, ActrTypeName.parse("acme+echo-client")),))
    return ActrConfig(
        actr_type=ACTR_TYPE,
        signaling_url=signaling_url,
        websocket_listen=listen,
        acl=(admit_clients,),
    )


async def serve(signaling_url: str, listen: str) -> None:
    node = ActrSystem(service_config(signaling_url, listen)).attach(EchoService())
    ref = await node.start()
    assert node.network is not None and node.network.listener is not None
    print(f"echo service {ref.actor_id} serving lanes at {node.network.listener.address}",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await ref.shutdown()
    print("echo service stopped", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the echo service as its own process.")
    parser.add_argument("--signaling", required=True, help="ws://host:port/signaling/ws")
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port for peer lanes")
    args = parser.parse_args()
    asyncio.run(serve(args.signaling, args.listen))
