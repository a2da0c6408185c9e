"""Markdown tables from ``python -m benchmarks --json`` files, for benchmarks/README.md.

``python -m benchmarks.report run.json [more.json ...]``: one table per file,
one row per figure, the asyncio and uvloop results side by side (value,
baseline, ratio), so the README's results are pasted from a real run rather
than typed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["markdown"]


def _num(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _cell(record: dict[str, Any] | None) -> str:
    if record is None:
        return "—"
    ratio = f"**{record['ratio']:.2f}x**"
    return f"{_num(record['value'])} / {_num(record['baseline_value'])} = {ratio}"


def markdown(data: dict[str, Any]) -> str:
    """The run's figures as a markdown table (loops as columns)."""
    machine = data["machine"]
    loops = machine.get("loops") or sorted({r["loop"] for r in data["records"]})
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    meta: dict[str, dict[str, Any]] = {}
    for record in data["records"]:
        rows.setdefault(record["name"], {})[record["loop"]] = record
        meta.setdefault(record["name"], record)
    mode = "quick" if machine.get("quick") else "full"
    lines = [
        f"{mode} run, {machine.get('elapsed_s', '?')} s, python {machine['python']}, "
        f"{machine['cpus']} CPUs ({machine.get('cpu_model', '?')}), "
        f"aiortc {machine['versions'].get('aiortc', '?')}, "
        f"uvloop {machine['versions'].get('uvloop', '-')}; {machine.get('pinning', '')}",
        "",
        "| figure | unit | baseline | target | "
        + " | ".join(f"{loop}: ours / base = ratio" for loop in loops) + " |",
        "|---|---|---|---|" + "---|" * len(loops),
    ]
    for name, by_loop in rows.items():
        first = meta[name]
        lines.append(
            f"| `{name}` | {first['unit']} | {first['baseline_name']} | {first['target'] or ''} | "
            + " | ".join(_cell(by_loop.get(loop)) for loop in loops) + " |"
        )
    if machine.get("failed"):
        lines += ["", f"Failed: {', '.join(machine['failed'])}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    for path in args.files:
        print(markdown(json.loads(path.read_text())))
        print()


if __name__ == "__main__":
    main()
