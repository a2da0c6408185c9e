"""A mailbox user in its own process, for the crash tests to SIGKILL.

``work PATH N KILL_AT STARTS WORKERS [--produce]``: optionally enqueue N
messages, then consume with WORKERS concurrent handlers until the mailbox is
empty. Every handler start is appended to STARTS as ``k attempts pid``; the
handler for message KILL_AT, on its first attempt, prints ``inside KILL_AT``
and hangs there until the parent kills the process.

``flood PATH``: enqueue from 16 tasks forever, printing ``acked RID`` after each
enqueue returned, until killed.

Only ``actr_py.mailbox`` is used, as a node would.
"""

from __future__ import annotations

import asyncio
import os
import sys

from actr_py.mailbox import Mailbox


async def work(path: str, n: int, kill_at: int, starts: str, workers: int, produce: bool) -> None:
    mb = await Mailbox.open(path, max_attempts=5)
    if produce:
        await asyncio.gather(
            *(
                mb.enqueue(
                    sender="parent",
                    payload_type=0,
                    request_id=f"m{k}",
                    envelope=f"payload {k}".encode(),
                )
                for k in range(n)
            )
        )
        print("enqueued", flush=True)
    fd = os.open(starts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pid = os.getpid()
    finished = asyncio.Event()

    async def handler() -> None:
        while True:
            entry = await mb.next()
            k = int(entry.request_id[1:])
            assert entry.envelope == f"payload {k}".encode()
            os.write(fd, f"{k} {entry.attempts} {pid}\n".encode())
            if k == kill_at and entry.attempts == 1:
                print(f"inside {k}", flush=True)
                await asyncio.sleep(3600)
            await asyncio.sleep(0)  # the "work"
            await mb.complete(entry, f"{pid}:{entry.attempts}".encode())
            if mb.depth() == 0:
                finished.set()

    tasks = [asyncio.ensure_future(handler()) for _ in range(workers)]
    if mb.depth() == 0:
        finished.set()
    await finished.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await mb.close()
    os.close(fd)
    print("finished", flush=True)


async def flood(path: str) -> None:
    mb = await Mailbox.open(path, capacity=1_000_000)

    async def producer(t: int) -> None:
        for j in range(1_000_000):
            rid = f"f{t}-{j}"
            await mb.enqueue(sender="parent", payload_type=0, request_id=rid, envelope=b"x" * 512)
            print(f"acked {rid}", flush=True)

    await asyncio.gather(*(producer(t) for t in range(16)))


def main(argv: list[str]) -> None:
    if argv[0] == "work":
        path, n, kill_at, starts, workers = argv[1], *map(int, argv[2:4]), argv[4], int(argv[5])
        asyncio.run(work(path, n, kill_at, starts, workers, "--produce" in argv))
    elif argv[0] == "flood":
        asyncio.run(flood(argv[1]))
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
