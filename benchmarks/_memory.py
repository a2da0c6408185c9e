"""Resident memory, and the floors the per-object memory figures compare against.

Kept free of heavy imports: ``python -m benchmarks._memory KIND N`` measures a
floor in a fresh process that starts in a fraction of a second, where the
benchmark modules (which import actr_py, aiortc, av) would take one.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

__all__ = ["measure_floor", "rss"]


def rss() -> int:
    """This process's resident set size in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Empty:
    __slots__ = ()


def measure_floor(kind: str, n: int) -> float:
    """RSS growth per object for ``n`` empty ``__slots__`` objects or small dicts."""
    keep: list[Any] = [(_Empty() if kind == "slots" else {}) for _ in range(1000)]
    gc.collect()
    before = rss()
    items = [(_Empty() if kind == "slots" else {"count": 0}) for _ in range(n)]
    gc.collect()
    after = rss()
    del keep, items
    return (after - before) / n


if __name__ == "__main__":
    print(measure_floor(sys.argv[1], int(sys.argv[2])))
