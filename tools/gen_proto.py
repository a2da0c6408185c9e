"""Regenerate ``actr_py/proto/*_pb2.py`` from ``proto/*.proto``.

protoc emits absolute imports (``import actr_pb2``); we rewrite them to
package-relative ones so the modules live inside ``actr_py.proto`` without
touching ``sys.path``. The freshness test runs this same function into a temp
directory and compares bytes, so the checked-in modules cannot drift.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "actr_py" / "proto"
#: Example services compiled next to their code: (proto file, output folder).
EXAMPLES = [(ROOT / "examples" / "echo" / "echo.proto", ROOT / "examples" / "echo")]

_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)
_ACTR_MODULES = {p.stem + "_pb2" for p in PROTO_DIR.glob("*.proto")}


def _protoc(sources: list[Path], includes: list[Path], raw: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    wkt = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        *(f"-I{i}" for i in [*includes, PROTO_DIR, wkt]),
        f"--python_out={raw}",
        f"--pyi_out={raw}",
        *map(str, sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def _rewrite(text: str, *, inside_package: bool) -> str:
    def repl(m: re.Match[str]) -> str:
        module, alias = m.group(1), m.group(2)
        if inside_package:
            return f"from . import {module} as {alias}"
        if module in _ACTR_MODULES:
            return f"from actr_py.proto import {module} as {alias}"
        return m.group(0)

    return _IMPORT.sub(repl, text)


def generate(out_dir: Path, examples_root: Path | None = None) -> list[Path]:
    """Generate the package modules into ``out_dir`` and the examples' modules.

    ``examples_root`` redirects the examples' output (tests compare a fresh
    generation in a temp dir); by default they go next to their .proto.
    """
    written = []
    with tempfile.TemporaryDirectory() as raw:
        _protoc(sorted(PROTO_DIR.glob("*.proto")), [], Path(raw))
        out_dir.mkdir(parents=True, exist_ok=True)
        for produced in sorted(Path(raw).iterdir()):
            target = out_dir / produced.name
            target.write_text(_rewrite(produced.read_text(), inside_package=True))
            written.append(target)
    for source, dest in EXAMPLES:
        if examples_root is not None:
            dest = examples_root / dest.relative_to(ROOT)
        with tempfile.TemporaryDirectory() as raw:
            _protoc([source], [source.parent], Path(raw))
            dest.mkdir(parents=True, exist_ok=True)
            for produced in sorted(Path(raw).iterdir()):
                target = dest / produced.name
                target.write_text(_rewrite(produced.read_text(), inside_package=False))
                written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR
    for path in generate(out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
