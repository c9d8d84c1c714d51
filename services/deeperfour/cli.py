"""`deeperfour` command line: modernize (embedded), weights, eval/compare, train, and the distributed client.

Building the parser imports no torch, model or gRPC module: `--help`, `--version` and argument errors answer at once;
each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from pathlib import Path

from deeperfour import __version__, logs, settings
from deeperfour.errors import DeeperFourError, InputError
from deeperfour.models import catalog
from deeperfour.pipeline import batch, options, signals, table
from deeperfour.video import excerpt

# A module missing from a plain install -> the extra that brings it (pyproject.toml [project.optional-dependencies]).
EXTRAS = {
    "grpc": "orchestrator",
    "google": "orchestrator",  # protobuf
    "kafka": "orchestrator",
    "minio": "orchestrator",
    "ts": "serve",  # torchserve
    "model_archiver": "serve",
}
LOG_LEVELS = ("debug", "info", "warning", "error")
CARTOON_STYLES = ("lite", *catalog.STYLES)
PHOTO_RENDER_FACTOR = 24  # pipeline/photo.py's, repeated here so that --help needs no torch


def per_stage(value: str | None, flag: str, stages: list[str]) -> dict[str, str]:
    """Parse `stage=value,...`; a bare preset name applies to the stage it belongs to, `lite` to every stage.
    Preset names are checked here, before any model code is imported."""
    result: dict[str, str] = {}
    for item in filter(None, (value or "").split(",")):
        stage, sep, v = item.partition("=")
        if sep:
            if stage not in table.BY_VERB:
                raise DeeperFourError(f"{flag} {item}: unknown stage {stage!r}; use one of {', '.join(table.VERBS)}")
            if flag == "--preset" and v != "lite" and v not in catalog.PRESETS[stage]:
                valid = ", ".join(("lite", *catalog.PRESETS[stage]))
                raise DeeperFourError(f"--preset {item}: unknown {stage} preset {v!r}; valid: {valid}")
            result[stage] = v
        elif flag == "--preset" and item == "lite":
            result.update({s: "lite" for s in stages if s not in result})
        elif flag == "--preset" and (stage_of := catalog.stage_of(item)):
            result[stage_of] = item
        elif flag == "--preset":
            valid = ", ".join(("lite", *(n for names in catalog.PRESETS.values() for n in names)))
            raise DeeperFourError(f"--preset {item}: unknown preset; valid: {valid} (or STAGE=PRESET)")
        else:
            raise DeeperFourError(f"{flag} {item}: write it as STAGE=VALUE, e.g. {flag} colorize=…")
    return result


def cartoon_preset(style: str | None, presets: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """`--cartoon STYLE` picks the cartoonize model: 'lite' the project's cartoonizer-lite, a CartoonGAN style the
    published cartoongan weights of that style. The style goes to the cartoonize stage only."""
    if not style:
        return None, presets
    chosen = presets.get("cartoonize")
    if style == "lite":
        if chosen not in (None, "lite", "cartoonizer-lite"):
            raise DeeperFourError(f"--cartoon lite contradicts --preset cartoonize={chosen}")
        return None, {**presets, "cartoonize": "lite"}
    if chosen not in (None, "cartoongan"):
        raise DeeperFourError(
            f"--cartoon {style} is a CartoonGAN style, but --preset cartoonize={chosen} has no styles; "
            "use --cartoon lite or --preset cartoonize=cartoongan"
        )
    return style, {**presets, "cartoonize": "cartoongan"}


def _check_input(path: str) -> None:
    """A missing input is reported before the pipeline (and torch) is imported."""
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if Path(path).is_dir():
        raise InputError(f"{path}: is a directory, not a video file")


def _stage_options(args) -> dict:
    """The options every modernize-like command shares, checked before any model code is imported."""
    stages = table.parse(args.stages)
    if args.cartoon and "cartoonize" not in stages:
        stages.append("cartoonize")
    style, presets = cartoon_preset(args.cartoon, per_stage(args.preset, "--preset", stages))
    return dict(
        stages=stages,
        preset=presets,
        weights=per_stage(args.weights, "--weights", stages),
        style=style,
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
        recolor=args.recolor,
    )


def _modernize(args) -> int:
    kwargs = _stage_options(args)
    span = dict(start=args.start, duration=args.duration, frames=args.frames)
    for flag, value in (("--start", args.start), ("--duration", args.duration)):
        if value is not None:
            excerpt.parse_time(value, flag)  # one line now, not after the models are loaded
    if args.duration is not None and args.frames is not None:
        raise InputError("--duration and --frames both say how long the excerpt is: give one of them")
    kwargs.update(span, resume=not args.no_resume)
    if batch.is_batch(args.inputs, args.output):
        if args.summary_json:
            raise InputError("--summary-json is for one film; a batch writes its table with --report FILE.json or .csv")
        shown = {
            k: v for k, v in kwargs.items() if k not in ("quiet", "device", "batch_size", "chunk_frames", "resume")
        }
        return batch.run(
            args.inputs,
            args.output,
            kwargs,
            film_format=args.format,
            photo_format=args.photo_format,
            report=args.report,
            dry_run=args.dry_run,
            options_shown=shown,
        )
    batch_only = {"--report": args.report, "--dry-run": args.dry_run, "--format": args.format}
    used = [flag for flag, value in {**batch_only, "--photo-format": args.photo_format}.items() if value]
    if used:
        raise InputError(f"{used[0]} is for a batch: give several inputs, a folder or a list, and -o OUTDIR")
    (input,) = args.inputs
    _check_input(input)
    options.check_summary_path(args.summary_json, input, args.output)  # before the film, not after it

    from deeperfour.pipeline.embedded import modernize

    summary = modernize(input, args.output, **kwargs)
    if not args.quiet:
        print(_summary_line(args.output, summary))
    if args.summary_json:
        options.write_summary(args.summary_json, summary)
    return 0


def _summary_line(output: str, summary: dict) -> str:
    stage_text = ", ".join(f"{k} {v['fps']} fps" for k, v in summary["stages"].items())
    if summary.get("kind") == "photo":
        w, h = summary["size"]
        rf = f", render factor {summary['render_factor']}" if summary.get("render_factor") else ""
        return f"{output}: photo {w}x{h} in {summary['seconds']} s ({stage_text}{rf})"
    line = (
        f"{output}: {summary['frames']} frames, {summary['shots']} shot(s) in {summary['seconds']} s "
        f"({summary['fps']} fps; {stage_text})"
    )
    if summary["cuts"]:
        cuts = ", ".join(f"{c['frame']} ({c['timecode']})" for c in summary["cuts"])
        line += "\n" + textwrap.fill(f"cuts at frame: {cuts}", width=100, subsequent_indent="  ")
    return line


def _preset_help() -> str:
    listed = "; ".join(f"{stage}: {', '.join(names)}" for stage, names in catalog.PRESETS.items())
    return f"lite, a preset name, or STAGE=PRESET,... ({listed}) (default: %(default)s)"


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The stage, model and encoder options of modernize and preview."""
    p.add_argument(
        "--stages",
        default=",".join(table.DEFAULT),
        help="comma-separated, in order: colorize,stabilize[,cartoonize][,stabilize]; photos skip stabilize "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--cartoon",
        metavar="STYLE",
        choices=CARTOON_STYLES,
        help=f"add the cartoonize stage in this style: {', '.join(CARTOON_STYLES)} (lite: the project's "
        "cartoonizer-lite; the others: the published CartoonGAN weights, `deeperfour weights download "
        "cartoongan:STYLE`)",
    )
    p.add_argument("--preset", default="lite", help=_preset_help())
    p.add_argument("--weights", help="STAGE=NAME_OR_PATH,... (an installed name or a .safetensors path)")
    p.add_argument(
        "--render-factor",
        type=int,
        help=f"colorizer working size / 16, {options.MIN_RENDER_FACTOR} to {options.MAX_RENDER_FACTOR} "
        f"(default: the preset's for films, 12 for the lite colorizer; for photos {PHOTO_RENDER_FACTOR} or the "
        "preset's if higher)",
    )
    p.add_argument(
        "--recolor",
        action="store_true",
        help="colorize a film or photo that is already in colour (a faded one); by default its colours are kept",
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: %(default)s)")
    p.add_argument(
        "--precision",
        choices=options.PRECISIONS,
        help="number format of the networks: auto (bf16 on a GPU, and for the published presets on a CPU with native "
        "bfloat16; else fp32), "
        "fp32, bf16, fp16 (GPU) or int8 (no preset has an int8 version yet); colour conversions stay fp32 "
        "(default: DEEPERFOUR_PRECISION or auto)",
    )
    p.add_argument(
        "--threads",
        help="torch threads a stage: auto (one for frames up to 1280x720, where the stages run side by side a core "
        "each; torch's own count above) or a number; the number changes the last bits of the result "
        "(default: DEEPERFOUR_THREADS or auto)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="frames handed to a stage at once; results do not depend on it (models see one frame per call) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--chunk-frames",
        type=int,
        default=options.CHUNK_FRAMES,
        help="frames per chunk, the pipeline's step (default: %(default)s)",
    )
    p.add_argument("--codec", help="video encoder (default: libx264, libvpx-vp9 for .webm)")
    p.add_argument("--crf", type=int, default=18, help="encoder quality, lower is better (default: %(default)s)")
    p.add_argument(
        "--encoder-preset", default="medium", help="x264 speed preset, ultrafast … veryslow (default: %(default)s)"
    )
    p.add_argument("--pix-fmt", help="output pixel format (default: yuv420p; yuv444p for odd sizes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="run with untrained weights when none are installed (for testing the plumbing)",
    )


