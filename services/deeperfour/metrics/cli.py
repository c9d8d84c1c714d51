"""CLI commands `deeperfour eval` and `deeperfour compare` (registered by deeperfour.cli)."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from deeperfour.errors import OutputError


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, float) and math.isinf(x):
        return "inf"  # JSON has no infinity
    return x


def write_json(path, data) -> None:
    """Writes `data` as JSON to a temp name and renames it, so no half-written file is left behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror}") from None


def run_eval(args) -> int:
    from deeperfour.metrics.evaluate import evaluate, format_table

    result = evaluate(args.output, args.input, args.reference)
    print(format_table(result))
    if args.json:
        write_json(args.json, result)
    return 0


def run_compare(args) -> int:
    from deeperfour.metrics.compare import compare

    result = compare(args.a, args.b, args.output, input=args.input, plot=args.plot)
    for key in ("A", "B"):
        r = result[key]
        extra = f"  E_warp {r['e_warp']:.6f}" if r["e_warp"] is not None else ""
        cdc = "-" if r["cdc"] is None else f"{r['cdc']:.6f}"
        print(f"{key}: {r['path']}  CDC {cdc}{extra}")
    print(f"wrote {result['video']} and {result['plot']}")
    return 0


def add_metrics_commands(subparsers) -> None:
    """Adds `eval` and `compare` to an argparse subparsers object; each sets args.func(args) -> int."""
    p = subparsers.add_parser(
        "eval",
        help="temporal stability and colour metrics of a processed video",
        description="E_warp and CDC (flicker, lower is steadier), colourfulness, and PSNR/SSIM against the colour "
        "original when the input is a desaturated colour clip.",
    )
    p.add_argument("output", help="the processed video")
    p.add_argument("--input", required=True, help="the film it was made from (flow and shot cuts are taken from it)")
    p.add_argument("--reference", help="the colour original (ground truth) of a desaturated input")
    p.add_argument("--json", help="also write every figure to this JSON file")
    p.set_defaults(func=run_eval)

    p = subparsers.add_parser(
        "compare",
        help="side-by-side video and a per-frame flicker plot of two versions",
        description="Writes A and B side by side (with A's audio) and a PNG plot of their per-frame flicker.",
    )
    p.add_argument("a", help="first video (left, its audio is kept)")
    p.add_argument("b", help="second video (right)")
    p.add_argument("-o", "--output", required=True, help="side-by-side video to write, e.g. compare.mp4")
    p.add_argument("--input", help="the film both were made from: adds the E_warp curve and uses its shot cuts")
    p.add_argument("--plot", help="where to write the plot (default: the output's name with .png)")
    p.set_defaults(func=run_compare)


def main(argv=None) -> int:
    """Standalone entry point for these commands (the real CLI is deeperfour.cli)."""
    parser = argparse.ArgumentParser(prog="deeperfour")
    add_metrics_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
