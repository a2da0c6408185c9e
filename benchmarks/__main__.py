"""``python -m benchmarks [--quick] [--only NAME ...] [--json FILE] [--list]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time

from ._harness import BenchContext, Record, discover, machine_info, registry


def _fmt(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _table(records: list[Record]) -> str:
    head = ("figure", "unit", "actr_py", "baseline", "base value", "ratio", "p50/p95/p99")
    rows = [head]
    for r in records:
        pct = ""
        if r.percentiles:
            pct = "/".join(_fmt(r.percentiles[k]) for k in ("p50", "p95", "p99"))
            if r.baseline_percentiles:
                pct += " vs " + "/".join(
                    _fmt(r.baseline_percentiles[k]) for k in ("p50", "p95", "p99")
                )
        ratio = f"{r.ratio:.2f}x" + (f" (target {r.target})" if r.target else "")
        rows.append(
            (r.name, r.unit, _fmt(r.value), r.baseline_name, _fmt(r.baseline_value), ratio, pct)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (< 2 min)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only benchmarks whose name starts with NAME (repeatable)")
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
    ctx = BenchContext(quick=args.quick)
    info = machine_info()
    print(f"# machine: {info['platform']} python {info['python']} cpus={info['cpus']}")
    print(f"# versions: {info['versions']}")
    records: list[Record] = []
    started = time.monotonic()
    for name in names:
        t0 = time.monotonic()
        print(f"# running {name} ...", file=sys.stderr, flush=True)
        got = asyncio.run(registry[name](ctx))
        records.extend(got)
        print(f"# {name}: {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    print(_table(records))
    print(f"# total {time.monotonic() - started:.1f}s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "records": [r.as_json() for r in records]}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
