"""A node in its own process, for tests: ``python -m tests.support.node_main ...``.

Prints ``READY <actor id> <ws address>`` once started, serves until SIGTERM
(graceful) or SIGKILL (the point of several tests), then prints ``STOPPED``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from actr_py import ActrConfig, ActrSystem, ActrTypeName
from actr_py.config import AclRuleConfig

from .procs import serve_until_terminated
from .workloads import WORKLOADS


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--signaling", required=True)
    p.add_argument("--type", default="acme+echo")
    p.add_argument("--realm", type=int, default=1)
    p.add_argument("--listen", default="127.0.0.1:0", help="empty: no WebSocket lanes")
    p.add_argument("--allow", action="append", default=[], help="actr type admitted by the ACL")
    p.add_argument("--workload", default="echo", choices=sorted(WORKLOADS))
    p.add_argument("--storage", default=":memory:")
    p.add_argument("--no-webrtc", action="store_true", help="refuse WebRTC (WebSocket only)")
    p.add_argument("--webrtc-timeout", type=float, default=5.0)
    return p.parse_args(argv)


async def main(argv: list[str]) -> None:
    args = parse(argv)
    acl = tuple(
        AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in args.allow
    )
    config = ActrConfig(
        actr_type=args.type,
        realm=args.realm,
        signaling_url=args.signaling,
        websocket_listen=args.listen or None,
        storage_path=args.storage,
        acl=acl,
        shutdown_grace=1.0,
        webrtc_enabled=not args.no_webrtc,
        webrtc_connect_timeout=args.webrtc_timeout,
    )
    node = ActrSystem(config).attach(WORKLOADS[args.workload]())
    ref = await node.start()
    listener = node.network.listener if node.network else None
    await serve_until_terminated(ref, str(ref.actor_id), listener.address if listener else "-")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
