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

_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)


def generate(out_dir: Path) -> list[Path]:
    """Generate every module into ``out_dir``; return the written paths."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(PROTO_DIR.glob("*.proto"))
    with tempfile.TemporaryDirectory() as raw:
        args = [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            *map(str, sources),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        written = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for produced in sorted(Path(raw).iterdir()):
            text = _IMPORT.sub(r"from . import \1 as \2", produced.read_text())
            target = out_dir / produced.name
            target.write_text(text)
            written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR
    for path in generate(out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
