"""The checked-in generated modules must equal a fresh `make proto`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "tools" / "gen_proto.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_checked_in_modules_match_fresh_generation(tmp_path: Path) -> None:
    gen = _load_generator()
    fresh_pkg = tmp_path / "pkg"
    written = gen.generate(fresh_pkg, examples_root=tmp_path / "ex")
    assert written, "generator produced nothing"
    checked_in = ROOT / "actr_py" / "proto"
    fresh_names = sorted(p.name for p in fresh_pkg.iterdir())
    existing = sorted(p.name for p in checked_in.glob("*_pb2.py*"))
    assert fresh_names == existing, "a .proto was added or removed without `make proto`"
    stale = []
    for fresh in written:
        if fresh.is_relative_to(fresh_pkg):
            ours = checked_in / fresh.name
        else:
            ours = ROOT / fresh.relative_to(tmp_path / "ex")
        if not ours.exists() or fresh.read_bytes() != ours.read_bytes():
            stale.append(str(ours.relative_to(ROOT)))
    assert not stale, f"run `make proto`: these differ from a fresh generation: {stale}"
