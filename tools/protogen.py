"""Generate the checked-in protobuf/gRPC stubs from protos/ (`make protos`), or check them (`make protos-check`).

    python -m tools.protogen [--check] [--protos protos] [--out services]

Imports are written from the protos/ root, so `protos/deeperfour/v1/x.proto` becomes `deeperfour.v1.x_pb2`
and `protos/deeperfour/torchserve/inference.proto` becomes `deeperfour.torchserve.inference_pb2`.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

PROTOS = Path("protos")  # from the repository root
OUT = Path("services")


def generate(out: Path, protos: Path = PROTOS) -> list[Path]:
    """Run protoc on every .proto under `protos` into `out`; return the generated files (relative paths)."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    files = [str(p.relative_to(protos)) for p in sorted(protos.rglob("*.proto"))]
    args = [
        "protoc",
        f"-I{protos}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out) for p in out.rglob("*_pb2*.py*"))


def stale_files(protos: Path = PROTOS, out: Path = OUT) -> list[str]:
    """Generated files that differ from (or are missing in) the checked-in ones, plus orphans."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), protos)
        problems = [
            str(rel)
            for rel in fresh
            if not (out / rel).exists() or not filecmp.cmp(Path(tmp) / rel, out / rel, shallow=False)
        ]
        dirs = {(out / rel).parent for rel in fresh}
        checked_in = {p.relative_to(out) for d in dirs for p in d.glob("*_pb2*.py*")}
        problems += [f"{rel} (no .proto)" for rel in sorted(checked_in - set(fresh))]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.protogen")
    parser.add_argument("--check", action="store_true", help="fail when the checked-in stubs are stale")
    parser.add_argument("--protos", type=Path, default=PROTOS, help="the .proto sources")
    parser.add_argument("--out", type=Path, default=OUT, help="where the package's stubs are checked in")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files(args.protos, args.out)
        for p in problems:
            print(f"stale: {args.out / p}", file=sys.stderr)
        if problems:
            print("protobuf stubs are stale: run `make protos`", file=sys.stderr)
        return 1 if problems else 0
    for rel in generate(args.out, args.protos):
        print(args.out / rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
