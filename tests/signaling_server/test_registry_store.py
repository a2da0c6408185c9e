"""Candidate ranking, the live registry, and the SQLite store (a real file)."""

from __future__ import annotations

import sqlite3

from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2
from signaling_server.acl import AccessPolicy
from signaling_server.registry import Registry, Session, rank_candidates, type_key
from signaling_server.store import RegistrationRow, Store

F = actr_pb2.RouteCandidatesRequest.NodeSelectionCriteria
ECHO = ActrTypeName("acme", "echo")


def session(serial: int, power: float = 0.0, backlog: float = 0.0, t=ECHO) -> Session:
    return Session(
        actor_id=ActorId(1, serial, t), conn=None, policy=AccessPolicy(), acl=None,  # type: ignore[arg-type]
        service_spec=None, ws_address=None, expires_at=0.0, last_seen=0.0,
        power_reserve=power, mailbox_backlog=backlog,
    )


def serials(sessions):
    return [s.actor_id.serial for s in sessions]


def test_ranking_by_power_then_backlog_then_serial():
    pool = [session(1, 0.5, 3), session(2, 0.9, 5), session(3, 0.9, 1), session(4, 0.1, 0)]
    assert serials(rank_candidates(pool, [F.MAXIMUM_POWER_RESERVE], 4)) == [2, 3, 1, 4]
    assert serials(rank_candidates(pool, [F.MINIMUM_MAILBOX_BACKLOG], 4)) == [4, 3, 1, 2]
    both = [F.MAXIMUM_POWER_RESERVE, F.MINIMUM_MAILBOX_BACKLOG]
    assert serials(rank_candidates(pool, both, 4)) == [3, 2, 1, 4]
    assert serials(rank_candidates(pool, both, 2)) == [3, 2]


def test_unranked_factors_and_no_factors_keep_registration_order():
    pool = [session(3, 0.1), session(1, 0.9), session(2, 0.5)]
    assert serials(rank_candidates(pool, [], 3)) == [1, 2, 3]
    assert serials(rank_candidates(pool, [F.NEAREST, F.CLIENT_AFFINITY], 3)) == [1, 2, 3]


def test_non_finite_load_figures_rank_as_zero():
    pool = [session(1, float("nan")), session(2, 0.5), session(3, float("inf"))]
    assert serials(rank_candidates(pool, [F.MAXIMUM_POWER_RESERVE], 3)) == [2, 1, 3]


def test_ranked_view_is_cached_until_the_type_changes():
    reg = Registry()
    key = type_key(1, ECHO)
    a, b = session(1, 0.1), session(2, 0.9)
    reg.add(a)
    reg.add(b)
    power = [F.MAXIMUM_POWER_RESERVE]
    first = reg.ranked(key, power)
    assert serials(first) == [2, 1]
    assert reg.ranked(key, power) is first
    assert serials(reg.ranked(key, [F.MINIMUM_MAILBOX_BACKLOG])) == [1, 2]
    reg.report_load(a, actr_pb2.FULL, 1.0, 0.0)
    assert serials(reg.ranked(key, power)) == [1, 2]
    reg.add(session(3, 5.0))
    assert serials(reg.ranked(key, power)) == [3, 1, 2]
    reg.remove(3)
    assert serials(reg.ranked(key, power)) == [1, 2]
    reg.remove(1)
    reg.remove(2)
    assert reg.ranked(key, power) == []


def test_registry_indexes_and_subscriptions_follow_removal():
    reg = Registry()
    a, b = session(1), session(2)
    other = session(3, t=ActrTypeName("acme", "other"))
    for s in (a, b, other):
        reg.add(s)
    assert serials(reg.of_type(type_key(1, ECHO))) == [1, 2]
    reg.subscribe(other, type_key(1, ECHO))
    assert reg.subscribers(type_key(1, ECHO)) == [other]
    reg.remove(3)
    assert reg.subscribers(type_key(1, ECHO)) == []
    replacement = session(1)
    assert reg.add(replacement) is a
    assert reg.get(1) is replacement and len(reg) == 2
    reg.remove(1)
    reg.remove(2)
    assert list(reg.of_type(type_key(1, ECHO))) == [] and list(reg.types_in_realm(1)) == []


def test_serials_are_unique_across_reopening(tmp_path):
    db = tmp_path / "s.db"
    store = Store(db)
    first = [store.next_serial() for _ in range(10)]
    store.close()
    store = Store(db)
    second = [store.next_serial() for _ in range(300)]
    store.close()
    assert len(set(first + second)) == 310
    assert min(second) > max(first)


def test_registration_rows_round_trip_and_expire(tmp_path):
    store = Store(tmp_path / "s.db")
    acl = actr_pb2.Acl(rules=[actr_pb2.AclRule(permission=actr_pb2.AclRule.ALLOW)])
    spec = actr_pb2.ServiceSpec(name="acme.Echo", fingerprint="fp")
    aid = ActorId(5, 42, ActrTypeName("acme", "echo", "1.0"))
    row = RegistrationRow(aid, acl, spec, "ws://127.0.0.1:1/x", 100.0, b"h" * 32)
    store.save_registration(row)
    assert store.load_registration(42) == row
    store.renew_registration(42, 200.0)
    store.renew_registration(42, 150.0)  # never shortens
    assert store.load_registration(42).expires_at == 200.0
    assert store.purge_expired_registrations(199.0) == 0
    assert store.purge_expired_registrations(200.0) == 1
    assert store.load_registration(42) is None


def test_old_databases_gain_the_psk_column(tmp_path):
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db)
    raw.execute(
        "CREATE TABLE registrations (serial INTEGER PRIMARY KEY, realm_id INTEGER NOT NULL,"
        " manufacturer TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL DEFAULT '',"
        " acl BLOB, service_spec BLOB, ws_address TEXT, expires_at REAL NOT NULL)"
    )
    raw.execute("INSERT INTO registrations VALUES (7, 1, 'a', 'b', '', NULL, NULL, NULL, 50)")
    raw.commit()
    raw.close()
    store = Store(db)
    assert store.load_registration(7).psk_hash is None
    store.close()


def test_realms_keys_and_specs(tmp_path):
    db = tmp_path / "s.db"
    store = Store(db)
    assert store.add_realm(101, "prod")
    assert not store.add_realm(101)
    assert store.realm_exists(101) and not store.realm_exists(102)
    assert [(r.realm_id, r.name) for r in store.list_realms()] == [(101, "prod")]
    keys = store.ensure_signing_key()
    assert store.ensure_signing_key() == keys
    rotated = store.add_signing_key()
    assert [k.key_id for k in store.signing_keys()] == [keys[0].key_id, rotated.key_id]
    spec = actr_pb2.ServiceSpec(name="acme.Echo", fingerprint="v1")
    store.save_service_spec(101, spec)
    assert store.get_service_spec(101, "acme.Echo") == spec
    assert store.get_service_spec(102, "acme.Echo") is None
    assert store.remove_realm(101) and not store.remove_realm(101)
    store.close()
    # The file holds private keys: owner-only, and WAL mode for concurrent CLI writes.
    assert db.stat().st_mode & 0o077 == 0
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
