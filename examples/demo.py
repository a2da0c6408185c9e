"""`make demo`: the in-process demo — echo RPC and a data stream between actors."""

from __future__ import annotations

import asyncio

from .data_stream.main import run as run_stream
from .echo.client import run as run_echo


async def main() -> None:
    print("== echo: two actors in one process, protobuf RPC ==")
    await run_echo(["hello", "actr_py", "bye"])
    print("\n== data stream: 4 MiB in order between two actors ==")
    ok = await run_stream()
    if not ok:
        raise SystemExit("stream check failed")


if __name__ == "__main__":
    asyncio.run(main())
