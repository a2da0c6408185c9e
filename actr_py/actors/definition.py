"""Actor definitions: a class with state, vars, actions and lifecycle hooks.

::

    class Counter(Actor):
        options = ActorOptions(idle_timeout=30.0)

        def create_state(self, input):          # once, when the key is created
            return {"count": input or 0}

        @action
        async def increment(self, amount: int) -> int:
            self.state["count"] += amount
            self.broadcast("changed", self.state["count"])
            return self.state["count"]

One instance exists per awake actor, and only while it is awake. Instances
have ``__slots__`` (added for you when a subclass declares none), so the
per-actor cost is a small fixed object: keep data in ``self.state``
(persisted) or ``self.vars`` (rebuilt on every wake by ``create_vars``).

Hook order: create ``create_state → on_create → (stored) → on_wake → run``;
wake ``on_wake → run``; then ``on_sleep`` or ``on_destroy``. Each hook runs
under the timeout in :class:`ActorOptions`.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from ..errors import ConfigError
from .keys import decode_key

if TYPE_CHECKING:
    from .client import ActorClient
    from .connections import Connection
    from .queue import ActorQueue
    from .schedule import ActorSchedule

__all__ = ["ActionSpec", "Actor", "ActorOptions", "action", "current_connection"]

F = TypeVar("F", bound=Callable[..., Any])

#: The connection an action was called through (None for plain calls).
current_connection: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "actr_actor_connection", default=None
)

#: Phases of an in-memory actor.
STARTING, AWAKE, STOPPING, GONE = 0, 1, 2, 3


@dataclass(frozen=True)
class ActorOptions:
    """Per-type timeouts (seconds). ``idle_timeout=None`` keeps actors awake until shutdown."""

    idle_timeout: float | None = 30.0
    create_timeout: float = 5.0
    wake_timeout: float = 5.0
    sleep_timeout: float = 5.0
    destroy_timeout: float = 5.0
    action_timeout: float = 60.0
    connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("create_timeout", "wake_timeout", "sleep_timeout", "destroy_timeout",
                     "action_timeout", "connect_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"ActorOptions.{name} must be > 0")
        if self.idle_timeout is not None and self.idle_timeout < 0:
            raise ConfigError("ActorOptions.idle_timeout must be >= 0 or None")


@dataclass(frozen=True)
class ActionSpec:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    readonly: bool
    timeout: float | None


@overload
def action(fn: F, /) -> F: ...
@overload
def action(*, readonly: bool = False, timeout: float | None = None) -> Callable[[F], F]: ...


def action(
    fn: Callable[..., Any] | None = None, /, *, readonly: bool = False,
    timeout: float | None = None,
) -> Any:
    """Mark a method as an action, callable by clients and other actors.

    ``readonly=True`` promises the action does not change ``state``, so it does
    not mark the actor dirty (no save follows it). ``timeout`` overrides
    ``ActorOptions.action_timeout``.
    """

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__actor_action__ = (readonly, timeout)  # type: ignore[attr-defined]
        return f

    return deco(fn) if fn is not None else deco


_HOOKS = frozenset({
    "create_state", "create_vars", "on_create", "on_wake", "run", "on_sleep", "on_destroy",
    "on_before_connect", "create_conn_state", "on_connect", "on_disconnect",
})
_RESERVED = _HOOKS | frozenset({
    "key", "key_text", "id", "name", "state", "vars", "conn", "conns", "broadcast", "queue",
    "schedule", "actors", "save_state", "keep_awake", "sleep", "destroy", "options", "log",
})


class _ActorMeta(type):
    """Gives every actor class ``__slots__`` and an action table."""

    def __new__(mcs, cls_name: str, bases: tuple[type, ...], ns: dict[str, Any],
                **kw: Any) -> _ActorMeta:
        ns.setdefault("__slots__", ())
        if "__init__" in ns and bases:
            raise ConfigError(
                f"{cls_name}: actors are built by their host, so __init__ never runs; "
                "set per-actor data up in create_state, create_vars or on_wake"
            )
        cls = super().__new__(mcs, cls_name, bases, ns, **kw)
        actions: dict[str, ActionSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                marker = getattr(fn, "__actor_action__", None)
                if marker is None:
                    continue
                if attr.startswith("_") or attr in _RESERVED:
                    raise ConfigError(f"{cls_name}.{attr}: this name cannot be an action")
                readonly, timeout = marker
                actions[attr] = ActionSpec(
                    attr, fn, inspect.iscoroutinefunction(fn), readonly, timeout
                )
        cls._actions = actions  # type: ignore[attr-defined]
        if "name" not in ns:
            cls.name = cls_name  # type: ignore[attr-defined]
        return cls


class Actor(metaclass=_ActorMeta):
    """Base of every actor type; override the hooks you need and mark actions."""

    __slots__ = ("_busy", "_dirty", "_ext", "_host", "_idle_since", "_key", "_phase",
                 "_vars", "state")

    #: The type's name in keys, ids and route keys (default: the class name).
    name: ClassVar[str] = "Actor"
    options: ClassVar[ActorOptions] = ActorOptions()
    _actions: ClassVar[dict[str, ActionSpec]]

    # ---- hooks (override) ------------------------------------------------------

    def create_state(self, input: Any) -> Any:
        """The initial state of a new key, from the creator's ``input``. Must be msgpack-able."""
        return {}

    def create_vars(self) -> Any:
        """Per-wake, non-persisted data (clients, caches); built lazily on first use."""
        return None

    async def on_create(self, input: Any) -> None:
        """Once per key, before the first wake, with ``self.state`` set; raising cancels it."""

    async def on_wake(self) -> None:
        """Every time the actor comes into memory (after create, and after each sleep)."""

    async def run(self) -> None:
        """Long-running work while awake (typically ``async for m in self.queue.iter()``).

        Cancelled when the actor sleeps or is destroyed. Time spent waiting on
        ``self.queue`` counts as idle; anything else keeps the actor awake.
        """

    async def on_sleep(self) -> None:
        """Before the actor leaves memory; state is saved right after."""

    async def on_destroy(self) -> None:
        """Before the key's state, queue and schedules are deleted."""

    async def on_before_connect(self, params: Any) -> None:
        """Admit or refuse a connection: raise :class:`UserError` (e.g. code=403) to refuse."""

    def create_conn_state(self, params: Any) -> Any:
        """Per-connection state, kept in memory for the life of the connection."""
        return None

    async def on_connect(self, conn: Connection) -> None:
        """A connection was admitted (events sent from here reach it)."""

    async def on_disconnect(self, conn: Connection) -> None:
        """A connection closed (either side)."""

    # ---- what actors use ---------------------------------------------------------

    @property
    def key(self) -> tuple[str, ...]:
        return decode_key(self._key)

    @property
    def key_text(self) -> str:
        """The canonical key text (as stored and routed)."""
        return self._key

    @property
    def id(self) -> str:
        """This incarnation's id (see :func:`ActorClient.get_for_id`)."""
        return self._host._actor_id_of(self)

    @property
    def vars(self) -> Any:
        if self._vars is None:
            self._vars = self.create_vars()
        return self._vars

    @vars.setter
    def vars(self, value: Any) -> None:
        self._vars = value

    @property
    def conn(self) -> Connection | None:
        """The connection the current action came through, if any."""
        return current_connection.get()

    @property
    def conns(self) -> dict[int, Connection]:
        ext = self._ext
        return dict(ext.conns) if ext is not None and ext.conns else {}

    def broadcast(self, event: str, *args: Any) -> None:
        """Send an event to every connection of this actor (fire and forget, in order)."""
        ext = self._ext
        if ext is not None and ext.conns:
            for conn in list(ext.conns.values()):
                conn.send(event, *args)

    @property
    def queue(self) -> ActorQueue:
        from .queue import ActorQueue

        return ActorQueue(self)

    @property
    def schedule(self) -> ActorSchedule:
        from .schedule import ActorSchedule

        return ActorSchedule(self)

    @property
    def actors(self) -> ActorClient:
        """A client for calling other actors (and this one) from actor code."""
        return self._host.client()

    async def save_state(self, *, immediate: bool = False) -> None:
        """Mark state changed; with ``immediate=True`` return only once it is durable."""
        await self._host._save(self, immediate)

    def keep_awake(self) -> _KeepAwake:
        """``with self.keep_awake():`` (or ``async with``) holds off sleep for the block."""
        return _KeepAwake(self)

    def sleep(self) -> None:
        """Sleep as soon as nothing holds the actor (after the current action)."""
        self._host._request_sleep(self)

    def destroy(self) -> None:
        """Destroy the actor as soon as nothing holds it (after the current action)."""
        self._host._request_destroy(self)

    def __repr__(self) -> str:
        return f"<{type(self).name} {self.key!r}>"


class _KeepAwake:
    __slots__ = ("_actor",)

    def __init__(self, actor: Actor) -> None:
        self._actor = actor

    def __enter__(self) -> None:
        self._actor._host._hold(self._actor)

    def __exit__(self, *exc: object) -> None:
        host = self._actor._host
        host._mark_dirty(self._actor)  # work done while held may have changed state
        host._release(self._actor)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


def actor_hooks(cls: type[Actor]) -> tuple[bool, bool]:
    """(has a run loop, has a custom create_vars) - what the host may skip."""
    return cls.run is not Actor.run, cls.create_vars is not Actor.create_vars
