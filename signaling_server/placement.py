"""Virtual-actor placement: which live node serves an actor key.

Two tables in the server's database (a connection of its own, same file):

* ``actor_homes (realm, name, key) -> storage``: the node database a key was
  created in. Its state lives there, so the key is served wherever that
  storage is. Kept until the key is released (destroyed).
* ``storage_leases (realm, storage) -> serial``: the registered node holding
  that storage now, set by ANNOUNCE and dropped when the node unregisters or
  is evicted. A node's actor store is locked to one process, and a lease is
  refused while another *live* node holds it, so at most one node serves a
  storage - hence a key - at a time.

CLAIM ``(name, key, create)``: a key with a home goes to its storage's live
holder (503 while none is live); a key without one is NotFound, or with
``create`` gets the requester's storage as its home.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actr_py.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from actr_py.proto import actr_pb2

if TYPE_CHECKING:
    from .connection import Connection
    from .registry import Session
    from .service import SignalingService

__all__ = ["PlacementService", "PlacementTable"]

log = logging.getLogger("signaling_server.placement")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actor_homes (
    realm_id INTEGER NOT NULL,
    name     TEXT NOT NULL,
    key      TEXT NOT NULL,
    storage  TEXT NOT NULL,
    PRIMARY KEY (realm_id, name, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storage_leases (
    realm_id INTEGER NOT NULL,
    storage  TEXT NOT NULL,
    serial   INTEGER NOT NULL,
    PRIMARY KEY (realm_id, storage)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS storage_leases_by_serial ON storage_leases (serial);
"""

_MAX_TEXT = 1024
_Op = actr_pb2.ActorPlacementRequest


class PlacementTable:
    """The two tables and the rules; no networking (``is_live`` says who is registered)."""

    def __init__(self, path: str | Path, is_live: Callable[[int], bool]) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._is_live = is_live

    def close(self) -> None:
        self._db.close()

    def holder(self, realm: int, storage: str) -> int | None:
        row = self._db.execute(
            "SELECT serial FROM storage_leases WHERE realm_id = ? AND storage = ?",
            (realm, storage),
        ).fetchone()
        return None if row is None else int(row[0])

    def announce(self, realm: int, storage: str, serial: int) -> None:
        """``serial`` now serves ``storage``; Conflict while another live node does."""
        current = self.holder(realm, storage)
        if current is not None and current != serial and self._is_live(current):
            raise Conflict(f"storage {storage[:64]} is served by another live node")
        self._db.execute(
            "INSERT INTO storage_leases (realm_id, storage, serial) VALUES (?, ?, ?) "
            "ON CONFLICT (realm_id, storage) DO UPDATE SET serial = excluded.serial",
            (realm, storage, serial),
        )

    def claim(
        self, realm: int, name: str, key: str, storage: str, serial: int, create: bool
    ) -> int:
        """The serial of the node serving ``(name, key)``."""
        row = self._db.execute(
            "SELECT storage FROM actor_homes WHERE realm_id = ? AND name = ? AND key = ?",
            (realm, name, key),
        ).fetchone()
        if row is None:
            if not create:
                raise NotFound(f"no actor {name}/{key[:64]}")
            if self.holder(realm, storage) != serial:
                raise BadRequest("announce the storage before creating keys in it")
            self._db.execute(
                "INSERT INTO actor_homes (realm_id, name, key, storage) VALUES (?, ?, ?, ?)",
                (realm, name, key, storage),
            )
            return serial
        home = row[0]
        owner = self.holder(realm, home)
        if owner is None or not self._is_live(owner):
            raise Unavailable(f"the node holding actor {name}/{key[:64]} is offline")
        return owner

    def release_key(self, realm: int, name: str, key: str, storage: str, serial: int) -> bool:
        """Forget a destroyed key's home; only the node serving that home may."""
        if self.holder(realm, storage) != serial:
            raise Forbidden("only the node holding a key's storage may release it")
        cur = self._db.execute(
            "DELETE FROM actor_homes WHERE realm_id = ? AND name = ? AND key = ? AND storage = ?",
            (realm, name, key, storage),
        )
        return cur.rowcount > 0

    def release_node(self, serial: int) -> int:
        """The node unregistered or was evicted: its storages are served by nobody."""
        cur = self._db.execute("DELETE FROM storage_leases WHERE serial = ?", (serial,))
        return cur.rowcount


class PlacementService:
    """Answers ``actor_placement_request`` for the signaling service."""

    def __init__(self, service: SignalingService) -> None:
        self.service = service
        self.table = PlacementTable(
            service.store.path, lambda serial: service.registry.get(serial) is not None
        )

    def node_gone(self, session: Session) -> None:
        if self.table.release_node(session.actor_id.serial):
            log.info("placement leases of %s released", session.actor_id)

    async def handle(self, conn: Connection, session: Session, env: Any, req: Any) -> None:
        realm, serial = session.actor_id.realm, session.actor_id.serial
        storage = req.storage_id
        if not storage or len(storage) > _MAX_TEXT:
            raise BadRequest("storage_id must be 1..1024 characters")
        owner_serial = serial
        if req.op == _Op.ANNOUNCE:
            self.table.announce(realm, storage, serial)
        else:
            if not req.name or len(req.name) > _MAX_TEXT or len(req.key) > _MAX_TEXT:
                raise BadRequest("name must be 1..1024 characters and key at most 1024")
            if req.op == _Op.CLAIM:
                owner_serial = self.table.claim(
                    realm, req.name, req.key, storage, serial, req.create
                )
            elif req.op == _Op.RELEASE:
                self.table.release_key(realm, req.name, req.key, storage, serial)
            else:
                raise BadRequest(f"unknown placement op {req.op}")
        owner = self.service.registry.get(owner_serial)
        if owner is None:  # the requester itself is always live here
            raise Unavailable("the owner went offline")
        placed = actr_pb2.ActorPlacement(owner=owner.actor_id.to_proto())
        if owner.ws_address is not None:
            placed.ws_address = owner.ws_address
        await self.service._reply(
            conn, env, env.actr_to_server.source,
            actor_placement_response=actr_pb2.ActorPlacementResponse(success=placed),
        )
