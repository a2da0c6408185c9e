"""The relay actor: receives the publisher's track, forwards it to every subscriber.

    python -m examples.media_relay.relay --signaling ws://127.0.0.1:8081/signaling/ws

All of it is the library's MediaRelayWorkload; ``--mode transcode`` makes it
decode and re-encode for every subscriber instead (aiortc's MediaRelay), for
comparison. SIGTERM prints the relay's counters and stops.
"""

from __future__ import annotations

import argparse
import asyncio

from actr_py import ActrSystem
from actr_py.media.relay import MediaRelayWorkload

from .common import PUBLISHER, RELAY, SUBSCRIBER, TRACK, config, stop_event


async def main(args: argparse.Namespace) -> None:
    workload = MediaRelayWorkload(TRACK, mode=args.mode)
    node = ActrSystem(config(args.signaling, RELAY, PUBLISHER, SUBSCRIBER)).attach(workload)
    ref = await node.start()
    print(f"[relay] {ref.actor_id} relaying track {TRACK!r} ({args.mode})", flush=True)
    await stop_event().wait()
    stats = workload.relay.stats
    print(
        f"[relay] received {stats.received} frames, forwarded {stats.forwarded}, "
        f"decoded {stats.decoded}, keyframe requests {stats.keyframe_requests}, "
        f"subscribers joined {stats.joined} left {stats.left}",
        flush=True,
    )
    await ref.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signaling", required=True)
    parser.add_argument("--mode", default="auto", choices=("auto", "forward", "transcode"))
    asyncio.run(main(parser.parse_args()))
