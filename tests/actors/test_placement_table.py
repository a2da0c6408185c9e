"""The server's placement rules, on a real SQLite file, with liveness injected."""

from __future__ import annotations

from pathlib import Path

import pytest

from actr_py.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from signaling_server.placement import PlacementTable


@pytest.fixture
def table(tmp_path: Path):
    live: set[int] = set()
    t = PlacementTable(tmp_path / "signaling.db", live.__contains__)
    t.live = live  # type: ignore[attr-defined]
    yield t
    t.close()


def test_first_creator_becomes_home_and_others_are_sent_there(table) -> None:
    table.live.update({1, 2})
    table.announce(1, "store-a", 1)
    table.announce(1, "store-b", 2)
    assert table.claim(1, "Counter", "k", "store-a", 1, create=True) == 1
    # Node 2 asks for the same key, even with create: it is served by node 1.
    assert table.claim(1, "Counter", "k", "store-b", 2, create=True) == 1
    assert table.claim(1, "Counter", "k", "store-b", 2, create=False) == 1
    # Keys are per realm.
    table.announce(2, "store-b", 2)
    assert table.claim(2, "Counter", "k", "store-b", 2, create=True) == 2


def test_unknown_key_without_create_is_not_found(table) -> None:
    table.live.add(1)
    table.announce(1, "s", 1)
    with pytest.raises(NotFound):
        table.claim(1, "Counter", "nope", "s", 1, create=False)


def test_creating_needs_an_announced_storage(table) -> None:
    table.live.add(1)
    with pytest.raises(BadRequest):
        table.claim(1, "Counter", "k", "never-announced", 1, create=True)


def test_a_live_holder_keeps_its_storage_and_a_dead_one_loses_it(table) -> None:
    table.live.update({1, 2})
    table.announce(1, "s", 1)
    with pytest.raises(Conflict):
        table.announce(1, "s", 2)
    table.live.discard(1)  # the holder's socket is gone (e.g. killed)
    table.announce(1, "s", 2)  # its restarted process takes the storage over
    assert table.holder(1, "s") == 2


def test_keys_of_an_offline_storage_are_unavailable_until_it_returns(table) -> None:
    table.live.update({1, 2})
    table.announce(1, "a", 1)
    table.announce(1, "b", 2)
    table.claim(1, "Room", "r", "a", 1, create=True)
    assert table.release_node(1) == 1  # node 1 unregistered: lease released
    with pytest.raises(Unavailable):
        table.claim(1, "Room", "r", "b", 2, create=True)
    table.live.add(3)
    table.announce(1, "a", 3)  # storage "a" is back, in a new process
    assert table.claim(1, "Room", "r", "b", 2, create=True) == 3


def test_release_key_only_by_its_home_then_free_for_anyone(table) -> None:
    table.live.update({1, 2})
    table.announce(1, "a", 1)
    table.announce(1, "b", 2)
    table.claim(1, "Room", "r", "a", 1, create=True)
    with pytest.raises(Forbidden):
        table.release_key(1, "Room", "r", "a", 2)
    assert table.release_key(1, "Room", "r", "a", 1)
    assert table.claim(1, "Room", "r", "b", 2, create=True) == 2


def test_homes_survive_a_reopen(tmp_path: Path) -> None:
    live = {1}
    t = PlacementTable(tmp_path / "s.db", live.__contains__)
    t.announce(1, "a", 1)
    t.claim(1, "Room", "r", "a", 1, create=True)
    t.close()
    t = PlacementTable(tmp_path / "s.db", live.__contains__)
    assert t.claim(1, "Room", "r", "a", 1, create=False) == 1
    t.close()
