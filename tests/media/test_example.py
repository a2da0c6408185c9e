"""examples/media_relay runs as users run it: one command, six processes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_media_relay_example(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "examples.media_relay.run", "--out", str(tmp_path),
         "--frames", "45"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for name in ("sub1", "sub2", "sub3-late"):
        line = next(line for line in out.splitlines() if line.startswith(f"[{name}] 45 frames"))
        assert re.search(r"45 frames, 0 wrong, first frame a keyframe: True", line), line
        png = tmp_path / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    relay = next(line for line in out.splitlines() if line.startswith("[relay] received"))
    assert "decoded 0" in relay and "subscribers joined 3 left 3" in relay
    assert out.rstrip().endswith("[run] done (ok)")
