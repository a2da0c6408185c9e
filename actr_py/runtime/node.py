"""ActrNode: a workload attached to a system, with its gates and lanes.

The node wires the layers together: wires feed the InboundGate; requests go
through the Scheduler (and its mailbox) to the workload; everything the
workload sends leaves through the OutGate; pending calls wait in the
PendingCallTable until their response, their deadline or their peer's loss.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..errors import ActrError, NotFound, StateError, Unavailable, error_for_code
from ..ids import ActorId, ActrTypeName
from ..inbound.durable_mailbox import DurableMailbox
from ..inbound.gate import InboundGate
from ..inbound.mailbox import MemoryMailbox
from ..inbound.stream_registry import DataStreamRegistry
from ..media import MediaFrameRegistry, MediaManager
from ..outbound.out_gate import OutGate
from ..outbound.pending import PendingCallTable
from ..payload_type import PayloadType
from ..proto import actr_pb2, package_pb2
from ..protocol import envelope as envcodec
from ..protocol.codec import decode_payload, encode_payload
from ..transport.manager import InprocTransportManager
from ..wire.base import DONE, WireConnection
from ..wire.webrtc import WebRtcCoordinator
from .context import Context
from .dest import Dest, DestKind, as_dest
from .network import NodeNetwork
from .scheduler import Scheduler
from .workload import Workload

if TYPE_CHECKING:
    from .ref import ActrRef
    from .system import ActrSystem

__all__ = ["ActrNode", "NodeState"]

log = logging.getLogger("actr_py.node")

ShellHandler = Callable[[Any], Awaitable[Any]]


def _type_name(t: type | None) -> str:
    if t is None:
        return "any"
    descriptor = getattr(t, "DESCRIPTOR", None)
    return descriptor.full_name if descriptor is not None else t.__name__


class NodeState(Enum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class ActrNode:
    def __init__(self, system: ActrSystem, workload: Workload) -> None:
        if not isinstance(workload, Workload):
            raise TypeError(f"attach() needs a Workload instance, got {type(workload).__name__}")
        self.system = system
        self.config = system.config
        self.workload = workload
        self._state = NodeState.CREATED
        self._can_send = False
        self._actor_id: ActorId | None = None
        self._stopped: asyncio.Event | None = None
        self._ref: ActrRef | None = None
        self.shell_handlers: dict[str, ShellHandler] = {}
        # Validate the handler table now, not at the first message.
        workload.handler_specs()

    # ---- identity ----------------------------------------------------------

    @property
    def state(self) -> NodeState:
        return self._state

    @state.setter
    def state(self, value: NodeState) -> None:
        self._state = value
        # Checked on every send: a plain bool is cheaper than hashing an Enum.
        self._can_send = value in (NodeState.STARTING, NodeState.RUNNING, NodeState.STOPPING)

    @property
    def actor_id(self) -> ActorId:
        if self._actor_id is None:
            raise StateError("the node has no actor id before start()")
        return self._actor_id

    # ---- lifecycle -----------------------------------------------------------

    async def start(self) -> ActrRef:
        from .ref import ActrRef

        if self.state is not NodeState.CREATED:
            raise StateError(f"start() on a node that is {self.state.value}")
        self.state = NodeState.STARTING
        self._stopped = asyncio.Event()
        cfg = self.config
        self.pending = PendingCallTable()
        self.scheduler_errors = 0
        self.streams = DataStreamRegistry(on_error=self._stream_error)
        self.shell_streams = DataStreamRegistry(on_error=self._stream_error)
        self.media_frames = MediaFrameRegistry(on_error=self._stream_error)
        self.media = MediaManager(self.media_frames, self._webrtc)
        if cfg.durable:
            self.mailbox = await DurableMailbox.open(
                cfg.storage_path,
                capacity=cfg.mailbox_capacity,
                max_attempts=cfg.mailbox_max_attempts,
            )
        else:
            self.mailbox = MemoryMailbox(cfg.mailbox_capacity)
        self.scheduler = Scheduler(self, self.workload, self.mailbox)
        self.gate = InboundGate(
            pending=self.pending,
            rpc_sink=self.scheduler.accept,
            streams=self.streams,
            reply_error=self._reply_error,
            media=self.media_frames,
        )
        hub = self.system.hub
        self.network: NodeNetwork | None = None
        serial = None
        self._factory = envcodec.EnvelopeFactory()
        if cfg.signaling_url is not None:
            # The signaling server issues the id; in-process peers reach us by it too.
            self.network = NodeNetwork(self)
            issued = await self.network.start()
            self._actor_id = issued
            serial = issued.serial
        self._actor_id = hub.register(
            cfg.actr_type, cfg.realm, self.gate.deliver, self.gate.deliver_envelope, serial
        )
        self.out_gate = OutGate(
            [InprocTransportManager(hub, self._actor_id)], cfg.route_table()
        )
        if self.network is not None:
            self.out_gate.add_manager(self.network.websocket)
            if self.network.webrtc is not None:
                self.out_gate.add_manager(self.network.webrtc)
        for manager in self.out_gate.managers.values():
            manager.on_peer_lost(self._peer_lost)
        try:
            await self.workload.on_start(Context(self))
        except BaseException:
            hub.unregister(self._actor_id)
            await self._teardown()
            raise
        self.scheduler.start()
        self.state = NodeState.RUNNING
        log.info("actor %s started", self._actor_id)
        self._ref = ActrRef(self)
        return self._ref

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop intake, let in-flight work finish within ``grace``, run on_stop, close."""
        if self.state in (NodeState.STOPPING, NodeState.STOPPED):
            await self.wait_for_shutdown()
            return
        if self.state is not NodeState.RUNNING:
            raise StateError(f"shutdown() on a node that is {self.state.value}")
        self.state = NodeState.STOPPING
        grace = self.config.shutdown_grace if grace is None else grace
        orphans = await self.scheduler.drain(grace)
        if isinstance(self.mailbox, DurableMailbox):
            for msg in orphans:  # taken but never started: not an attempt
                await self.mailbox.release(msg)
        else:
            for msg in [*orphans, *self.mailbox.drain()]:
                await self.scheduler._refuse(
                    msg, Unavailable(f"actor {self.actor_id} stopped before handling it")
                )
        try:
            async with asyncio.timeout(grace):
                await self.workload.on_stop(Context(self))
        except Exception as exc:
            log.warning("on_stop of %s failed: %r", self.actor_id, exc)
            await self.scheduler._report(None, exc)
        self.system.hub.unregister(self.actor_id)
        await self._teardown()
        self.state = NodeState.STOPPED
        log.info("actor %s stopped", self._actor_id)
        assert self._stopped is not None
        self._stopped.set()

    async def _teardown(self) -> None:
        await self.media.close()
        if self.network is not None:
            await self.network.close()
        self.pending.fail_all(Unavailable(f"actor {self._actor_id} stopped"))
        await self.streams.close()
        await self.shell_streams.close()
        await self.media_frames.close()
        await self.mailbox.close()
        out_gate = getattr(self, "out_gate", None)
        if out_gate is not None:
            await out_gate.close()

    async def wait_for_shutdown(self) -> None:
        if self._stopped is None:
            raise StateError("wait_for_shutdown() before start()")
        await self._stopped.wait()

    async def __aenter__(self) -> ActrRef:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        if self.state is NodeState.RUNNING:
            await self.shutdown()

    # ---- outbound ------------------------------------------------------------

    def _target(self, dest: Dest | ActorId | str) -> ActorId | None:
        """The actor a Dest names; ``None`` means this node's shell."""
        if not self._can_send:
            raise StateError(f"the node is {self.state.value}")
        if isinstance(dest, ActorId):
            return dest
        d = as_dest(dest)
        if d.kind is DestKind.ACTOR:
            return d.actor_id
        if d.kind is DestKind.LOCAL:
            return self.actor_id
        return None

    async def _call(
        self,
        dest: Dest | ActorId | str,
        route_key: str,
        request: Any,
        response_type: type | None,
        timeout: float | None,
        payload_type: PayloadType,
        chain: str | None,
    ) -> Any:
        target = self._target(dest)
        if target is None:
            return await self._shell_call(route_key, request)
        if timeout is None:
            timeout = self.config.call_timeout
        elif timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        payload, ctype = encode_payload(request)
        env = self._factory.request(route_key, payload, ctype, int(timeout * 1000), chain)
        rid = env.request_id
        fut = self.pending.register(rid, target, timeout)
        try:
            await self.out_gate.send_envelope(target, payload_type, env)
        except BaseException:
            self.pending.discard(rid)
            raise
        try:
            resp = await fut
        except asyncio.CancelledError:
            self.pending.discard(rid)
            raise
        if resp.HasField("error"):
            raise error_for_code(resp.error.code, resp.error.message)
        return decode_payload(resp.payload, envcodec.routing_metadata(resp)[0], response_type)

    async def _tell(
        self,
        dest: Dest | ActorId | str,
        route_key: str,
        message: Any,
        payload_type: PayloadType,
        chain: str | None,
    ) -> None:
        target = self._target(dest)
        if target is None:
            await self._shell_call(route_key, message)
            return
        payload, ctype = encode_payload(message)
        env = self._factory.request(route_key, payload, ctype, 0, chain, tell=True)
        await self.out_gate.send_envelope(target, payload_type, env)

    async def send_data_stream(
        self,
        dest: Dest | ActorId | str,
        chunk: package_pb2.DataStream,
        payload_type: PayloadType = PayloadType.STREAM_RELIABLE,
    ) -> None:
        payload_type = PayloadType(payload_type)
        if not payload_type.is_stream:
            raise ValueError(
                f"send_data_stream needs a stream PayloadType, got {payload_type.name}"
            )
        target = self._target(dest)
        if target is None:
            await self.shell_streams.deliver(self.actor_id, payload_type, chunk)
            return
        await self.out_gate.send(target, payload_type, chunk.SerializeToString())

    async def discover(self, actr_type: ActrTypeName | str) -> ActorId:
        """This process first (no network), then the signaling server's best candidate."""
        if isinstance(actr_type, str):
            actr_type = ActrTypeName.parse(actr_type)
        found = [a for a in self.system.hub.find(actr_type, self.config.realm)]
        if found:
            return found[0]
        if self.network is not None:
            return await self.network.discover(actr_type)
        raise NotFound(f"no running actor of type {actr_type} in realm {self.config.realm}")

    def service_spec(self) -> actr_pb2.ServiceSpec:
        """What signaling publishes about this node: its routes and their types."""
        specs = self.workload.handler_specs()
        lines = sorted(
            f"{key} {_type_name(s.request_type)} {_type_name(s.response_type)}"
            for key, s in specs.items()
        )
        return actr_pb2.ServiceSpec(
            name=self.config.name,
            description=self.config.description,
            fingerprint=hashlib.sha256("\n".join(lines).encode()).hexdigest(),
            published_at=int(time.time()),
            tags=sorted(specs),
        )

    def _adopt_identity(self, actor_id: ActorId) -> None:
        """Signaling re-registered us under a new id (the server forgot the old one)."""
        old = self._actor_id
        if old is None or old == actor_id or self.state is not NodeState.RUNNING:
            return
        log.warning("signaling issued a new id: %s -> %s", old, actor_id)
        hub = self.system.hub
        hub.unregister(old)
        self._actor_id = hub.register(
            self.config.actr_type, actor_id.realm, self.gate.deliver,
            self.gate.deliver_envelope, actor_id.serial,
        )
        inproc = InprocTransportManager(hub, self._actor_id)
        inproc.on_peer_lost(self._peer_lost)
        self.out_gate.replace_manager(inproc)

    async def _shell_call(self, route_key: str, request: Any) -> Any:
        fn = self.shell_handlers.get(route_key)
        if fn is None:
            raise NotFound(f"the shell of {self.actor_id} has no handler for {route_key!r}")
        return await fn(request)

    def _send_reply(
        self,
        peer: ActorId,
        payload_type: PayloadType,
        reply: package_pb2.RpcEnvelope | bytes,
    ) -> Awaitable[None]:
        """Send a reply; await the result. A reply that cannot be delivered is logged.

        Not a coroutine: a reply the wire takes at once (in process, or with
        room in the WebSocket buffer) costs no coroutine.
        """
        out_gate = getattr(self, "out_gate", None)
        if out_gate is None:  # a refusal while still registering
            log.info("reply to %s dropped: the node is still starting", peer)
            return DONE
        try:
            if isinstance(reply, bytes):
                sent = out_gate.send(peer, payload_type, reply)
            else:
                sent = out_gate.send_envelope(peer, payload_type, reply)
        except ActrError as exc:
            _reply_lost(peer, exc)
            return DONE
        return DONE if sent is DONE else self._reply_sent(peer, sent)

    async def _reply_sent(self, peer: ActorId, sent: Awaitable[None]) -> None:
        try:
            await sent
        except ActrError as exc:
            _reply_lost(peer, exc)

    async def _reply_error(
        self, peer: ActorId, payload_type: PayloadType, route_key: str, request_id: str,
        error: ActrError,
    ) -> None:
        env = envcodec.error_response(route_key, request_id, error.code, error.message)
        await self._send_reply(peer, payload_type, env)

    def _peer_lost(self, conn: WireConnection, exc: BaseException | None) -> None:
        reason = exc.message if isinstance(exc, ActrError) else f"link to {conn.peer_id} lost"
        n = self.pending.fail_peer(conn.peer_id, Unavailable(reason))
        if n:
            log.info("%d pending calls to %s failed: %s", n, conn.peer_id, reason)

    def _webrtc(self) -> WebRtcCoordinator | None:
        network = self.network
        return network.webrtc.coordinator if network is not None and network.webrtc else None

    def _stream_error(self, exc: BaseException, where: str) -> None:
        log.warning("%s on %s: %s", where, self._actor_id, exc)
        if self.state is NodeState.RUNNING:
            self.scheduler.report_soon(exc, where)


def _reply_lost(peer: ActorId, exc: ActrError) -> None:
    log.info("reply to %s not delivered: %s", peer, exc.message)
