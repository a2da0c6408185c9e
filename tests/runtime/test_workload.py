"""Handler declaration: annotations, explicit types, service descriptors."""

from __future__ import annotations

import pytest

from actr_py import ConfigError, Context, PayloadType, Workload, handler
from actr_py.proto import actr_pb2
from examples.echo import echo_pb2

SERVICE = echo_pb2.DESCRIPTOR.services_by_name["EchoService"]


def test_types_from_annotations() -> None:
    class W(Workload):
        @handler("a.B.Proto")
        async def p(self, ctx: Context, req: actr_pb2.Realm) -> actr_pb2.ActrType: ...

        @handler("a.B.Raw")
        async def r(self, ctx: Context, req: bytes) -> bytes: ...

        @handler("a.B.Plain")
        async def q(self, ctx: Context, req: dict) -> list: ...

    s = W.handler_specs()
    assert (s["a.B.Proto"].request_type, s["a.B.Proto"].response_type) == (
        actr_pb2.Realm, actr_pb2.ActrType
    )
    assert s["a.B.Raw"].request_type is bytes
    # Plain annotations are documentation: such payloads decode by content type.
    assert s["a.B.Plain"].request_type is None


def test_explicit_types_and_options_win() -> None:
    class W(Workload):
        @handler("a.B.C", request=actr_pb2.Realm, payload_type=PayloadType.RPC_SIGNAL,
                 concurrency=3)
        async def c(self, ctx, req): ...

    spec = W.handler_specs()["a.B.C"]
    assert spec.request_type is actr_pb2.Realm and spec.response_type is None
    assert spec.payload_type is PayloadType.RPC_SIGNAL and spec.concurrency == 3


def test_service_descriptor_supplies_route_keys_and_types() -> None:
    class W(Workload, service=SERVICE):
        @handler("Echo")
        async def echo(self, ctx, req): ...

        @handler("other.Svc.Free")  # a full route key bypasses the descriptor
        async def free(self, ctx, req): ...

    s = W.handler_specs()
    assert set(s) == {"echo.EchoService.Echo", "other.Svc.Free"}
    assert s["echo.EchoService.Echo"].request_type.DESCRIPTOR.name == "EchoRequest"


def test_unknown_method_in_service_is_a_config_error() -> None:
    class W(Workload, service=SERVICE):
        @handler("Nope")
        async def nope(self, ctx, req): ...

    with pytest.raises(ConfigError, match="has no method 'Nope'"):
        W.handler_specs()


def test_bad_declarations() -> None:
    with pytest.raises(ConfigError):
        handler("")
    with pytest.raises(ConfigError, match="concurrency"):
        handler("a.B.C", concurrency=0)


def test_handlers_are_inherited() -> None:
    class Base(Workload):
        @handler("a.B.Base")
        async def base(self, ctx, req): ...

    class Child(Base):
        @handler("a.B.Child")
        async def child(self, ctx, req): ...

    assert set(Child.handler_specs()) == {"a.B.Base", "a.B.Child"}
    assert set(Base.handler_specs()) == {"a.B.Base"}
