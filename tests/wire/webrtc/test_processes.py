"""Two OS processes connected by the WebRTC wire; the child is killed at the end."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from actr_py.errors import Unavailable
from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2
from actr_py.wire.webrtc import LANES, WebRtcCoordinator
from actr_py.wire.webrtc.role import offerer_by_rule

from ._pipe import READY, PipeLink
from ._support import FAST

ROOT = Path(__file__).resolve().parents[3]
PARENT = ActorId(7, 0x200, ActrTypeName("acme", "parent"))
CHILD = ActorId(7, 0x100, ActrTypeName("acme", "child"))  # smaller: the child offers


@pytest.mark.slow
@pytest.mark.parametrize("child_fast", [True, False], ids=["fast-child", "stock-child"])
async def test_echo_across_processes_then_kill_the_child(tmp_path: Path, child_fast: bool) -> None:
    stderr = (tmp_path / "child.err").open("wb")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not child_fast:  # the child's SCTP is stock aiortc: Max.Burst applies per SACK
        env["ACTR_PY_SCTP_FAST"] = "0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.wire.webrtc._pipe",
        str(CHILD),
        str(PARENT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    link = PipeLink(proc.stdout, proc.stdin)
    ready = asyncio.Event()
    frames: list[tuple[PayloadType, bytes]] = []
    arrived = asyncio.Event()

    async def on_frame(peer: ActorId, payload_type: PayloadType, data: bytes) -> None:
        assert peer == CHILD
        frames.append((payload_type, data))
        arrived.set()

    class Relay:
        """The parent is also the 'server': it arbitrates roles for both."""

        async def send(self, target: ActorId, payload: Any) -> None:
            if isinstance(payload, actr_pb2.RoleNegotiation):
                arbitrate()
            else:
                link.write(payload)

    def arbitrate() -> None:
        link.write(actr_pb2.RoleAssignment(is_offerer=offerer_by_rule(CHILD, PARENT)))
        asyncio.get_running_loop().create_task(
            parent.handle_relay(
                CHILD, actr_pb2.RoleAssignment(is_offerer=offerer_by_rule(PARENT, CHILD))
            )
        )

    async def inbound(kind: int, payload: Any) -> None:
        if kind == READY:
            ready.set()
        elif isinstance(payload, actr_pb2.RoleNegotiation):
            arbitrate()
        elif payload is not None:
            await parent.handle_relay(CHILD, payload)

    parent = WebRtcCoordinator(PARENT, Relay(), on_frame, config=FAST)
    link.start(inbound)
    try:
        await asyncio.wait_for(ready.wait(), 30)  # the child imported aiortc and is up
        conn = await parent.connect(CHILD)
        assert conn.mode == "actr-py" and not conn.offerer

        sent = [(pt, b"\x0a" + pt.name.encode()) for pt in LANES]
        big = random.Random(9).randbytes(1024 * 1024)
        sent.append((PayloadType.STREAM_RELIABLE, big))
        for pt, data in sent:
            await conn.send(pt, data)
        async with asyncio.timeout(30):
            while len(frames) < len(sent):
                arrived.clear()
                await arrived.wait()
        assert sorted(frames) == sorted(sent)
        # One SACK per read burst only for a peer that said (FEATURES) its
        # sender refills what a SACK acknowledged; a stock sender would crawl.
        assert conn.fast_sctp
        sctp = conn.peer_connection.sctp
        assert sctp is not None and sctp._actr_sack_per_burst is child_fast

        closed: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        conn.add_close_callback(lambda c, exc: closed.done() or closed.set_result(exc))
        proc.kill()  # no goodbye, no SCTP abort: the process is just gone
        await proc.wait()
        exc = await asyncio.wait_for(closed, 10)
        assert isinstance(exc, Unavailable) and exc.code == 503
        assert parent.connection(CHILD) is None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await parent.close()
        await link.close()
        stderr.close()
