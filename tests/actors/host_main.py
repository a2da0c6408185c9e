"""An actor host in its own process, for tests: ``python -m tests.actors.host_main ...``.

Prints ``READY <actor id> <gateway url or ->`` once serving; stops cleanly on
SIGTERM (actors saved), and not at all on SIGKILL (the point of the crash tests).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from actr_py import ActrConfig, ActrSystem, ActrTypeName
from actr_py.actors import ActorHost
from actr_py.config import AclRuleConfig
from tests.actors._actors import ALL
from tests.support.procs import serve_until_terminated


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--storage", required=True)
    p.add_argument("--signaling")
    p.add_argument("--type", default="acme+actors")
    p.add_argument("--gateway", default="127.0.0.1:0")
    p.add_argument("--save-interval", type=float, default=1.0)
    p.add_argument("--allow", action="append", default=[])
    return p.parse_args(argv)


async def main(argv: list[str]) -> None:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    acl = tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in args.allow)
    config = ActrConfig(
        actr_type=args.type,
        signaling_url=args.signaling,
        websocket_listen="127.0.0.1:0" if args.signaling else None,
        acl=acl,
        shutdown_grace=1.0,
    )
    host = ActorHost(ALL, storage=args.storage, save_interval=args.save_interval,
                     gateway=args.gateway or None)
    ref = await host.attach(ActrSystem(config)).start()
    await serve_until_terminated(ref, str(ref.actor_id), host.gateway_url or "-")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
