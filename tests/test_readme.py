"""The README's service example must run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_service_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README lost its python example"
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 22
    script = tmp_path / "example.py"
    script.write_text(example)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"hello, world \(from [0-9a-f]+@1:acme\+greeter\)\n", proc.stdout)


def test_readme_quick_start_is_the_two_make_targets() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick
