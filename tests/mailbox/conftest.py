"""Fixtures for the mailbox tests: an injectable clock and a real file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mailbox.db"
