"""A child for the harness tests: answers ``{"op": "echo", ...}`` over the JSON-line protocol."""

from __future__ import annotations

import os
from typing import Any

from actr_py import loop as actr_loop
from benchmarks._procs import serve_lines


async def main() -> None:
    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        if req.get("op") != "echo":
            raise ValueError(f"unknown op {req.get('op')!r}")
        return {"echo": req["value"], "loop": actr_loop.loop_kind(),
                "cpus": sorted(os.sched_getaffinity(0))}

    await serve_lines({"pid": os.getpid()}, handle)


if __name__ == "__main__":
    actr_loop.run(main())
