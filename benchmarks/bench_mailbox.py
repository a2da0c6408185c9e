"""Durable mailbox figures: throughput and per-message latency on a real file.

Ours goes through :class:`actr_py.mailbox.Mailbox` (enqueue -> next -> trivial
handler -> complete) with 1 KiB envelopes. The baseline is bare SQLite on the
same kind of file with the same pragmas (WAL, synchronous=NORMAL): INSERT and
DELETE of 1 KiB rows, the least a durable queue must write. For throughput the
bare loop is batched (as group commit batches ours); for latency it commits
each INSERT and each DELETE on its own. Rounds of ours and the baseline
alternate so both see the same machine noise; warm-up rounds are discarded.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from actr_py.mailbox import Mailbox

from ._harness import BenchContext, Record, benchmark, latency_record, throughput_record

PAYLOAD = os.urandom(1024)
#: Producers stand for inbound lanes from many peers; consumers for handlers
#: the scheduler runs concurrently.
PRODUCERS, CONSUMERS = 64, 16
BARE_BATCH = 64


async def mailbox_throughput(path: Path, n: int, **options: Any) -> tuple[float, float]:
    """Messages per second through enqueue -> next -> complete, and the longest commit."""
    mb = await Mailbox.open(path, capacity=n + 1, **options)
    done = 0
    finished = asyncio.Event()

    async def produce(first: int) -> None:
        for i in range(first, n, PRODUCERS):
            await mb.enqueue(
                sender=f"peer-{i % PRODUCERS}", payload_type=0, request_id=f"r{i}", envelope=PAYLOAD
            )

    async def consume() -> None:
        nonlocal done
        while True:
            entry = await mb.next()
            await mb.complete(entry, b"ok")
            done += 1
            if done == n:
                finished.set()

    consumers = [asyncio.ensure_future(consume()) for _ in range(CONSUMERS)]
    t0 = time.perf_counter()
    await asyncio.gather(*(produce(p) for p in range(PRODUCERS)))
    await finished.wait()
    elapsed = time.perf_counter() - t0
    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    stats = mb.stats()
    await mb.close()
    return n / elapsed, stats.longest_commit


def _bare(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE q (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    return conn


def bare_throughput(path: Path, n: int) -> float:
    """Rows per second inserted and later deleted, BARE_BATCH per transaction."""
    conn = _bare(path)
    cur = conn.cursor()
    t0 = time.perf_counter()
    for start in range(0, n + BARE_BATCH, BARE_BATCH):
        cur.execute("BEGIN")
        cur.executemany(
            "INSERT INTO q VALUES (?, ?)",
            ((i, PAYLOAD) for i in range(start, min(start + BARE_BATCH, n))),
        )
        cur.executemany(
            "DELETE FROM q WHERE id = ?", ((i,) for i in range(start - BARE_BATCH, start) if i >= 0)
        )
        cur.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return n / elapsed


async def mailbox_latency(path: Path, n: int, **options: Any) -> list[float]:
    """Microseconds for one message at a time: enqueue, next, complete."""
    mb = await Mailbox.open(path, **options)
    clock = time.perf_counter_ns
    out = []
    for i in range(n):
        t0 = clock()
        await mb.enqueue(sender="peer", payload_type=0, request_id=f"r{i}", envelope=PAYLOAD)
        entry = await mb.next()
        await mb.complete(entry, b"ok")
        out.append((clock() - t0) / 1000)
    await mb.close()
    return out


def bare_latency(path: Path, n: int) -> list[float]:
    """Microseconds for INSERT + COMMIT then DELETE + COMMIT of one row."""
    conn = _bare(path)
    cur = conn.cursor()
    clock = time.perf_counter_ns
    out = []
    for i in range(n):
        t0 = clock()
        cur.execute("BEGIN")
        cur.execute("INSERT INTO q VALUES (?, ?)", (i, PAYLOAD))
        cur.execute("COMMIT")
        cur.execute("BEGIN")
        cur.execute("DELETE FROM q WHERE id = ?", (i,))
        cur.execute("COMMIT")
        out.append((clock() - t0) / 1000)
    conn.close()
    return out


def _remove(directory: str) -> None:
    """Delete a round's files at once: the kernel then drops their dirty pages
    instead of writing them back while the next round runs."""
    for entry in os.scandir(directory):
        os.unlink(entry.path)


@benchmark("mailbox.throughput")
async def throughput(ctx: BenchContext) -> list[Record]:
    n, rounds = ctx.n(20_000, 5_000), ctx.n(5, 2)
    ours, base, stalls = [], [], []
    with tempfile.TemporaryDirectory(prefix="actr-bench-mailbox-") as tmp:
        for i in range(rounds + 1):
            gc.collect()
            o, longest = await mailbox_throughput(Path(tmp, "ours.db"), n)
            _remove(tmp)
            b = bare_throughput(Path(tmp, "bare.db"), n)
            _remove(tmp)
            if i:  # the first round warms caches and the file system
                ours.append(o)
                base.append(b)
                stalls.append(longest * 1000)
        note = (
            f"{PRODUCERS} producers, {CONSUMERS} consumers, 1 KiB, median of {rounds} rounds"
            f" of {n}; baseline {BARE_BATCH} rows per transaction; longest commit (the loop"
            f" held) per round: median {statistics.median(stalls):.1f} ms, worst"
            f" {max(stalls):.1f} ms; files in {tempfile.gettempdir()}"
        )
    return [
        throughput_record(
            "mailbox.throughput",
            statistics.median(ours),
            "bare SQLite INSERT+DELETE, batched",
            statistics.median(base),
            unit="msg/s",
            target=">= 20,000 msg/s",
            note=note,
        )
    ]


@benchmark("mailbox.latency")
async def latency(ctx: BenchContext) -> list[Record]:
    n, rounds = ctx.n(2_000, 500), ctx.n(5, 2)
    ours: list[float] = []
    base: list[float] = []
    with tempfile.TemporaryDirectory(prefix="actr-bench-mailbox-") as tmp:
        for i in range(rounds + 1):
            gc.collect()
            o = await mailbox_latency(Path(tmp, "ours.db"), n)
            _remove(tmp)
            b = bare_latency(Path(tmp, "bare.db"), n)
            _remove(tmp)
            if i:
                ours += o
                base += b
    ours_p50, base_p50 = statistics.median(ours), statistics.median(base)
    return [
        latency_record(
            "mailbox.latency",
            ours,
            "bare SQLite INSERT+COMMIT, DELETE+COMMIT",
            base,
            target="<= 1 ms p50",
            note=(
                f"one message at a time, enqueue -> next -> complete, 1 KiB;"
                f" added over the baseline at p50: {ours_p50 - base_p50:.0f} us"
            ),
        )
    ]
