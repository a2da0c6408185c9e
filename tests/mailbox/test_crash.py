"""Real processes killed with SIGKILL: nothing accepted is lost, nothing answered runs twice."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from actr_py.mailbox import Mailbox

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
]

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).resolve().parents[2]


class Child:
    """A child process whose stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def wait_for(self, wanted: str, timeout: float = 20.0) -> list[str]:
        """Lines up to and including ``wanted``."""
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.kill()
                raise AssertionError(f"child never printed {wanted!r}; saw {seen[-5:]}") from None
            seen.append(line)
            if line == wanted:
                return seen

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)

    def drain(self) -> list[str]:
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out


def read(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_sigkill_inside_a_handler_loses_nothing_and_answers_each_once(tmp_path: Path) -> None:
    n, kill_at = 400, 250
    db, starts = tmp_path / "mailbox.db", tmp_path / "starts.log"
    args = ["work", str(db), str(n), str(kill_at), str(starts), "4"]

    first = Child(*args, "--produce")
    first.wait_for(f"inside {kill_at}")
    first.kill()
    assert first.proc.returncode == -signal.SIGKILL
    pid1 = first.proc.pid

    second = Child(*args)
    second.wait_for("finished")
    assert second.proc.wait(timeout=20) == 0
    pid2 = second.proc.pid

    # The answered table is written in the same transaction as each complete():
    # exactly one row per message means each was acknowledged exactly once.
    answered = read(db, "SELECT request_id, response FROM answered")
    assert len(answered) == n
    answer = {int(rid[1:]): resp.decode() for rid, resp in answered}
    assert sorted(answer) == list(range(n))
    assert read(db, "SELECT count(*) FROM messages") == [(0,)]
    assert read(db, "SELECT count(*) FROM dead_letters") == [(0,)]

    runs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for line in starts.read_text().splitlines():
        k, attempts, pid = map(int, line.split())
        runs[k].append((pid, attempts))
    assert sorted(runs) == list(range(n))

    # The message killed mid-handler was redelivered, as its second attempt.
    assert runs[kill_at] == [(pid1, 1), (pid2, 2)]
    assert answer[kill_at] == f"{pid2}:2"
    answered_by_first = {k for k, a in answer.items() if a.startswith(f"{pid1}:")}
    assert kill_at not in answered_by_first and len(answered_by_first) >= kill_at // 2
    marked_unstarted = 0
    for k, started in runs.items():
        last_pid, last_attempt = started[-1]
        assert answer[k] == f"{last_pid}:{last_attempt}"
        if k in answered_by_first:
            assert started == [(pid1, 1)]  # acknowledged before the kill: never run again
        elif started[0][0] == pid1:
            # In flight at the kill: redelivered with the attempt counted.
            assert started == [(pid1, 1), (pid2, 2)]
        elif started == [(pid2, 2)]:
            # Marked in flight by the first process (durably: it counts), which
            # died before its handler began. Only the other workers can be there.
            marked_unstarted += 1
        else:
            assert started == [(pid2, 1)]
    assert marked_unstarted <= 3


async def test_sigkill_during_enqueue_keeps_every_acknowledged_message(tmp_path: Path) -> None:
    db = tmp_path / "mailbox.db"
    child = Child("flood", str(db))
    acked = set()
    while len(acked) < 500:
        line = child.lines.get(timeout=20)
        acked.add(line.removeprefix("acked "))
    child.kill()
    acked.update(line.removeprefix("acked ") for line in child.drain() if line.startswith("acked"))

    async with await Mailbox.open(db, capacity=1_000_000) as mb:
        stored = []
        while mb.depth():
            entry = await mb.next()
            stored.append(entry.request_id)
            await mb.complete(entry, None)
    assert len(stored) == len(set(stored))
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:3]}"
