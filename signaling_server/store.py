"""What survives a restart: realms, signing keys, the serial counter, registrations, specs.

Live sessions stay in memory (see :mod:`signaling_server.registry`). The
registration rows are what lets a node reconnect after a server restart with
its old token and find its ACL, service spec and endpoint again.

stdlib ``sqlite3`` in WAL mode with ``synchronous=NORMAL``: a commit is a
write to the WAL without fsync, well under a millisecond, so the calls run on
the event loop thread. The realm CLI writes to the same file concurrently.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from actr_py.credential import generate_private_key, private_key_bytes
from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2

__all__ = ["RealmRow", "RegistrationRow", "SigningKeyRow", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS realms (
    realm_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
    key_id INTEGER PRIMARY KEY,
    private_key BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
    serial INTEGER PRIMARY KEY,
    realm_id INTEGER NOT NULL,
    manufacturer TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    acl BLOB,
    service_spec BLOB,
    ws_address TEXT,
    expires_at REAL NOT NULL,
    psk_hash BLOB
);
CREATE TABLE IF NOT EXISTS service_specs (
    realm_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    spec BLOB NOT NULL,
    PRIMARY KEY (realm_id, name)
);
"""

#: Serials are reserved from the database in blocks, so a registration costs no
#: counter write most of the time; a crash only leaves a gap, never a reuse.
_SERIAL_BLOCK = 256


@dataclass(frozen=True, slots=True)
class RealmRow:
    realm_id: int
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class SigningKeyRow:
    key_id: int
    private_key: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class RegistrationRow:
    actor_id: ActorId
    acl: actr_pb2.Acl | None
    service_spec: actr_pb2.ServiceSpec | None
    ws_address: str | None
    expires_at: float
    #: SHA-256 of the registration's reconnect secret (RegisterOk.psk).
    psk_hash: bytes | None = None


class Store:
    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        fresh = not path.exists()
        if fresh and path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open transactions explicitly where they matter.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        if fresh:
            # The file holds the private signing keys.
            os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(registrations)")}
        if "psk_hash" not in columns:  # databases from before the reconnect secret
            self._db.execute("ALTER TABLE registrations ADD COLUMN psk_hash BLOB")
        self.path = path
        self._serial_next = 0
        self._serial_limit = 0

    def close(self) -> None:
        self._db.close()

    # ---- realms -------------------------------------------------------------

    def add_realm(self, realm_id: int, name: str = "") -> bool:
        """Create a realm; False when it already existed (its name is then updated)."""
        _check_u32("realm id", realm_id)
        cur = self._db.execute(
            "INSERT INTO realms (realm_id, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(realm_id) DO NOTHING",
            (realm_id, name, time.time()),
        )
        if cur.rowcount == 0:
            if name:
                self._db.execute("UPDATE realms SET name = ? WHERE realm_id = ?", (name, realm_id))
            return False
        return True

    def remove_realm(self, realm_id: int) -> bool:
        cur = self._db.execute("DELETE FROM realms WHERE realm_id = ?", (realm_id,))
        return cur.rowcount > 0

    def list_realms(self) -> list[RealmRow]:
        rows = self._db.execute("SELECT realm_id, name, created_at FROM realms ORDER BY realm_id")
        return [RealmRow(*row) for row in rows]

    def realm_exists(self, realm_id: int) -> bool:
        row = self._db.execute("SELECT 1 FROM realms WHERE realm_id = ?", (realm_id,)).fetchone()
        return row is not None

    # ---- signing keys -------------------------------------------------------

    def signing_keys(self) -> list[SigningKeyRow]:
        rows = self._db.execute(
            "SELECT key_id, private_key, created_at FROM signing_keys ORDER BY key_id"
        )
        return [SigningKeyRow(*row) for row in rows]

    def add_signing_key(self) -> SigningKeyRow:
        """Generate a new key; the newest key is the one the server signs with."""
        raw = private_key_bytes(generate_private_key())
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO signing_keys (private_key, created_at) VALUES (?, ?)", (raw, now)
        )
        assert cur.lastrowid is not None
        return SigningKeyRow(cur.lastrowid, raw, now)

    def ensure_signing_key(self) -> list[SigningKeyRow]:
        keys = self.signing_keys()
        if not keys:
            keys = [self.add_signing_key()]
        return keys

    # ---- serials ------------------------------------------------------------

    def next_serial(self) -> int:
        """A serial never issued before by this database, across restarts."""
        if self._serial_next >= self._serial_limit:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key = 'serial'").fetchone()
                start = row[0] if row else 1
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('serial', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (start + _SERIAL_BLOCK,),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._serial_next, self._serial_limit = start, start + _SERIAL_BLOCK
        serial = self._serial_next
        self._serial_next += 1
        return serial

    # ---- registrations ------------------------------------------------------

    def save_registration(self, row: RegistrationRow) -> None:
        aid = row.actor_id
        self._db.execute(
            "INSERT OR REPLACE INTO registrations "
            "(serial, realm_id, manufacturer, name, version, acl, service_spec, ws_address,"
            " expires_at, psk_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                aid.serial,
                aid.realm,
                aid.type.manufacturer,
                aid.type.name,
                aid.type.version,
                row.acl.SerializeToString() if row.acl is not None else None,
                row.service_spec.SerializeToString() if row.service_spec is not None else None,
                row.ws_address,
                row.expires_at,
                row.psk_hash,
            ),
        )

    def renew_registration(self, serial: int, expires_at: float) -> None:
        self._db.execute(
            "UPDATE registrations SET expires_at = max(expires_at, ?) WHERE serial = ?",
            (expires_at, serial),
        )

    def delete_registration(self, serial: int) -> None:
        self._db.execute("DELETE FROM registrations WHERE serial = ?", (serial,))

    def load_registration(self, serial: int) -> RegistrationRow | None:
        row = self._db.execute(
            "SELECT realm_id, manufacturer, name, version, acl, service_spec, ws_address,"
            " expires_at, psk_hash FROM registrations WHERE serial = ?",
            (serial,),
        ).fetchone()
        if row is None:
            return None
        realm, manufacturer, name, version, acl_raw, spec_raw, ws_address, expires_at, psk = row
        acl = spec = None
        if acl_raw is not None:
            acl = actr_pb2.Acl.FromString(acl_raw)
        if spec_raw is not None:
            spec = actr_pb2.ServiceSpec.FromString(spec_raw)
        aid = ActorId(realm, serial, ActrTypeName(manufacturer, name, version))
        return RegistrationRow(aid, acl, spec, ws_address, expires_at, psk)

    def purge_expired_registrations(self, now: float) -> int:
        """Rows whose last credential expired can never be restored: drop them."""
        cur = self._db.execute("DELETE FROM registrations WHERE expires_at <= ?", (now,))
        return cur.rowcount

    # ---- service specs ------------------------------------------------------

    def save_service_spec(self, realm_id: int, spec: actr_pb2.ServiceSpec) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO service_specs (realm_id, name, fingerprint, spec)"
            " VALUES (?, ?, ?, ?)",
            (realm_id, spec.name, spec.fingerprint, spec.SerializeToString()),
        )

    def get_service_spec(self, realm_id: int, name: str) -> actr_pb2.ServiceSpec | None:
        row = self._db.execute(
            "SELECT spec FROM service_specs WHERE realm_id = ? AND name = ?", (realm_id, name)
        ).fetchone()
        return None if row is None else actr_pb2.ServiceSpec.FromString(row[0])


def _check_u32(what: str, value: int) -> None:
    if not 0 <= value < 2**32:
        raise ValueError(f"{what} {value} is outside 0..2^32-1")
