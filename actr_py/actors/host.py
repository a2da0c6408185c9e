"""ActorHost: the awake actors of one node, their lifecycle, saving, sleeping and timers.

Per key at most one transition (create, wake, sleep, destroy) runs at a time;
callers that arrive meanwhile wait for it and look again. An awake actor is
an entry in its type's :class:`IdleTable`; while something holds it
(``_busy > 0``) it never sleeps. Three host-wide timers, not per-actor tasks,
drive time: the save throttle, the idle sweep and the next due schedule.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..ids import ActorId
from .codec import StateEncodeError, pack, unpack
from .connections import Connection, ConnectionService
from .definition import AWAKE, GONE, STARTING, STOPPING, ActionSpec, Actor, current_connection
from .errors import (
    ActionNotFound,
    ActorExists,
    ActorInternalError,
    ActorNotFound,
    ActorTimeout,
    ActorUnavailable,
    BadArguments,
    UserError,
)
from .keys import MODE_CREATE, MODE_GET, MODE_GET_OR_CREATE, decode_key, encode_id
from .placement import LocalPlacement, Placement, SignalingPlacement
from .queue import QueueMessage, QueueService
from .schedule import ScheduleService
from .storage import ActorRow, ActorStore
from .timing import IdleTable, SaveThrottle

if TYPE_CHECKING:
    from ..runtime.node import ActrNode
    from ..runtime.system import ActrSystem
    from .client import ActorClient
    from .gateway import ActorGateway

__all__ = ["MODE_CREATE", "MODE_GET", "MODE_GET_OR_CREATE", "ActorHost", "Elsewhere", "HostStats"]

log = logging.getLogger("actr_py.actors")


#: Idle actors put to sleep per sweep; the sweep re-arms at once for the rest.
_SWEEP_BATCH = 2000


class Elsewhere(Exception):
    """The key is served by another node: forward the request to ``owner``."""

    def __init__(self, owner: ActorId) -> None:
        super().__init__(str(owner))
        self.owner = owner


class _Ext:
    """Per-actor extras, allocated only for actors that use them."""

    __slots__ = ("conns", "drained", "q_inflight", "q_waiter", "run_task")

    def __init__(self) -> None:
        self.conns: dict[int, Connection] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.q_inflight: QueueMessage | None = None
        self.q_waiter: asyncio.Future[None] | None = None
        self.run_task: asyncio.Task[None] | None = None


@dataclass
class HostStats:
    created: int = 0
    woken: int = 0
    slept: int = 0
    destroyed: int = 0
    actions: int = 0
    saved_rows: int = 0
    flushes: int = 0
    schedules_fired: int = 0


class ActorHost:
    """Hosts actor types on a node. Attach :meth:`workload` to an ``ActrSystem``.

    ``storage`` is the node's SQLite file (``":memory:"`` for throwaway use).
    ``save_interval`` bounds how long a change stays unsaved; ``clock`` (epoch
    seconds, schedules) and ``mono`` (idle time; default the loop's clock) are
    injectable, and ``timers=False`` leaves sleeping and schedules to explicit
    :meth:`sleep_idle` / :meth:`run_due_schedules` calls (tests).
    """

    def __init__(
        self,
        actors: Iterable[type[Actor]],
        *,
        storage: str | Path,
        save_interval: float = 1.0,
        durability: str = "process",
        gateway: str | None = None,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] | None = None,
        timers: bool = True,
    ) -> None:
        defs: dict[str, type[Actor]] = {}
        for cls in actors:
            if not (isinstance(cls, type) and issubclass(cls, Actor)) or cls is Actor:
                raise ConfigError(f"ActorHost takes Actor subclasses, got {cls!r}")
            if cls.name in defs:
                raise ConfigError(f"two actor types named {cls.name!r}")
            if not cls.name.replace("_", "").replace("-", "").isalnum():
                raise ConfigError(f"actor type name {cls.name!r}: letters, digits, '_', '-'")
            defs[cls.name] = cls
        if not defs:
            raise ConfigError("ActorHost needs at least one actor type")
        self.definitions = defs
        self._live: dict[str, IdleTable[Actor]] = {
            name: IdleTable(cls.options.idle_timeout) for name, cls in defs.items()
        }
        self._has_run = {name: cls.run is not Actor.run for name, cls in defs.items()}
        self._has_wake = {name: cls.on_wake is not Actor.on_wake for name, cls in defs.items()}
        self._has_sleep = {name: cls.on_sleep is not Actor.on_sleep for name, cls in defs.items()}
        self.store = ActorStore(storage, durability=durability, clock=clock)
        self.clock = clock
        self._mono = mono
        self.save_interval = save_interval
        self._throttle = SaveThrottle(save_interval)
        self._dirty: dict[Actor, None] = {}
        self._transitions: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._timers_on = timers
        self._save_handle: asyncio.TimerHandle | None = None
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._sweep_at: float | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gateway_address = gateway
        self.gateway: ActorGateway | None = None
        self.node: ActrNode | None = None
        self.placement: Placement = LocalPlacement()
        self.stats = HostStats()
        self.queues = QueueService(self)
        self.schedules = ScheduleService(self)
        self.connections = ConnectionService(self)
        self.running = False
        self._stopping = False
        self._client: ActorClient | None = None

    # ---- wiring ------------------------------------------------------------------

    def attach(self, system: ActrSystem) -> ActrNode:
        """Attach this host's workload to ``system``; start the returned node as usual.

        The workload serves the routes ``actr.actors.<Name>.<action>`` and
        ``actr.actors.sys.*``; the host opens its store when the node starts and
        puts every actor to sleep (state saved) when it stops.
        """
        from .workload import build_workload

        if self.node is not None:
            raise ConfigError("this ActorHost is already attached to a node")
        self.node = system.attach(build_workload(self))
        return self.node

    def client(self) -> ActorClient:
        """A client that serves local keys directly and forwards the rest."""
        if self._client is None:
            from ..runtime.context import Context
            from .client import ActorClient

            if self.node is None:
                raise ActorUnavailable("the actor host has not started")
            self._client = ActorClient(Context(self.node), host=self)
        return self._client

    @property
    def gateway_url(self) -> str | None:
        return self.gateway.url if self.gateway is not None else None

    def mono(self) -> float:
        assert self._mono is not None
        return self._mono()

    async def start(self, node: ActrNode) -> None:
        """Open the store, take the storage's placement lease, resume schedules and queues."""
        self.node = node
        loop = asyncio.get_running_loop()
        if self._mono is None:
            self._mono = loop.time
        self.store.open()
        try:
            network = getattr(node, "network", None)
            if network is not None:
                if self.store.path == ":memory:":
                    raise ConfigError(
                        "a node with signaling needs a storage file: keys are placed by the "
                        "storage they live in, and an in-memory one never comes back"
                    )
                self.placement = SignalingPlacement(network.client, self.store.storage_id)
                try:
                    await asyncio.wait_for(self.placement.announce(), 30.0)
                except TimeoutError:
                    raise ActorUnavailable("could not take the storage's placement lease") from None
            self.running = True
            self.schedules.load()
            for name, key in self.store.actors_with_messages():
                if self._has_run.get(name):
                    self._spawn(self._resume_consumer(name, key))
            if self._gateway_address is not None:
                from .gateway import ActorGateway

                host, _, port = self._gateway_address.rpartition(":")
                self.gateway = ActorGateway(self, host or "127.0.0.1", int(port or 0))
                await self.gateway.start()
        except BaseException:
            self.running = False
            self.store.close()
            raise

    async def on_signaling_connected(self) -> None:
        if isinstance(self.placement, SignalingPlacement) and self.running:
            await self.placement.announce()

    async def stop(self, timeout: float = 10.0) -> None:
        """Close connections, put every awake actor to sleep (state saved), close the store."""
        if not self.running:
            return
        self._stopping = True
        if self.gateway is not None:
            await self.gateway.close()
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        self.schedules.stop()
        # Everyone's latest changes go to disk first, so they are safe even if the sleep
        # hooks below overrun the node's shutdown grace; plain actors then sleep at once.
        self._flush()
        self.store.commit_now()
        awake = [a for table in self._live.values() for a in list(table.items.values())]
        retiring = [self._retire(a, destroy=False, reason="node stopping") for a in awake]
        self.store.commit_now()
        pending = [f for f in (*retiring, *self._transitions.values()) if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        self._flush()
        self.queues.fail_all(ActorUnavailable("the actor's node stopped"))
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        self.running = False
        self.store.close()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _def(self, name: str) -> type[Actor]:
        cls = self.definitions.get(name)
        if cls is None:
            raise ActorNotFound(f"no actor type {name!r} here")
        return cls

    def awake_count(self) -> int:
        return sum(len(t) for t in self._live.values())

    def is_awake(self, name: str, key: str) -> bool:
        return self._live[name].get(key) is not None

    # ---- acquiring an awake actor -------------------------------------------------

    async def acquire(
        self, cls: type[Actor], key: str, mode: int, input: Any = None, nonce: str | None = None
    ) -> Actor:
        """The awake actor for ``key``, held (``_busy`` + 1) until :meth:`_release`.

        Wakes or creates it as ``mode`` allows; raises :class:`Elsewhere` when
        another node serves the key.
        """
        table = self._live[cls.name]
        while True:
            actor = table.items.get(key)
            if actor is not None:
                if mode == MODE_CREATE:
                    raise ActorExists(f"actor {cls.name} {decode_key(key)!r} already exists")
                if nonce is not None and self.store.actor_nonce(cls.name, key) != nonce:
                    raise ActorNotFound(f"no actor with that id ({cls.name})")
                actor._busy += 1
                return actor
            pending = self._transitions.get((cls.name, key))
            if pending is not None:
                await asyncio.wait((pending,))
                continue
            if self._stopping or not self.running:
                raise ActorUnavailable("the actor's node is stopping")
            return await self._bring_up(cls, key, mode, input, nonce)

    async def _bring_up(
        self, cls: type[Actor], key: str, mode: int, input: Any, nonce: str | None
    ) -> Actor:
        name = cls.name
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._transitions[(name, key)] = done
        try:
            row = self.store.load_actor(name, key)
            if row is None:
                if mode == MODE_GET or nonce is not None:
                    owner = await self.placement.locate(name, key)
                    if owner is not None:
                        raise Elsewhere(owner)
                    raise ActorNotFound(f"no actor {name} {decode_key(key)!r}")
                owner = await self.placement.claim(name, key)
                if owner is not None:
                    raise Elsewhere(owner)
                actor = await self._create(cls, key, input)
            else:
                if mode == MODE_CREATE:
                    raise ActorExists(f"actor {name} {decode_key(key)!r} already exists")
                if nonce is not None and row[0] != nonce:
                    raise ActorNotFound(f"no actor with that id ({name})")
                actor = await self._wake(cls, key, row)
            self._live[name].add(key, actor, self.mono())
            return actor
        finally:
            del self._transitions[(name, key)]
            done.set_result(None)

    def _instance(self, cls: type[Actor], key: str) -> Actor:
        actor = cls.__new__(cls)
        actor._host = self
        actor._key = key
        actor.state = None
        actor._vars = None
        actor._busy = 1
        actor._idle_since = 0.0
        actor._dirty = False
        actor._phase = STARTING
        actor._ext = None
        return actor

    async def _create(self, cls: type[Actor], key: str, input: Any) -> Actor:
        actor = self._instance(cls, key)
        timeout = cls.options.create_timeout
        try:
            async with asyncio.timeout(timeout) as cm:
                state = actor.create_state(input)
                if inspect.isawaitable(state):
                    state = await state
                actor.state = state
                await actor.on_create(input)
            data = pack(actor.state)
        except BaseException as exc:
            raise self._hook_error(exc, cm, f"{cls.name}.create", timeout) from None
        nonce = os.urandom(6).hex()
        self.store.insert_actor(cls.name, key, nonce, data)
        await self.store.durable()
        self.stats.created += 1
        await self._awaken(actor)
        return actor

    async def _wake(self, cls: type[Actor], key: str, row: ActorRow) -> Actor:
        actor = self._instance(cls, key)
        actor.state = unpack(row[1])
        await self._awaken(actor)
        self.stats.woken += 1
        return actor

    async def _awaken(self, actor: Actor) -> None:
        cls = type(actor)
        if self._has_wake[cls.name]:
            timeout = cls.options.wake_timeout
            try:
                async with asyncio.timeout(timeout) as cm:
                    await actor.on_wake()
            except BaseException as exc:
                raise self._hook_error(exc, cm, f"{cls.name}.on_wake", timeout) from None
        actor._phase = AWAKE
        if self._has_wake[cls.name]:
            self._mark_dirty(actor)
        if self._has_run[cls.name]:
            self._ext(actor).run_task = asyncio.get_running_loop().create_task(
                self._run_loop(actor), name=f"actor-run-{cls.name}"
            )

    async def _run_loop(self, actor: Actor) -> None:
        actor._busy += 1
        try:
            await actor.run()
        except asyncio.CancelledError:
            pass  # the actor is going to sleep or being destroyed
        except Exception:
            log.exception("run() of %r failed; it restarts on the next wake", actor)
        finally:
            self._mark_dirty(actor)
            self._release(actor)

    def _ext(self, actor: Actor) -> _Ext:
        ext = actor._ext
        if ext is None:
            ext = actor._ext = _Ext()
        return ext

    def _hold(self, actor: Actor) -> None:
        actor._busy += 1

    def _release(self, actor: Actor) -> None:
        busy = actor._busy - 1
        actor._busy = busy
        if busy:
            return
        if actor._phase == AWAKE:
            table = self._live[type(actor).name]
            now = self.mono()
            table.became_idle(actor._key, actor, now)
            timeout = table.timeout
            if timeout is not None and self._timers_on and self._sweep_handle is None:
                self._arm_sweep(now + timeout)
        elif actor._phase == STOPPING:
            ext = actor._ext
            if ext is not None and ext.drained is not None and not ext.drained.done():
                ext.drained.set_result(None)

    # ---- errors ------------------------------------------------------------------

    def _internal(self, exc: BaseException, where: str) -> ActorInternalError:
        ref = os.urandom(4).hex()
        log.error("%s failed (ref %s)", where, ref, exc_info=exc)
        return ActorInternalError(ref=ref)

    def _hook_error(
        self, exc: BaseException, cm: asyncio.Timeout | None, where: str, timeout: float
    ) -> BaseException:
        """What the caller sees when a hook failed: UserError as is, else nothing internal."""
        if isinstance(exc, UserError | asyncio.CancelledError):
            return exc
        if isinstance(exc, TimeoutError) and cm is not None and cm.expired():
            return ActorTimeout(f"{where} took longer than {timeout}s")
        return self._internal(exc, where)

    # ---- actions -------------------------------------------------------------------

    async def invoke(
        self,
        name: str,
        key: str,
        action: str,
        args: list[Any] | tuple[Any, ...] = (),
        *,
        mode: int = MODE_GET_OR_CREATE,
        input: Any = None,
        nonce: str | None = None,
        conn_id: int | None = None,
    ) -> Any:
        """Run ``action(*args)`` on the actor, waking or creating it as ``mode`` allows."""
        cls = self._def(name)
        spec = cls._actions.get(action)
        if spec is None:
            raise ActionNotFound(f"{name} has no action {action!r}")
        actor = await self.acquire(cls, key, mode, input, nonce)
        conn = None
        if conn_id is not None:
            ext = actor._ext
            conn = ext.conns.get(conn_id) if ext is not None and ext.conns else None
        try:
            return await self._run_action(actor, spec, args, conn)
        finally:
            self.stats.actions += 1
            if not spec.readonly:
                self._mark_dirty(actor)
            self._release(actor)

    async def _run_action(
        self, actor: Actor, spec: ActionSpec, args: Any, conn: Connection | None
    ) -> Any:
        token = current_connection.set(conn) if conn is not None else None
        cm: asyncio.Timeout | None = None
        timeout = spec.timeout or type(actor).options.action_timeout
        try:
            if spec.is_async:
                cm = asyncio.timeout(timeout)
                async with cm:
                    return await spec.fn(actor, *args)
            return spec.fn(actor, *args)
        except TypeError as exc:
            try:
                inspect.signature(spec.fn).bind(actor, *args)
            except TypeError:
                raise BadArguments(f"{type(actor).name}.{spec.name}: {exc}") from None
            raise self._internal(exc, f"{type(actor).name}.{spec.name}") from None
        except Exception as exc:
            err = self._hook_error(exc, cm, f"action {type(actor).name}.{spec.name}", timeout)
            raise err from None
        finally:
            if token is not None:
                current_connection.reset(token)

    # ---- saving -----------------------------------------------------------------------

    def _mark_dirty(self, actor: Actor) -> None:
        if actor._dirty or actor._phase != AWAKE:
            return
        actor._dirty = True
        self._dirty[actor] = None
        if self._throttle.mark(self.mono()) is not None:
            self._save_handle = asyncio.get_running_loop().call_later(
                self.save_interval, self._on_save_tick
            )

    def _on_save_tick(self) -> None:
        self._save_handle = None
        self._throttle.flushed()
        try:
            self._flush()
        except Exception:
            log.exception("saving actor state failed")

    def _flush(self) -> int:
        dirty = self._dirty
        if not dirty:
            return 0
        self._dirty = {}
        rows = []
        for actor in dirty:
            actor._dirty = False
            if actor._phase != AWAKE:
                continue  # retiring actors save themselves
            try:
                rows.append((pack(actor.state), type(actor).name, actor._key))
            except StateEncodeError as exc:
                log.error("state of %r not saved: %s", actor, exc)
        if rows:
            self.store.save_states(rows)
            self.stats.saved_rows += len(rows)
        self.stats.flushes += 1
        return len(rows)

    async def flush(self) -> None:
        """Write every pending change now and wait until it is durable."""
        self._flush()
        await self.store.durable()

    async def _save(self, actor: Actor, immediate: bool) -> None:
        if actor._phase not in (AWAKE, STOPPING):
            return
        if not immediate:
            self._mark_dirty(actor)
            return
        self._dirty.pop(actor, None)
        actor._dirty = False
        self.store.save_states([(pack(actor.state), type(actor).name, actor._key)])
        self.stats.saved_rows += 1
        await self.store.durable()

    # ---- sleeping and destroying -----------------------------------------------------

    def _arm_sweep(self, at: float | None = None) -> None:
        if not self._timers_on or self._stopping:
            return
        if at is None:
            deadlines = [d for t in self._live.values() if (d := t.next_deadline()) is not None]
            if not deadlines:
                return
            at = min(deadlines)
        if self._sweep_handle is not None:
            if self._sweep_at is not None and self._sweep_at <= at:
                return
            self._sweep_handle.cancel()
        self._sweep_at = at
        self._sweep_handle = asyncio.get_running_loop().call_later(
            max(0.0, at - self.mono()), self._on_sweep
        )

    def _on_sweep(self) -> None:
        self._sweep_handle = None
        self._sweep_at = None
        n = self._start_sleeps(self.mono())
        if n >= _SWEEP_BATCH:
            self._arm_sweep(self.mono())
        else:
            self._arm_sweep()

    def _start_sleeps(self, now: float) -> int:
        n = 0
        for table in self._live.values():
            for _, actor in table.expired(now, _SWEEP_BATCH - n):
                self._retire(actor, destroy=False, reason="idle")
                n += 1
            if n >= _SWEEP_BATCH:
                break
        return n

    async def sleep_idle(self, now: float | None = None) -> int:
        """Put every actor idle past its type's timeout at ``now`` to sleep; wait for it."""
        n = total = 0
        while True:
            futures = []
            for table in self._live.values():
                for _, actor in table.expired(self.mono() if now is None else now):
                    futures.append(self._retire(actor, destroy=False, reason="idle"))
            n = len(futures)
            if not n:
                await self.store.durable()
                return total
            total += n
            await asyncio.wait(futures)

    async def sleep_all(self) -> int:
        """Put every awake actor to sleep now (closing its connections); for tests and tools."""
        awake = [a for t in self._live.values() for a in list(t.items.values())]
        futures = [self._retire(a, destroy=False, reason="sleep_all") for a in awake]
        if futures:
            await asyncio.wait(futures)
        await self.store.durable()
        return len(futures)

    def _request_sleep(self, actor: Actor) -> None:
        self._retire(actor, destroy=False, reason="requested")

    def _request_destroy(self, actor: Actor) -> None:
        self._retire(actor, destroy=True, reason="destroyed")

    def _retire(self, actor: Actor, *, destroy: bool, reason: str) -> asyncio.Future[None]:
        """Begin sleep or destroy: callers of the key wait from now on. Returns its future."""
        cls = type(actor)
        tk = (cls.name, actor._key)
        if actor._phase != AWAKE:
            pending = self._transitions.get(tk)
            if pending is not None:
                return pending
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        done = asyncio.get_running_loop().create_future()
        if not destroy and self._plain_sleep(actor):
            done.set_result(None)
            return done
        actor._phase = STOPPING
        self._live[cls.name].remove(actor._key)
        self._dirty.pop(actor, None)
        actor._dirty = False
        self._transitions[tk] = done
        self._spawn(self._do_retire(actor, destroy, reason, done))
        return done

    def _plain_sleep(self, actor: Actor) -> bool:
        """Sleep at once, without a task, an actor with nothing to wind down.

        Most idle actors have no on_sleep hook, run loop or connection: their
        sleep is one UPDATE in the current transaction (committed at the end of
        this loop iteration), which keeps sweeping or stopping 100,000 of them cheap.
        """
        name = type(actor).name
        ext = actor._ext
        if actor._busy or self._has_sleep[name] or (ext is not None and (
            ext.conns or ext.q_waiter is not None
            or (ext.run_task is not None and not ext.run_task.done())
        )):
            return False
        self._live[name].remove(actor._key)
        self._dirty.pop(actor, None)
        actor._dirty = False
        actor._phase = GONE
        try:
            self.store.save_states([(pack(actor.state), name, actor._key)])
            self.stats.saved_rows += 1
        except StateEncodeError as exc:
            log.error("state of %r not saved at sleep: %s", actor, exc)
        self.stats.slept += 1
        return True

    async def _do_retire(
        self, actor: Actor, destroy: bool, reason: str, done: asyncio.Future[None]
    ) -> None:
        cls = type(actor)
        opts = cls.options
        name, key = cls.name, actor._key
        ext = actor._ext
        try:
            if ext is not None:
                task = ext.run_task
                if task is not None and not task.done():
                    task.cancel()
                    await asyncio.wait((task,), timeout=opts.sleep_timeout)
                waiter = ext.q_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_exception(ActorUnavailable(f"actor {reason}"))
                for conn in list((ext.conns or {}).values()):
                    await self.connections.close(conn, reason, final=destroy)
            if actor._busy:
                drained = self._ext(actor).drained = asyncio.get_running_loop().create_future()
                await asyncio.wait((drained,), timeout=opts.action_timeout + opts.sleep_timeout)
            hook, timeout = (
                (actor.on_destroy, opts.destroy_timeout) if destroy
                else (actor.on_sleep, opts.sleep_timeout)
            )
            try:
                async with asyncio.timeout(timeout):
                    await hook()
            except Exception:
                log.exception("%s of %r failed", hook.__name__, actor)
            if destroy:
                await self._erase(name, key)
            else:
                try:
                    self.store.save_states([(pack(actor.state), name, key)])
                    self.stats.saved_rows += 1
                except StateEncodeError as exc:
                    log.error("state of %r not saved at sleep: %s", actor, exc)
                await self.store.durable()
                self.stats.slept += 1
        except Exception:
            log.exception("retiring %r failed", actor)
        finally:
            actor._phase = GONE
            del self._transitions[(name, key)]
            done.set_result(None)

    async def _erase(self, name: str, key: str) -> None:
        self.schedules.forget_actor(name, key)
        self.store.delete_actor(name, key)
        await self.store.durable()
        self.queues.fail_waiters(name, key, ActorNotFound(f"actor {name} was destroyed"))
        self.stats.destroyed += 1
        await self.placement.release(name, key)

    async def destroy(self, name: str, key: str, nonce: str | None = None) -> None:
        """Run on_destroy, then delete the actor's state, queue and schedules."""
        cls = self._def(name)
        while True:
            actor = await self.acquire(cls, key, MODE_GET, None, nonce)
            if actor._phase == AWAKE:
                done = self._retire(actor, destroy=True, reason="destroyed")
                self._release(actor)
                await asyncio.shield(done)
                return
            self._release(actor)

    async def _resume_consumer(self, name: str, key: str) -> None:
        """Wake an actor that has queued messages (after a restart) so run() drains them."""
        try:
            actor = await self.acquire(self._def(name), key, MODE_GET)
        except Exception as exc:
            log.warning("could not resume queue consumer %s/%s: %r", name, key, exc)
            return
        self._release(actor)

    def _actor_id_of(self, actor: Actor) -> str:
        name = type(actor).name
        nonce = self.store.actor_nonce(name, actor._key)
        if nonce is None:
            raise ActorUnavailable("the actor is being created")
        return encode_id(name, actor._key, nonce)

    async def resolve(
        self, name: str, key: str, mode: int, input: Any = None, nonce: str | None = None
    ) -> str:
        """Make sure the actor exists (as ``mode`` says) and return its id."""
        actor = await self.acquire(self._def(name), key, mode, input, nonce)
        try:
            return self._actor_id_of(actor)
        finally:
            self._release(actor)

    async def run_due_schedules(self, now: float | None = None) -> int:
        """Fire every schedule due at ``now`` (for tests and tools with injected time)."""
        return await self.schedules.run_due(now)
