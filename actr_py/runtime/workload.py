"""Workload: the user's actor class, its lifecycle hooks and its handlers.

Handlers are declared per route key with :func:`handler`. Request and
response types come from the annotations (a protobuf message class, ``bytes``,
or any msgpack-able Python type), from explicit arguments, or from a protobuf
service descriptor given to the class, so route keys and types are not typed
twice::

    class Echo(Workload, service=echo_pb2.DESCRIPTOR.services_by_name["Echo"]):
        @handler("Say")                      # -> "echo.Echo.Say", types from the descriptor
        async def say(self, ctx, req): ...
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from ..errors import ConfigError
from ..ids import ActorId
from ..payload_type import PayloadType
from ..proto import options_pb2

if TYPE_CHECKING:
    from .context import Context

__all__ = ["HandlerSpec", "Workload", "handler"]

log = logging.getLogger("actr_py.workload")


@dataclass(frozen=True)
class _Decl:
    route_key: str
    request: type | None
    response: type | None
    payload_type: PayloadType | None
    concurrency: int


@dataclass(frozen=True)
class HandlerSpec:
    """A resolved handler: what the scheduler needs to run it."""

    route_key: str
    attr: str
    request_type: type | None
    response_type: type | None
    payload_type: PayloadType
    concurrency: int
    is_async: bool


def handler(
    route_key: str,
    *,
    request: type | None = None,
    response: type | None = None,
    payload_type: PayloadType | None = None,
    concurrency: int = 1,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a method as the handler of ``route_key`` (``"pkg.Service.Method"``).

    ``concurrency=1`` (the default) runs the handler in the actor's serial
    turn; ``concurrency=N`` lets up to N calls of this handler run at once,
    interleaved with others.
    """
    if not isinstance(route_key, str) or not route_key:
        raise ConfigError(f"handler route key must be a non-empty string, got {route_key!r}")
    if concurrency < 1:
        raise ConfigError(f"handler {route_key}: concurrency must be >= 1, got {concurrency}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__actr_handler__ = _Decl(  # type: ignore[attr-defined]
            route_key, request, response, payload_type, concurrency
        )
        return fn

    return deco


def _annotated_types(fn: Callable[..., Any]) -> tuple[type | None, type | None]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return None, None
    params = [p for p in inspect.signature(fn).parameters if p != "return"]
    req = hints.get(params[2]) if len(params) >= 3 else None
    resp = hints.get("return")
    return (req if isinstance(req, type) else None, resp if isinstance(resp, type) else None)


def _method_payload_type(method: Any) -> PayloadType | None:
    opts = method.GetOptions()
    if opts.HasExtension(options_pb2.payload_type):
        return PayloadType(opts.Extensions[options_pb2.payload_type])
    return None


class Workload:
    """Base class of every actor. Override the hooks you need."""

    #: A protobuf service this workload implements (set via the class keyword).
    service: typing.ClassVar[ServiceDescriptor | None] = None
    _handler_specs: typing.ClassVar[dict[str, HandlerSpec] | None] = None

    def __init_subclass__(cls, service: ServiceDescriptor | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if service is not None:
            cls.service = service
        cls._handler_specs = None  # resolved lazily: annotations may be forward refs

    # ---- lifecycle hooks -------------------------------------------------

    async def on_start(self, ctx: Context) -> None:
        """Runs once before the first message is handled."""

    async def on_stop(self, ctx: Context) -> None:
        """Runs once at shutdown, after in-flight work finished or its grace ran out."""

    async def on_error(self, ctx: Context | None, error: BaseException) -> None:
        """A handler, tell or stream callback raised; the caller has been answered."""
        log.warning("%s: %s: %s", type(self).__name__, type(error).__name__, error)

    async def on_mailbox_backpressure(self, depth: int, capacity: int) -> None:
        """The mailbox refused a message because it is full (senders got 503)."""

    async def on_signaling_connected(self) -> None:
        """The link to the signaling server is up (at start and after each reconnect)."""

    async def on_signaling_disconnected(self, error: BaseException | None) -> None:
        """The link to the signaling server dropped; the node reconnects with backoff."""

    async def on_actr_up(self, actor_id: ActorId) -> None:
        """An actor of a type this node subscribed to registered."""

    # ---- handler table ---------------------------------------------------

    @classmethod
    def handler_specs(cls) -> dict[str, HandlerSpec]:
        if cls._handler_specs is None:
            cls._handler_specs = cls._resolve_handlers()
        return cls._handler_specs

    @classmethod
    def _resolve_handlers(cls) -> dict[str, HandlerSpec]:
        specs: dict[str, HandlerSpec] = {}
        seen: set[str] = set()
        for klass in cls.__mro__:
            for attr, fn in vars(klass).items():
                decl = getattr(fn, "__actr_handler__", None)
                if decl is None or attr in seen:
                    continue
                seen.add(attr)
                spec = cls._spec_for(attr, fn, decl)
                if spec.route_key in specs:
                    raise ConfigError(
                        f"{cls.__name__}: route {spec.route_key!r} has two handlers "
                        f"({specs[spec.route_key].attr} and {attr})"
                    )
                specs[spec.route_key] = spec
        return specs

    @classmethod
    def _spec_for(cls, attr: str, fn: Callable[..., Any], decl: _Decl) -> HandlerSpec:
        route_key = decl.route_key
        req_t, resp_t = decl.request, decl.response
        payload_type = decl.payload_type
        service = cls.service
        if service is not None and "." not in route_key:
            method = service.methods_by_name.get(route_key)
            if method is None:
                raise ConfigError(
                    f"{cls.__name__}.{attr}: service {service.full_name} has no method "
                    f"{route_key!r} (it has {sorted(service.methods_by_name)})"
                )
            route_key = f"{service.full_name}.{method.name}"
            req_t = req_t or message_factory.GetMessageClass(method.input_type)
            resp_t = resp_t or message_factory.GetMessageClass(method.output_type)
            payload_type = payload_type or _method_payload_type(method)
        if req_t is None or resp_t is None:
            ann_req, ann_resp = _annotated_types(fn)
            req_t = req_t or ann_req
            resp_t = resp_t or ann_resp
        for what, t in (("request", req_t), ("response", resp_t)):
            if t is not None and not (issubclass(t, Message) or t in _PLAIN_TYPES):
                # Other annotations are documentation only; decode by content type.
                if what == "request":
                    req_t = None
                else:
                    resp_t = None
        return HandlerSpec(
            route_key=route_key,
            attr=attr,
            request_type=req_t,
            response_type=resp_t,
            payload_type=payload_type or PayloadType.RPC_RELIABLE,
            concurrency=decl.concurrency,
            is_async=inspect.iscoroutinefunction(fn),
        )


_PLAIN_TYPES = (bytes,)
