"""EchoService: a protobuf-typed actor. Route keys and types come from echo.proto."""

from __future__ import annotations

from actr_py import Context, Workload, handler

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
