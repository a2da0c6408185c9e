"""Shared pieces of the benchmark suite: records, registry, statistics.

A benchmark is an ``async def`` taking a :class:`BenchContext` and returning
:class:`Record` s. Each record pairs our figure with a raw baseline measured in
the same run, so the ratio survives a slow or noisy machine.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import os
import pkgutil
import platform
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

__all__ = [
    "BenchContext",
    "CpuPlan",
    "Record",
    "benchmark",
    "cpu_plan",
    "discover",
    "interleaved",
    "latency_record",
    "machine_info",
    "percentiles",
    "registry",
    "throughput_record",
    "timed_samples_us",
]

_T = TypeVar("_T")


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
    #: Event loop kind of the run ("asyncio" or "uvloop"); stamped by the runner.
    loop: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def meets_target(self) -> bool | None:
        """Whether the ratio meets a ratio target such as ``"<= 1.3"`` / ``">= 10"``.

        None when there is no target or it is not a plain ratio bound.
        """
        text = self.target.replace("x", "").replace("\u00d7", "").strip()
        for op in ("<=", ">="):
            if text.startswith(op):
                try:
                    bound = float(text[len(op):].replace(",", ""))
                except ValueError:
                    return None
                return self.ratio <= bound if op == "<=" else self.ratio >= bound
        return None


@dataclass
class BenchContext:
    """What a benchmark gets: run mode, loop kind, and resources shared by a run.

    Resources (a signaling server, a child node...) are expensive to start, so
    benchmarks of one run share them through :meth:`shared`; they are closed
    when the run (one event loop) ends.
    """

    quick: bool = False
    loop: str = "asyncio"
    _stack: contextlib.AsyncExitStack | None = field(default=None, repr=False)
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)

    def n(self, full: int, quick: int) -> int:
        """Pick an iteration count for the run mode."""
        return quick if self.quick else full

    async def shared(
        self, key: str, factory: Callable[[], contextlib.AbstractAsyncContextManager[_T]]
    ) -> _T:
        """The resource ``key`` of this run, entered from ``factory()`` the first time."""
        if key in self._shared:
            return self._shared[key]
        if self._stack is None:
            self._stack = contextlib.AsyncExitStack()
        value = await self._stack.enter_async_context(factory())
        self._shared[key] = value
        return value

    async def aclose(self) -> None:
        """Close every shared resource (the runner calls this at the end of a run)."""
        stack, self._stack = self._stack, None
        self._shared.clear()
        if stack is not None:
            await stack.aclose()

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[BenchContext]:
        try:
            yield self
        finally:
            await self.aclose()


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the measuring process and its child processes run on.

    Why pin: on a small machine the scheduler otherwise moves the measuring
    loop and a peer process between cores mid-run, and a child competing for
    the parent's core shows up as latency that belongs to neither. With two
    or more CPUs the measuring process gets the first one and every child
    process (peer nodes, bare baselines, the signaling server) the others,
    like two hosts on a fast link. The one exception is the bare baselines'
    sending end, a child that does the measuring process's job while it
    waits, and so runs on the measuring CPU. With one CPU nothing is pinned.
    """

    parent: frozenset[int]
    children: frozenset[int]

    @property
    def pinned(self) -> bool:
        return bool(self.parent)

    def describe(self) -> str:
        if not self.pinned:
            return "not pinned (one CPU)"
        return (
            f"measuring process on CPU {sorted(self.parent)}, "
            f"child processes on CPU {sorted(self.children)}"
        )

    def pin_self(self) -> None:
        if self.pinned:
            os.sched_setaffinity(0, self.parent)

    def pin_child(self, pid: int) -> None:
        """Pin a child right after it was spawned (its later threads inherit it)."""
        if self.pinned:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.sched_setaffinity(pid, self.children)

    def pin_like_parent(self, pid: int) -> None:
        """Pin a child to the measuring CPUs: it works while the parent waits for it."""
        if self.pinned:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.sched_setaffinity(pid, self.parent)


@functools.cache
def cpu_plan() -> CpuPlan:
    """The pinning used by this run (see :class:`CpuPlan`); ACTR_BENCH_NO_PIN=1 disables it.

    Decided once per process, from the CPUs it was allowed before pinning itself.
    """
    if os.environ.get("ACTR_BENCH_NO_PIN") or not hasattr(os, "sched_setaffinity"):
        return CpuPlan(frozenset(), frozenset())
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return CpuPlan(frozenset(), frozenset())
    return CpuPlan(frozenset(cpus[:1]), frozenset(cpus[1:]))


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


async def interleaved(
    ours: Callable[[int], Awaitable[list[float]]],
    base: Callable[[int], Awaitable[list[float]]],
    *,
    rounds: int,
    per_round: int,
    warmup: int = 1,
) -> tuple[list[float], list[float]]:
    """Latency samples of ``ours`` and ``base`` taken in short alternating rounds.

    On a shared machine the load changes from second to second; many short
    alternating rounds make both sides see the same mix of quiet and busy
    moments, where two long runs would compare two different machines. The
    first ``warmup`` rounds of each are discarded.
    """
    mine: list[float] = []
    theirs: list[float] = []
    gc.collect()
    for i in range(rounds + warmup):
        o = await ours(per_round)
        b = await base(per_round)
        if i >= warmup:
            mine += o
            theirs += b
    return mine, theirs


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
    versions = {}
    for mod in ("aiortc", "aioice", "aiohttp", "google.protobuf", "av", "msgpack", "uvloop"):
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
        "cpu_model": _cpu_model(),
        "versions": versions,
        "pinning": cpu_plan().describe(),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "?"
