"""A lane peer in a process of its own, so tests can SIGKILL or SIGSTOP it.

Run as ``python -m tests.wire.websocket.peer_process --serial N`` from the
repository root. It prints its listener URL on one line, then echoes every
frame back as ``b"echo:" + data`` on the same lane until killed.
"""

from __future__ import annotations

import argparse
import asyncio

from actr_py.ids import ActorId
from actr_py.payload_type import PayloadType
from actr_py.wire.websocket import WebSocketOptions, WebSocketPool

from ._support import HmacAuthority, actor


async def serve(serial: int, options: WebSocketOptions) -> None:
    authority = HmacAuthority()
    me = actor(serial, "remote")

    async def echo(peer: ActorId, payload_type: PayloadType, data: bytes) -> None:
        conn = pool.peek(peer)
        if conn is not None:
            await conn.send(payload_type, b"echo:" + data)

    pool = WebSocketPool(
        self_id=me,
        credential_provider=lambda: authority.credential(me),
        authenticate=authority.authenticate,
        on_frame=echo,
        options=options,
    )
    listener = pool.create_listener()
    await listener.start()
    print(listener.address, flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serial", type=int, required=True)
    parser.add_argument("--heartbeat", type=float, default=0.2)
    parser.add_argument("--dead-after", type=float, default=1.0)
    args = parser.parse_args()
    options = WebSocketOptions(
        heartbeat_interval=args.heartbeat, dead_peer_timeout=args.dead_after
    )
    asyncio.run(serve(args.serial, options))


if __name__ == "__main__":
    main()