def add_modernize_command(sub) -> None:
    p = sub.add_parser(
        "modernize",
        help="colorize, stabilize (and cartoonize) films and photos in this process",
        description="Colorize, stabilize (and optionally cartoonize) a film, a photo, or every film and photo of "
        "folders and lists. A film keeps the sound, subtitles, frame rate, size, colour tags and aspect ratio of its "
        "source. An interrupted film resumes where it stopped when the same command runs again.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="a film (any video ffmpeg reads) or a photo (JPEG, PNG, TIFF, WebP); for a batch, several of them, "
        "folders (searched recursively) or .txt files listing paths, one a line",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file for one input (the container or image format follows the extension); for a batch the "
        "output folder, where each folder's tree is mirrored",
    )
    add_model_options(p)
    p.add_argument("--summary-json", metavar="FILE", help="also write the run summary as JSON (one film or photo)")
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="start afresh: remove what an interrupted run of the same output kept (by default a film resumes "
        "after its last finished segment when the same command runs again)",
    )
    excerpt_group = p.add_argument_group("excerpt (films)")
    excerpt_group.add_argument(
        "--start", metavar="TIME", help="process from this time: seconds (90.5), MM:SS or HH:MM:SS.sss (default: 0)"
    )
    excerpt_group.add_argument(
        "--duration", metavar="TIME", help="process this long from --start; the sound is cut to match"
    )
    excerpt_group.add_argument("--frames", type=int, metavar="N", help="process N frames from --start")
    batch_group = p.add_argument_group("batch (several inputs, a folder or a list, -o OUTDIR)")
    batch_group.add_argument(
        "--format",
        metavar="EXT",
        help="container of the films written (default: the input's if it is one of "
        "mp4, m4v, mov, mkv, webm, avi, else mp4)",
    )
    batch_group.add_argument(
        "--photo-format", metavar="EXT", help="format of the photos written: jpg, png, tif, webp (default: the input's)"
    )
    batch_group.add_argument(
        "--report", metavar="FILE", help="write the table of files (frames, time, fps, result) as JSON or CSV"
    )
    batch_group.add_argument("--dry-run", action="store_true", help="list what would be done, and stop")
    p.set_defaults(func=_modernize)


def _preview(args) -> int:
    kwargs = _stage_options(args)
    _check_input(args.input)
    output = args.output or preview_output(args.input)
    from deeperfour.pipeline.preview import preview

    summary = preview(args.input, output, excerpts=args.excerpts, seconds=args.seconds, **kwargs)
    if not args.quiet:
        at = ", ".join(summary["excerpts"])
        print(f"{output}: before | after" + (f", {summary['frames']} frames from {at}" if at else ""))
    return 0


def preview_output(input: str) -> str:
    """<name>.preview.mp4 (a photo: <name>.preview.<its extension>) in the current folder."""
    path = Path(input)
    still = path.suffix.lower() in batch.PHOTO_SUFFIXES
    return f"{path.stem}.preview{path.suffix.lower() if still else '.mp4'}"


def add_preview_command(sub) -> None:
    p = sub.add_parser(
        "preview",
        help="a short before/after film of a few seconds from several shots, to judge settings",
        description="Write the source and the result side by side for a few short excerpts spread over the film "
        "(each processed as a little film of its own), one after the other and without sound; for a photo, the "
        "photo and its result side by side. Takes the stage and model options of modernize.",
    )
    p.add_argument("input", help="a film or a photo")
    p.add_argument("-o", "--output", help="default: <name>.preview.mp4 (a photo: its format) in the current folder")
    p.add_argument("--excerpts", type=int, default=3, help="how many excerpts (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of each excerpt (default: %(default)s)")
    add_model_options(p)
    p.set_defaults(func=_preview)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; every module imported here is torch- and gRPC-free."""
    from deeperfour.client.cli import add_client_commands
    from deeperfour.metrics.cli import add_metrics_commands
    from deeperfour.models.weights_cli import add_weights_command
    from deeperfour.train.cli import add_train_command

    parser = argparse.ArgumentParser(
        prog="deeperfour",
        description="Colorize, stabilize and cartoonize black-and-white films, in this process (modernize) or on "
        "the distributed stack (submit, status, watch, download, cancel).",
        epilog="Settings are DEEPERFOUR_* environment variables (README: Environment variables).",
    )
    parser.add_argument("--version", action="version", version=f"deeperfour {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="say more: -v for info, -vv for debug messages"
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="messages shown on stderr (default: $DEEPERFOUR_LOG_LEVEL or warning; -v/-vv raise it)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_modernize_command(sub)
    add_preview_command(sub)
    add_weights_command(sub)
    add_metrics_commands(sub)
    add_train_command(sub)
    add_client_commands(sub)
    return parser


def _log_level(args, config) -> int:
    if args.log_level:
        return getattr(logging, args.log_level.upper())
    if args.verbose:
        return logging.DEBUG if args.verbose > 1 else logging.INFO
    name = config.log_level
    if name not in LOG_LEVELS:
        raise DeeperFourError(f"DEEPERFOUR_LOG_LEVEL={name!r}: use one of {', '.join(LOG_LEVELS)}")
    return getattr(logging, name.upper())


def missing_extra(e: ModuleNotFoundError, command: str) -> str | None:
    """One line naming the extra to install, when `e` is a module that an extra brings."""
    top = (e.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    extra = EXTRAS[top]
    return f"deeperfour {command} needs the '{extra}' extra ({top} is not installed): pip install 'deeperfour[{extra}]'"


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C, SIGTERM and SIGHUP from the first moment on (parser, imports included): one line, exit 128 + N
    with signals.catching():
        try:
            return _main(argv)
        except KeyboardInterrupt as e:  # the run has cleaned up
            return signals.report(e)


def _main(argv: list[str] | None) -> int:
    settings.prefer_sleeping_threads()
    logs.setup()
    args = build_parser().parse_args(argv)
    config = settings.load(  # the command line's choices win
        PRECISION=getattr(args, "precision", None), THREADS=getattr(args, "threads", None)
    )
    try:
        logging.getLogger("deeperfour").setLevel(_log_level(args, config))
        return int(args.func(args) or 0)
    except Exception as e:
        signals.check()  # after Ctrl-C, SIGTERM or SIGHUP any failure is the interruption's
        if isinstance(e, DeeperFourError):
            print(f"deeperfour: error: {e}", file=sys.stderr)
            return e.exit_code
        message = missing_extra(e, args.command) if isinstance(e, ModuleNotFoundError) else None
        if message is None:
            return _internal_error(e, config)
        print(f"deeperfour: error: {message}", file=sys.stderr)
        return 2


def _internal_error(e: Exception, config) -> int:
    """A bug, not bad input: one line by default, the traceback on request."""
    if config.debug:
        raise e
    print(
        f"deeperfour: internal error: {type(e).__name__}: {e} (set DEEPERFOUR_DEBUG=1 for the traceback)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
