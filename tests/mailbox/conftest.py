"""Fixtures for the mailbox tests: an injectable clock and a real file per test."""

from __future__ import annotations

from pathlib import Path

import pytest


class FakeClock:
    """Wall-clock stand-in the tests move by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mailbox.db"
