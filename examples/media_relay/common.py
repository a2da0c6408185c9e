"""What the three roles of the media relay example share: types, ACLs, the track id."""

from __future__ import annotations

import asyncio
import signal

from actr_py import ActrConfig, ActrTypeName
from actr_py.config import AclRuleConfig

PUBLISHER = "demo+media-publisher"
RELAY = "demo+media-relay"
SUBSCRIBER = "demo+media-subscriber"
TRACK = "camera"
SUBSCRIBE = "actr.media.Relay.Subscribe"


def config(url: str, actr_type: str, *admit: str) -> ActrConfig:
    """A node on ``url`` whose ACL admits ``admit`` (negotiation needs it both ways:
    the signaling server relays SDP to a peer only if the peer's ACL admits us)."""
    acl = tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in admit)
    return ActrConfig(actr_type=actr_type, signaling_url=url, acl=acl, shutdown_grace=1.0)


async def discover(ctx, actr_type: str, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    """Ask signaling for ``actr_type`` until it is registered (the relay may start later)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await ctx.discover(actr_type)
            except Exception:
                await asyncio.sleep(0.2)


def stop_event() -> asyncio.Event:
    """Set on SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
