"""`deeperfour` command line: modernize (embedded), weights, eval/compare, train, and the distributed client."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from deeperfour import __version__, logs, settings
from deeperfour.errors import DeeperFourError
from deeperfour.pipeline import table


def per_stage(value: str | None, flag: str, stages: list[str]) -> dict[str, str]:
    """Parse `stage=value,...`; a bare preset name applies to the stage it belongs to, `lite` to every stage."""
    from deeperfour.models import registry

    result: dict[str, str] = {}
    for item in filter(None, (value or "").split(",")):
        stage, sep, v = item.partition("=")
        if sep:
            if stage not in table.BY_VERB:
                raise DeeperFourError(f"{flag} {item}: unknown stage {stage!r}; use one of {', '.join(table.VERBS)}")
            result[stage] = v
        elif flag == "--preset" and item == "lite":
            result.update({s: "lite" for s in stages if s not in result})
        elif flag == "--preset" and item in registry.PRESETS:
            result[registry.PRESETS[item].stage] = item
        else:
            raise DeeperFourError(f"{flag} {item}: write it as STAGE=VALUE, e.g. {flag} colorize=…")
    return result


def _modernize(args) -> int:
    from deeperfour.pipeline.embedded import modernize

    stages = table.parse(args.stages)
    if args.cartoon and "cartoonize" not in stages:
        stages.append("cartoonize")
    summary = modernize(
        args.input,
        args.output,
        stages=stages,
        preset=per_stage(args.preset, "--preset", stages),
        weights=per_stage(args.weights, "--weights", stages),
        style=args.cartoon,
        render_factor=args.render_factor,
        device=args.device,
        batch_size=args.batch_size,
        chunk_frames=args.chunk_frames,
        codec=args.codec,
        crf=args.crf,
        encoder_preset=args.encoder_preset,
        pix_fmt=args.pix_fmt,
        quiet=args.quiet,
        allow_random=args.random_weights,
    )
    if not args.quiet:
        stage_text = ", ".join(f"{k} {v['fps']} fps" for k, v in summary["stages"].items())
        print(
            f"{args.output}: {summary['frames']} frames, {summary['shots']} shot(s) in {summary['seconds']} s "
            f"({summary['fps']} fps; {stage_text})"
        )
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


def add_modernize_command(sub) -> None:
    p = sub.add_parser("modernize", help="colorize, stabilize (and cartoonize) a film in this process")
    p.add_argument("input", help="any video ffmpeg reads")
    p.add_argument("-o", "--output", required=True, help="output file; the container follows the extension")
    p.add_argument(
        "--stages",
        default=",".join(table.DEFAULT),
        help="comma-separated, in order: colorize,stabilize[,cartoonize][,stabilize]",
    )
    p.add_argument("--cartoon", metavar="STYLE", help="cartoonize in this style (adds the cartoonize stage)")
    p.add_argument("--preset", default="lite", help="lite (default), an exact preset name, or STAGE=PRESET,...")
    p.add_argument("--weights", help="STAGE=NAME_OR_PATH,... (imported name or .safetensors path)")
    p.add_argument("--render-factor", type=int, help="colorizer working size / 16 (default: the preset's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--batch-size", type=int, default=8, help="frames per model call for per-frame stages")
    p.add_argument("--chunk-frames", type=int, default=16, help="frames per chunk (pipeline granularity)")
    p.add_argument("--codec", help="video encoder (default: libx264, libvpx-vp9 for .webm)")
    p.add_argument("--crf", type=int, default=18, help="encoder quality (lower is better)")
    p.add_argument("--encoder-preset", default="medium", help="x264 speed preset (ultrafast … veryslow)")
    p.add_argument("--pix-fmt", help="output pixel format (default yuv420p; yuv444p for odd sizes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--summary-json", metavar="FILE", help="also write the run summary as JSON")
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="run with untrained weights when none are installed (for testing the plumbing)",
    )
    p.set_defaults(func=_modernize)


def build_parser() -> argparse.ArgumentParser:
    from deeperfour.client.cli import add_client_commands
    from deeperfour.metrics.cli import add_metrics_commands
    from deeperfour.models.weights_cli import add_weights_command
    from deeperfour.train.cli import add_train_command

    parser = argparse.ArgumentParser(prog="deeperfour", description=__doc__)
    parser.add_argument("--version", action="version", version=f"deeperfour {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_modernize_command(sub)
    add_weights_command(sub)
    add_metrics_commands(sub)
    add_train_command(sub)
    add_client_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings.prefer_sleeping_threads()
    logs.setup()
    args = build_parser().parse_args(argv)
    config = settings.load()
    try:
        return int(args.func(args) or 0)
    except DeeperFourError as e:
        print(f"deeperfour: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        signal.signal(
            signal.SIGINT, signal.SIG_IGN
        )  # the run has cleaned up: a further press must not cut the exit short
        print("deeperfour: interrupted; no output was written", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: one line by default, the traceback on request
        if config.debug:
            raise
        print(
            f"deeperfour: internal error: {type(e).__name__}: {e} (set DEEPERFOUR_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
