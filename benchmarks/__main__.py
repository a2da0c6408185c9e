"""``python -m benchmarks [--quick] [--only NAME ...] [--loop KIND] [--json FILE] [--list]``.

Every figure is printed next to its raw baseline from the same run. With
``--loop both`` (the default when uvloop is installed) the whole selection
runs once on each kind of event loop, child processes included, and every
record says which loop it belongs to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import traceback
from collections.abc import Sequence

from actr_py import loop as actr_loop

from ._harness import BenchContext, Record, cpu_plan, discover, machine_info, registry


def _fmt(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _ratio(r: Record) -> str:
    text = f"{r.ratio:.2f}x"
    if r.target:
        met = r.meets_target()
        mark = "" if met is None else (" ok" if met else " MISSED")
        text += f" (target {r.target}{mark})"
    return text


def table(records: Sequence[Record]) -> str:
    """The human-readable table: one row per record, latencies with percentiles."""
    head = ("figure", "loop", "unit", "actr_py", "baseline", "base value", "ratio",
            "p50/p95/p99")
    rows = [head]
    for r in records:
        pct = ""
        if r.percentiles:
            pct = "/".join(_fmt(r.percentiles[k]) for k in ("p50", "p95", "p99"))
            if r.baseline_percentiles:
                pct += " vs " + "/".join(
                    _fmt(r.baseline_percentiles[k]) for k in ("p50", "p95", "p99")
                )
        rows.append((r.name, r.loop, r.unit, _fmt(r.value), r.baseline_name,
                     _fmt(r.baseline_value), _ratio(r), pct))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _loops(choice: str) -> list[str]:
    if choice == "both":
        return ["asyncio", "uvloop"]
    if choice == "auto":
        return ["asyncio", "uvloop"] if actr_loop.available() else ["asyncio"]
    return [choice]


async def _run_all(
    names: list[str], ctx: BenchContext, failures: list[str]
) -> list[Record]:
    """Run ``names`` on the running loop; a failing benchmark is reported, not fatal."""
    records: list[Record] = []
    async with ctx.run():
        kind = actr_loop.loop_kind()
        for name in names:
            t0 = time.monotonic()
            print(f"# running {name} on {kind} ...", file=sys.stderr, flush=True)
            task = asyncio.ensure_future(registry[name](ctx))
            await asyncio.wait({task}, timeout=ctx.n(900, 120))
            if not task.done():
                # A stuck benchmark fails, showing where every task is waiting.
                print(f"# {name} timed out; tasks:", file=sys.stderr)
                for other in asyncio.all_tasks():
                    other.print_stack(limit=6, file=sys.stderr)
                task.cancel()
                await asyncio.wait({task})
                failures.append(f"{name} ({kind}) timed out")
                continue
            try:
                got = task.result()
            except Exception:
                traceback.print_exc()
                failures.append(f"{name} ({kind})")
                continue
            for record in got:
                record.loop = kind
            records.extend(got)
            print(f"# {name}: {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (< 2 min)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only benchmarks whose name starts with NAME (repeatable)")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop", "both"), default="auto",
                        help="event loop(s) to measure on; auto: both when uvloop is installed")
    parser.add_argument("--json", metavar="FILE", help="write records as JSON")
    parser.add_argument("--list", action="store_true", help="list benchmark names and exit")
    args = parser.parse_args(argv)

    discover()
    names = sorted(registry)
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        names = [n for n in names if any(n.startswith(o) for o in args.only)]
        if not names:
            print(f"no benchmark matches {args.only}; try --list", file=sys.stderr)
            return 2
    loops = _loops(args.loop)
    if "uvloop" in loops and not actr_loop.available():
        print("uvloop is not installed: pip install 'actr_py[fast]'", file=sys.stderr)
        return 2
    plan = cpu_plan()
    plan.pin_self()
    info = machine_info()
    info["loops"] = loops
    info["quick"] = args.quick
    print(f"# machine: {info['platform']} python {info['python']} cpus={info['cpus']}"
          f" ({info['cpu_model']})")
    print(f"# versions: {info['versions']}")
    print(f"# loops: {', '.join(loops)}; pinning: {info['pinning']}")
    records: list[Record] = []
    failures: list[str] = []
    started = time.monotonic()
    for kind in loops:
        # Children inherit the choice through ACTR_PY_LOOP (see benchmarks/_procs.py).
        actr_loop.install(kind)
        ctx = BenchContext(quick=args.quick, loop=kind)
        records.extend(asyncio.run(_run_all(names, ctx, failures)))
    actr_loop.install("asyncio")
    elapsed = time.monotonic() - started
    print(table(records))
    print(f"# total {elapsed:.1f}s")
    if failures:
        print(f"# FAILED: {', '.join(failures)}")
    if args.json:
        info["elapsed_s"] = round(elapsed, 1)
        info["failed"] = failures
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "records": [r.as_json() for r in records]}, fh, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
