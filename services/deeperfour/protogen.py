"""Generate the checked-in protobuf/gRPC stubs from protos/ (`make protos`), or check them (`make protos-check`).

    python -m deeperfour.protogen [--check]

Imports are written from the protos/ root, so `protos/deeperfour/v1/x.proto` becomes `deeperfour.v1.x_pb2`
and `protos/deeperfour/torchserve/inference.proto` becomes `deeperfour.torchserve.inference_pb2`.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from deeperfour.config import REPO_ROOT

PROTOS = REPO_ROOT / "protos"
OUT = REPO_ROOT / "services"


def proto_files() -> list[Path]:
    return sorted(PROTOS.rglob("*.proto"))


def generate(out: Path) -> list[Path]:
    """Run protoc on every .proto under protos/ into `out`; return the generated files (relative paths)."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    files = [str(p.relative_to(PROTOS)) for p in proto_files()]
    args = ["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out) for p in out.rglob("*_pb2*.py*"))


def stale_files() -> list[str]:
    """Generated files that differ from (or are missing in) the checked-in ones, plus orphans."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        problems = [str(rel) for rel in fresh
                    if not (OUT / rel).exists() or not filecmp.cmp(Path(tmp) / rel, OUT / rel, shallow=False)]
        dirs = {(OUT / rel).parent for rel in fresh}
        checked_in = {p.relative_to(OUT) for d in dirs for p in d.glob("*_pb2*.py*")}
        problems += [f"{rel} (no .proto)" for rel in sorted(checked_in - set(fresh))]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deeperfour.protogen")
    parser.add_argument("--check", action="store_true", help="fail when the checked-in stubs are stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files()
        for p in problems:
            print(f"stale: services/{p}", file=sys.stderr)
        if problems:
            print("protobuf stubs are stale: run `make protos`", file=sys.stderr)
        return 1 if problems else 0
    for rel in generate(OUT):
        print(f"services/{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
