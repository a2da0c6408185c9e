"""Scheduler: runs the workload's handlers, one turn at a time by default.

Rules (fixing upstream's deadlocking strictly-serial mailbox):

* Requests and tells wait in the mailbox and run one at a time, in
  priority then arrival order, under the actor's *serial turn*.
* A handler declared with ``concurrency=N`` runs outside the serial turn,
  up to N at once.
* **Re-entrancy by call chain.** Every call carries the id of the chain it
  belongs to (the root request's id). A request whose chain is already
  executing in this actor is part of a call the actor itself is waiting on
  (A -> B -> A), so it runs at once instead of queueing behind its own
  caller. Unrelated requests still wait their turn.
* Calls from this node's own shell skip the mailbox (zero-copy) but still
  take the serial turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ..errors import ActrError, BadRequest, InternalError, NotFound, StateError
from ..ids import ActorId
from ..inbound.mailbox import InboundMessage, MailboxFull
from ..payload_type import PayloadType
from ..proto import package_pb2
from ..protocol import envelope as envcodec
from ..protocol.codec import EncodeError, decode_payload, encode_payload
from .context import Context
from .workload import HandlerSpec, Workload

if TYPE_CHECKING:
    from ..inbound.mailbox import MemoryMailbox
    from .node import ActrNode

__all__ = ["Scheduler"]

log = logging.getLogger("actr_py.scheduler")

_REQUEST = package_pb2.DIRECTION_REQUEST


_routing = envcodec.routing_metadata


class Scheduler:
    def __init__(self, node: ActrNode, workload: Workload, mailbox: MemoryMailbox) -> None:
        self.node = node
        self.workload = workload
        self.mailbox = mailbox
        self.handlers: dict[str, HandlerSpec] = workload.handler_specs()
        #: route key -> (spec, bound handler): one lookup per message, and the
        #: method bound once (getattr per message would build it each time).
        self._routes = {
            key: (spec, getattr(workload, spec.attr)) for key, spec in self.handlers.items()
        }
        self._serial = SerialTurn()
        self._limits = {
            key: asyncio.Semaphore(spec.concurrency)
            for key, spec in self.handlers.items()
            if spec.concurrency > 1
        }
        self._chains: dict[str, int] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        # Messages are accepted into the mailbox from the start (a peer may call
        # while the node is still registering); the pump runs them after on_start.
        self._accepting = True
        self._durable = mailbox.durable
        self._orphans: list[InboundMessage] = []

    # ---- intake ------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(
            self._pump(), name=f"actr-scheduler-{self.node.actor_id}"
        )

    def accept(
        self,
        sender: ActorId,
        payload_type: PayloadType,
        env: package_pb2.RpcEnvelope,
        raw: bytes | None = None,
    ) -> Awaitable[None] | None:
        """Inbound gate -> here, for every request and tell.

        Synchronous when the message is simply queued in memory (no coroutine
        per message); otherwise returns what the gate must await.
        """
        msg = InboundMessage(sender, payload_type, env, None, raw)
        if not self._accepting:
            return self._refuse(
                msg, StateError(f"actor {self.node.actor_id} is stopping", code=503)
            )
        if self._chains and _routing(env)[1] in self._chains:
            self._spawn(self._run(msg))
            return None
        if self._durable:
            return self._accept_durable(msg)
        try:
            self.mailbox.put_nowait(msg)
        except MailboxFull as exc:
            return self._full(msg, exc)
        return None

    async def _accept_durable(self, msg: InboundMessage) -> None:
        try:
            duplicate = await self.mailbox.enqueue(msg)
        except MailboxFull as exc:
            await self._full(msg, exc)
            return
        if duplicate is not None and msg.envelope.direction == _REQUEST:
            # Already answered before a crash or retry: resend the remembered reply.
            await self.node._send_reply(msg.sender, msg.payload_type, duplicate)

    async def _full(self, msg: InboundMessage, exc: MailboxFull) -> None:
        await self._refuse(msg, exc)
        self._spawn(
            self.workload.on_mailbox_backpressure(self.mailbox.depth(), self.mailbox.capacity)
        )

    async def _refuse(self, msg: InboundMessage, exc: ActrError) -> None:
        if msg.envelope.direction == _REQUEST:
            err = envcodec.error_response(
                msg.envelope.route_key, msg.envelope.request_id, exc.code, exc.message
            )
            await self.node._send_reply(msg.sender, msg.payload_type, err)

    # ---- execution ---------------------------------------------------------

    async def _pump(self) -> None:
        mailbox = self.mailbox
        serial = self._serial
        limits = self._limits
        # In memory, a message is taken, or waited for, without a coroutine per message.
        pop = None if self._durable else mailbox.pop_nowait
        arrival = None if self._durable else mailbox.arrival
        while True:
            if pop is not None:
                msg = pop()
                while msg is None:
                    await arrival()  # type: ignore[misc]
                    msg = pop()
            else:
                msg = await mailbox.next()
            limit = limits.get(msg.envelope.route_key) if limits else None
            try:
                if limit is not None:
                    await limit.acquire()
                elif serial._held or serial._waiters:
                    await serial.acquire()
                else:
                    serial._held = True  # try_acquire() inlined: once per message
            except asyncio.CancelledError:
                self._orphans.append(msg)  # taken from the mailbox, never started
                raise
            if limit is not None:
                self._spawn(self._run_limited(msg, limit))
                continue
            try:
                await self._run(msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                # _run answers every handler failure itself; reaching here is a bug,
                # and one bad message must not stop the actor.
                log.exception("message %r could not be processed", msg.envelope.request_id)
            finally:
                serial.release()

    async def _run_limited(self, msg: InboundMessage, limit: asyncio.Semaphore) -> None:
        try:
            await self._run(msg)
        finally:
            limit.release()

    async def _run(self, msg: InboundMessage) -> None:
        env = msg.envelope
        ctype, chain = _routing(env)
        is_request = env.direction == _REQUEST
        chains = self._chains
        chains[chain] = chains.get(chain, 0) + 1
        reply: package_pb2.RpcEnvelope | None = None
        failure: BaseException | None = None
        # Why the message can never succeed (dead-lettered at once when durable),
        # or whether it crashed the handler (retried while attempts remain).
        poison: str | None = None
        crashed = False
        ctx = Context(self.node, msg.sender, env.request_id, chain)
        try:
            route = self._routes.get(env.route_key)
            if route is None:
                poison = "unknown_route"
                raise NotFound(f"no handler for route {env.route_key!r} on {self.node.actor_id}")
            spec, fn = route
            try:
                request = decode_payload(env.payload, ctype, spec.request_type)
            except BadRequest:
                poison = "undecodable"
                raise
            if spec.is_async:
                result = await fn(ctx, request)
            else:
                result = fn(ctx, request)
            if is_request:
                try:
                    payload, rtype = encode_payload(result)
                except EncodeError as exc:
                    raise InternalError(f"handler {spec.route_key} returned {exc.message}") from exc
                reply = envcodec.response(env, payload, rtype)
        except asyncio.CancelledError:
            # Stopping past the grace period. A durable message stays in flight
            # and is redelivered on restart; an in-memory one is answered 503.
            if is_request and not self._durable:
                reply = envcodec.error_response(
                    env.route_key, env.request_id, 503, "actor stopped before answering"
                )
                await self.node._send_reply(msg.sender, msg.payload_type, reply)
            raise
        except ActrError as exc:
            failure = exc
            reply = envcodec.error_response(env.route_key, env.request_id, exc.code, exc.message)
        except Exception as exc:
            failure = exc
            crashed = True
            text = f"handler error: {type(exc).__name__}: {exc}"
            reply = envcodec.error_response(env.route_key, env.request_id, 500, text)
        finally:
            _release_chain(chains, chain)
        if self._durable:
            await self._settle_durable(msg, reply if is_request else None, failure, poison, crashed)
        elif reply is not None and is_request:
            await self.node._send_reply(msg.sender, msg.payload_type, reply)
        if failure is not None:
            await self._report(ctx, failure)

    async def _settle_durable(
        self,
        msg: InboundMessage,
        reply: package_pb2.RpcEnvelope | None,
        failure: BaseException | None,
        poison: str | None,
        crashed: bool,
    ) -> None:
        """Reply, then acknowledge: the row goes only once the reply is handed over."""
        mailbox = self.mailbox
        reason = str(failure) if failure is not None else ""
        if crashed and not await mailbox.fail(msg, "handler_error", reason):
            return  # requeued: it runs again, and only the last attempt answers
        if reply is not None:
            await self.node._send_reply(msg.sender, msg.payload_type, reply)
        if crashed:
            return  # fail() already moved it to dead letters
        if poison is not None:
            await mailbox.dead_letter(msg, poison, reason)
        else:
            await mailbox.complete(msg, reply.SerializeToString() if reply is not None else None)

    async def _invoke(self, spec: HandlerSpec, ctx: Context, request: Any) -> Any:
        fn = self._routes[spec.route_key][1]
        if spec.is_async:
            return await fn(ctx, request)
        return fn(ctx, request)

    async def _report(self, ctx: Context | None, error: BaseException) -> None:
        try:
            await self.workload.on_error(ctx, error)
        except Exception:
            log.exception("on_error hook of %s raised", type(self.workload).__name__)

    def report_soon(self, error: BaseException, where: str) -> None:
        log.debug("%s: %s", where, error)
        self._spawn(self._report(None, error))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    # ---- shell path (zero-copy) -------------------------------------------

    async def call_local(self, route_key: str, request: Any, chain: str) -> Any:
        spec = self.handlers.get(route_key)
        if spec is None:
            raise NotFound(f"no handler for route {route_key!r} on {self.node.actor_id}")
        request = _coerce(spec, request)
        ctx = Context(self.node, None, chain, chain)
        chains = self._chains
        chains[chain] = chains.get(chain, 0) + 1
        try:
            limit = self._limits.get(route_key)
            if limit is not None:
                async with limit:
                    return await self._invoke(spec, ctx, request)
            async with self._serial:
                return await self._invoke(spec, ctx, request)
        except ActrError as exc:
            await self._report(ctx, exc)
            raise
        except Exception as exc:
            await self._report(ctx, exc)
            raise InternalError(f"handler error: {type(exc).__name__}: {exc}") from exc
        finally:
            _release_chain(chains, chain)

    # ---- shutdown ------------------------------------------------------------

    async def drain(self, grace: float) -> list[InboundMessage]:
        """Stop intake; give in-flight handlers ``grace`` seconds, then cancel them.

        Returns the messages that were accepted but never started, so the node
        can answer them (in memory) or leave them for the next start (durable).
        """
        self._accepting = False
        pump = self._loop_task
        if pump is not None:
            held = False
            try:
                async with asyncio.timeout(grace):
                    await self._serial.acquire()
                    held = True
            except TimeoutError:
                pass
            pump.cancel()
            try:
                await pump
            except asyncio.CancelledError:
                pass
            if held:
                self._serial.release()
        if self._running:
            _, pending = await asyncio.wait(list(self._running), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        orphans, self._orphans = self._orphans, []
        return orphans


class SerialTurn:
    """The actor's one-at-a-time turn: an asyncio.Lock with a synchronous fast path.

    The pump takes the turn once per message; when nobody else holds it (the
    common case) ``try_acquire`` costs no coroutine. Waiters are served FIFO.
    """

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        if self._held or self._waiters:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release_to_next()  # the turn was handed to us as we were cancelled
            else:
                self._waiters.remove(fut)
            raise

    def release(self) -> None:
        if not self._held:
            raise RuntimeError("release() of a turn that is not held")
        self._release_to_next()

    def _release_to_next(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # ownership passes directly; _held stays True
                return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def _release_chain(chains: dict[str, int], chain: str) -> None:
    n = chains[chain]
    if n <= 1:
        del chains[chain]
    else:
        chains[chain] = n - 1


def _coerce(spec: HandlerSpec, request: Any) -> Any:
    """Shell calls pass objects as they are; bytes are parsed if a message is due."""
    t = spec.request_type
    if t is None or isinstance(request, t):
        return request
    if isinstance(request, bytes | bytearray):
        return decode_payload(bytes(request), None, t)
    raise BadRequest(
        f"route {spec.route_key} expects {t.__name__}, got {type(request).__name__}"
    )
