"""The node's side of placement: which node serves a key that has no row here.

A key whose row is in this node's store is served here without asking anyone
(its home is this storage, and only this process holds the storage). For other
keys, :class:`SignalingPlacement` asks the signaling server
(``SignalingClient.claim_key``), which answers with the node holding the key's
home storage; remote owners are cached until a call to them fails.

:class:`LocalPlacement` is the single-node case: every key lives here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from ..errors import ActrError, Conflict, NotFound, RateLimited, Unavailable
from ..ids import ActorId
from ..proto import actr_pb2
from .errors import ActorNotFound, ActorUnavailable

if TYPE_CHECKING:
    from ..wire.signaling import SignalingClient

__all__ = ["LocalPlacement", "Placement", "SignalingPlacement"]

log = logging.getLogger("actr_py.actors.placement")

_Op = actr_pb2.ActorPlacementRequest


class Placement:
    """Where keys without a local row live. ``None`` means "here"."""

    async def announce(self) -> None:
        """This node (again) serves its storage (called on every signaling connect)."""

    async def claim(self, name: str, key: str) -> ActorId | None:
        """For a create: the owner if the key lives elsewhere, else None (create it here)."""
        return None

    async def locate(self, name: str, key: str) -> ActorId | None:
        """For a get: the owner if elsewhere, None if here; ActorNotFound if nowhere."""
        return None

    async def release(self, name: str, key: str) -> None:
        """The key was destroyed here: let it be created anywhere again."""

    def forget(self, name: str, key: str) -> None:
        """A call to the cached owner failed: ask again next time."""


class LocalPlacement(Placement):
    """One node and no signaling: everything is here."""


class SignalingPlacement(Placement):
    def __init__(
        self, client: SignalingClient, storage_id: str, *, cache_size: int = 10_000,
        retries: int = 5,
    ) -> None:
        self.client = client
        self.storage_id = storage_id
        self.cache_size = cache_size
        self.retries = retries
        self.announced = asyncio.Event()
        self._owners: OrderedDict[tuple[str, str], ActorId] = OrderedDict()

    def _is_me(self, owner: ActorId) -> bool:
        me = self.client.actor_id
        return me is not None and owner.serial == me.serial and owner.realm == me.realm

    async def _request(self, req: actr_pb2.ActorPlacementRequest) -> actr_pb2.ActorPlacement:
        """One placement request; a rate-limited one is retried with backoff.

        503 is not retried here: it is the server's answer "the key's storage is
        offline", and callers (or their clients) decide how long to wait for it.
        """
        delay = 0.05
        for attempt in range(self.retries + 1):
            try:
                return await self.client.request(req)
            except RateLimited as exc:
                if attempt == self.retries:
                    raise ActorUnavailable(f"placement: {exc.message}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Unavailable as exc:
                raise ActorUnavailable(f"placement: {exc.message}") from None
        raise AssertionError("unreachable")

    async def announce(self) -> None:
        """Retried while another live node still holds the storage (e.g. before its eviction)."""
        self.announced.clear()
        self._owners.clear()
        req = _Op(op=_Op.ANNOUNCE, storage_id=self.storage_id)
        delay = 0.1
        while True:
            try:
                await self._request(req)
                break
            except Conflict:
                log.warning("storage %s still held by another node; retrying", self.storage_id)
            except ActrError as exc:
                log.warning("placement announce failed: %s", exc.message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        self.announced.set()

    async def _owner(self, name: str, key: str, create: bool) -> ActorId | None:
        cached = self._owners.get((name, key))
        if cached is not None:
            self._owners.move_to_end((name, key))
            return cached
        if not self.announced.is_set():
            try:
                await asyncio.wait_for(self.announced.wait(), 10.0)
            except TimeoutError:
                raise ActorUnavailable("this node has not announced its storage yet") from None
        req = _Op(op=_Op.CLAIM, storage_id=self.storage_id, name=name, key=key, create=create)
        try:
            placed = await self._request(req)
        except NotFound:
            raise ActorNotFound(f"no actor {name} with key {key!r}") from None
        owner = ActorId.from_proto(placed.owner)
        if self._is_me(owner):
            return None
        self._owners[(name, key)] = owner
        if len(self._owners) > self.cache_size:
            self._owners.popitem(last=False)
        return owner

    async def claim(self, name: str, key: str) -> ActorId | None:
        return await self._owner(name, key, True)

    async def locate(self, name: str, key: str) -> ActorId | None:
        return await self._owner(name, key, False)

    async def release(self, name: str, key: str) -> None:
        self._owners.pop((name, key), None)
        req = _Op(op=_Op.RELEASE, storage_id=self.storage_id, name=name, key=key)
        try:
            await self._request(req)
        except ActrError as exc:
            # The home row then only points here; a get answers NotFound from our store.
            log.warning("placement release of %s/%s failed: %s", name, key, exc.message)

    def forget(self, name: str, key: str) -> None:
        self._owners.pop((name, key), None)
