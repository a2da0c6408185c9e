"""The benchmark runner end to end on tiny benchmarks: records, JSON shape, table, failures.

Nothing here measures speed; a benchmark registered by the test returns a
fixed record so the assertions are about the runner, not the machine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from actr_py import loop as actr_loop
from benchmarks import __main__ as runner
from benchmarks._harness import (
    BenchContext,
    Record,
    benchmark,
    cpu_plan,
    latency_record,
    percentiles,
    registry,
    throughput_record,
)
from benchmarks._procs import spawn
from benchmarks.report import markdown

_KEYS = {"name", "unit", "value", "baseline_name", "baseline_value", "ratio"}


@pytest.fixture(autouse=True)
def no_pinning(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The runner pins its own process; the test process must stay unpinned."""
    monkeypatch.setenv("ACTR_BENCH_NO_PIN", "1")
    cpu_plan.cache_clear()
    yield
    cpu_plan.cache_clear()
    actr_loop.install("asyncio")


@pytest.fixture
def tiny() -> Iterator[list[str]]:
    """Two tiny benchmarks (one fails) registered for the duration of a test."""
    seen: list[str] = []

    @benchmark("zz_smoke.tiny")
    async def tiny_bench(ctx: BenchContext) -> list[Record]:
        seen.append(actr_loop.loop_kind())
        shared = await ctx.shared("thing", _thing)
        assert shared == "thing"
        return [
            latency_record("zz_smoke.rtt", [10.0, 20.0, 30.0], "bare", [5.0, 10.0, 15.0],
                           target="<= 2.5"),
            throughput_record("zz_smoke.rate", 300.0, "bare rate", 100.0, unit="msg/s",
                              target=">= 10"),
        ]

    @benchmark("zz_smoke.broken")
    async def broken(ctx: BenchContext) -> list[Record]:
        raise RuntimeError("this benchmark is broken on purpose")

    try:
        yield seen
    finally:
        registry.pop("zz_smoke.tiny", None)
        registry.pop("zz_smoke.broken", None)


class _Thing:
    async def __aenter__(self) -> str:
        return "thing"

    async def __aexit__(self, *exc: object) -> None:
        return None


def _thing() -> _Thing:
    return _Thing()


def test_runner_writes_records_and_a_table(
    tiny: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    code = runner.main(["--only", "zz_smoke.tiny", "--loop", "asyncio", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["machine"]["loops"] == ["asyncio"]
    assert {"python", "platform", "cpus", "versions", "pinning"} <= set(data["machine"])
    records = data["records"]
    assert [r["name"] for r in records] == ["zz_smoke.rtt", "zz_smoke.rate"]
    for record in records:
        assert _KEYS <= set(record)
        assert record["loop"] == "asyncio"
    rtt, rate = records
    assert rtt["value"] == 20.0 and rtt["baseline_value"] == 10.0 and rtt["ratio"] == 2.0
    assert rtt["percentiles"]["p50"] == 20.0 and rtt["better"] == "lower"
    assert rate["ratio"] == 3.0 and rate["better"] == "higher"
    table = capsys.readouterr().out
    assert "zz_smoke.rtt" in table and "2.00x (target <= 2.5 ok)" in table
    assert "3.00x (target >= 10 MISSED)" in table
    assert "20.0/30.0/30.0 vs 10.0/15.0/15.0" in table
    assert tiny == ["asyncio"]
    report = markdown(data)  # what benchmarks/README.md's results tables are made of
    assert "| `zz_smoke.rtt` | us | bare | <= 2.5 | 20.0 / 10.0 = **2.00x** |" in report


@pytest.mark.skipif(not actr_loop.available(), reason="uvloop not installed")
def test_both_loops_are_measured_and_labelled(tiny: list[str], tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert runner.main(["--only", "zz_smoke.tiny", "--loop", "both", "--json", str(out)]) == 0
    loops = [r["loop"] for r in json.loads(out.read_text())["records"]]
    assert loops == ["asyncio", "asyncio", "uvloop", "uvloop"]
    assert tiny == ["asyncio", "uvloop"]


def test_a_failing_benchmark_is_reported_and_the_rest_still_run(
    tiny: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    code = runner.main(["--only", "zz_smoke", "--loop", "asyncio", "--json", str(out)])
    assert code == 1
    data = json.loads(out.read_text())
    assert data["machine"]["failed"] == ["zz_smoke.broken (asyncio)"]
    assert [r["name"] for r in data["records"]] == ["zz_smoke.rtt", "zz_smoke.rate"]
    captured = capsys.readouterr()
    assert "FAILED: zz_smoke.broken" in captured.out
    assert "broken on purpose" in captured.err


def test_unknown_name_and_list() -> None:
    assert runner.main(["--only", "no-such-benchmark"]) == 2
    assert runner.main(["--list"]) == 0


@pytest.mark.parametrize(
    ("target", "ratio", "met"),
    [("<= 1.3", 1.2, True), ("<= 1.3", 1.4, False), (">= 10", 12.0, True),
     (">= 2x", 1.5, False), ("<= 1 ms p50", 0.5, None), ("", 1.0, None)],
)
def test_targets_are_read_as_ratio_bounds(target: str, ratio: float, met: bool | None) -> None:
    record = Record("x", "us", 1.0, "b", 1.0, ratio, target=target)
    assert record.meets_target() is met


def test_percentiles_by_nearest_rank() -> None:
    assert percentiles(list(range(1, 101))) == {"p50": 50, "p95": 95, "p99": 99}


def test_child_processes_speak_json_lines_on_the_chosen_loop() -> None:
    async def scenario() -> dict[str, object]:
        async with spawn("tests.benchmarks._echo_child") as child:
            assert child.ready["pid"] == child.pid
            reply = await child.request(op="echo", value=[1, "two"])
            with pytest.raises(RuntimeError, match="unknown op"):
                await child.request(op="nope")
            return reply

    actr_loop.install("asyncio")
    reply = asyncio.run(scenario())
    assert reply["echo"] == [1, "two"] and reply["loop"] == "asyncio"
