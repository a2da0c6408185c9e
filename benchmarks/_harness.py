"""Shared pieces of the benchmark suite: records, registry, statistics.

A benchmark is an ``async def`` taking a :class:`BenchContext` and returning
:class:`Record` s. Each record pairs our figure with a raw baseline measured in
the same run, so the ratio survives a slow or noisy machine.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "BenchContext",
    "Record",
    "benchmark",
    "discover",
    "latency_record",
    "machine_info",
    "percentiles",
    "registry",
    "throughput_record",
    "timed_samples_us",
]


@dataclass
class Record:
    name: str
    unit: str
    value: float
    baseline_name: str
    baseline_value: float
    ratio: float
    #: "lower" for latencies, "higher" for rates: which way the ratio is good.
    better: str = "lower"
    #: p50/p95/p99 of ours and of the baseline, where the figure is a latency.
    percentiles: dict[str, float] = field(default_factory=dict)
    baseline_percentiles: dict[str, float] = field(default_factory=dict)
    #: The target from the issue, as a ratio bound, when there is one.
    target: str = ""
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchContext:
    quick: bool = False

    def n(self, full: int, quick: int) -> int:
        """Pick an iteration count for the run mode."""
        return quick if self.quick else full


BenchFn = Callable[[BenchContext], Awaitable[list[Record]]]
registry: dict[str, BenchFn] = {}


def benchmark(name: str) -> Callable[[BenchFn], BenchFn]:
    """Register a benchmark under ``name`` (used by ``--only``)."""

    def deco(fn: BenchFn) -> BenchFn:
        if name in registry:
            raise ValueError(f"benchmark {name!r} registered twice")
        registry[name] = fn
        return fn

    return deco


def discover() -> None:
    """Import every ``benchmarks/bench_*.py`` so they register themselves."""
    import benchmarks

    for info in pkgutil.iter_modules(benchmarks.__path__):
        if info.name.startswith("bench_"):
            importlib.import_module(f"benchmarks.{info.name}")


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 by nearest rank (samples need not be sorted)."""
    if not samples:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99)}


def latency_record(
    name: str,
    ours: list[float],
    baseline_name: str,
    base: list[float],
    *,
    unit: str = "us",
    target: str = "",
    note: str = "",
) -> Record:
    """Latency figure compared at p50; samples in ``unit``."""
    p_ours, p_base = percentiles(ours), percentiles(base)
    return Record(
        name=name,
        unit=unit,
        value=p_ours["p50"],
        baseline_name=baseline_name,
        baseline_value=p_base["p50"],
        ratio=p_ours["p50"] / p_base["p50"] if p_base["p50"] else float("inf"),
        better="lower",
        percentiles=p_ours,
        baseline_percentiles=p_base,
        target=target,
        note=note,
    )


def throughput_record(
    name: str,
    ours: float,
    baseline_name: str,
    base: float,
    *,
    unit: str,
    target: str = "",
    note: str = "",
) -> Record:
    return Record(
        name=name,
        unit=unit,
        value=ours,
        baseline_name=baseline_name,
        baseline_value=base,
        ratio=ours / base if base else float("inf"),
        better="higher",
        target=target,
        note=note,
    )


def timed_samples_us(fn_once: Callable[[], None], n: int) -> list[float]:
    """Time a synchronous callable n times, in microseconds."""
    out = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(n):
            t0 = clock()
            fn_once()
            out.append((clock() - t0) / 1000)
    finally:
        gc.enable()
    return out


def machine_info() -> dict[str, Any]:
    import os

    versions = {}
    for mod in ("aiortc", "aiohttp", "google.protobuf", "av", "msgpack", "uvloop"):
        try:
            m = importlib.import_module(mod)
            versions[mod] = getattr(m, "__version__", "?")
        except ImportError:
            continue
    try:
        from google.protobuf.internal import api_implementation

        versions["protobuf_backend"] = api_implementation.Type()
    except ImportError:
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }
