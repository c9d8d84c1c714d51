"""Embedded mode: decode → shot detection → chunks of one shot → stages → encode + mux, in one process.

Three threads overlap the work: a reader (ffmpeg decode, shot detection, chunks as tensors), the caller's thread
(inference only: it is the bottleneck) and a writer (back to 8-bit frames, ffmpeg encode). Queues are bounded, so
memory stays flat however long the film is.
"""

from __future__ import annotations

import os
import queue
import shutil
import stat
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from deeperfour.errors import InputError, OutputError
from deeperfour.models import registry
from deeperfour.models.weights import made_with
from deeperfour.pipeline import options, signals, table
from deeperfour.pipeline.chunks import chunks
from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
from deeperfour.pipeline.runner import run_chunk
from deeperfour.pipeline.stages import build_stages
from deeperfour.video import colour, timing, verify, workdir
from deeperfour.video.io import Encoder, check_output, read_frames
from deeperfour.video.probe import probe

_END = object()


def check_paths(input: str, output: str) -> None:
    """Fail fast, before any model is loaded, on output paths that cannot work."""
    out = Path(output)
    if Path(input).resolve() == out.resolve() or (out.exists() and os.path.samefile(input, out)):
        raise OutputError(f"{output}: output path is the input file; choose another name")
    check_output(output)


def modernize(
    input,
    output,
    *,
    stages=table.DEFAULT,
    preset="lite",
    weights=None,
    style=None,
    render_factor=None,
    device="cpu",
    batch_size=8,
    chunk_frames=16,
    codec=None,
    crf=18,
    encoder_preset="medium",
    pix_fmt=None,
    quiet=False,
    allow_random=False,
    recolor=False,
) -> dict:
    """Modernize `input` into `output`; returns a summary (frames, seconds, fps per stage, shots, notes).

    A colour film keeps its colours (colorize is skipped, with a note) unless `recolor`. Ctrl-C, SIGTERM and SIGHUP
    raise KeyboardInterrupt (errors.Interrupted) after everything written so far is removed."""
    input, output = str(input), str(output)
    stages = table.parse(stages)
    options.check_numbers(render_factor=render_factor, batch_size=batch_size, chunk_frames=chunk_frames, device=device)
    notes: list[str] = []
    for note in options.stage_notes(stages):
        _say(notes, note)
    with signals.catching() as caught, ExitStack() as cleanup:
        if not Path(input).exists():
            probe(input)  # its one line for a missing input comes before any about the output
        check_paths(input, output)
        removed = workdir.clean_stale(Path(output).parent)
        if removed:
            _say(notes, f"removed {len(removed)} temporary folder(s) left by an interrupted run: {', '.join(removed)}")
        source = _seekable(input, output, cleanup, notes)
        try:
            info = probe(source)
        except InputError as e:
            raise InputError(str(e).replace(source, input)) from None
        stages = _keep_colour(input, info, stages, recolor, notes)
        presets = [registry.get_preset(name, _pick(preset, name, "lite")) for name in stages]
        chunk = min(chunk_frames, info.frame_count)
        options.check_memory(info.width, info.height, presets, render_factor, chunk, on_cpu=device.startswith("cpu"))
        pipeline = build_stages(
            stages,
            preset=preset,
            weights=weights,
            style=style,
            device=device,
            batch_size=batch_size,
            render_factor=render_factor,
            allow_random=allow_random,
        )
        encoder = Encoder(
            output,
            info,
            audio_from=source,
            codec=codec,
            crf=crf,
            preset=encoder_preset,
            pix_fmt=pix_fmt,
            comment=made_with(pipeline),  # DeeperFour's version, each stage's preset and weights hash
            times=timing.frame_times(source, info.fps),  # None for a constant frame rate
        )
        run = _Run(info, pipeline, encoder, chunk_frames, quiet, caught)
        try:
            run.go()
            caught.check()
            encoder.close()
        except BaseException:
            run.stop.set()
            encoder.abort()
            raise
    summary = run.summary()
    summary["notes"] = notes + encoder.notes
    return summary


def _say(notes: list[str], note: str) -> None:
    notes.append(note)
    print(f"deeperfour: note: {note}", file=sys.stderr)


def _pick(value, name: str, default):
    return value.get(name, default) if isinstance(value, dict) else value


def _seekable(input: str, output: str, cleanup: ExitStack, notes: list[str]) -> str:
    """The input as a file that can be read several times (probe, colour samples, decode, mux): a pipe or another
    stream (a FIFO, /dev/stdin) is first copied into a temporary folder beside the output."""
    try:
        mode = os.stat(input).st_mode
    except OSError as e:
        raise InputError(f"{input}: cannot be read ({e.strerror})") from None
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)):
        return input
    folder = workdir.make(Path(output).parent)
    cleanup.callback(workdir.remove, folder)
    copy = os.path.join(folder, "input")
    _say(notes, f"{input} is a stream, not a file: reading it into {folder} first")
    try:
        with open(input, "rb") as src, open(copy, "wb") as dst:  # waits for a writer; Ctrl-C ends the wait
            shutil.copyfileobj(src, dst, 1 << 20)
    except OSError as e:
        error = verify.explain(e, Path(output))
        raise error if error is not e else InputError(f"{input}: cannot be read ({e.strerror})") from None
    return copy


def _keep_colour(name: str, info, stages: list[str], recolor: bool, notes: list[str]) -> list[str]:
    """A film already in colour keeps its colours: colorize is dropped unless `recolor` (a faded colour film)."""
    if "colorize" not in stages or recolor:
        return stages
    share = colour.colour_share(info)
    if share <= colour.COLOUR_SHARE:
        return stages
    what = f"{name} is already in colour ({share:.0%} of sampled pixels carry colour)"
    kept = [s for s in stages if s != "colorize"]
    kept = [s for k, s in enumerate(kept) if k == 0 or s != kept[k - 1]]  # stabilize,colorize,stabilize: once
    if not kept:
        raise InputError(f"{what}; colorize would replace its colours: pass --recolor to colorize it anyway")
    _say(notes, f"{what}: its colours are kept and colorize is skipped; pass --recolor to colorize it anyway")
    return kept


class _Run:
    """One film through the pipeline; owns the reader and writer threads."""

    def __init__(self, info, stages, encoder, chunk_frames, quiet, caught: signals.Catcher):
        self.info, self.stages, self.encoder, self.chunk_frames = info, stages, encoder, chunk_frames
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=2)  # chunks
        self.encoded: queue.Queue = queue.Queue(maxsize=4)
        self.timings: dict[str, float] = {}
        self.shots = 0
        self.errors: list[BaseException] = []
        self.quiet = quiet
        self.caught = caught
        self.started = time.perf_counter()

    def go(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.info.frame_count,
            unit="frame",
            disable=self.quiet,
            file=sys.stderr,
            dynamic_ncols=True,
            desc="modernize",
        )
        reader = threading.Thread(target=self._read, daemon=True)
        writer = threading.Thread(target=self._write, daemon=True)
        reader.start()
        writer.start()
        try:
            self._infer()
        finally:
            self._put(self.encoded, _END)
            writer.join()
            self.stop.set()
            reader.join(timeout=5)
            self.bar.close()
        if self.errors:
            raise self.errors[0]
        self.elapsed = time.perf_counter() - self.started

    def _put(self, q: queue.Queue, item) -> bool:
        while not self.stop.is_set() or item is _END:
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                if item is _END and self.stop.is_set():
                    return False
        return False

    def _read(self) -> None:
        frames = read_frames(self.info.path, self.info)
        try:
            for chunk in chunks(frames, float(self.info.fps), self.chunk_frames):
                self.shots = chunk.shot + 1
                if not self._put(self.decoded, (frames_to_tensor(chunk.frames), chunk.index == 0)):
                    return
            self._put(self.decoded, _END)
        except BaseException as e:  # handed to the inference thread, which raises it
            self._put(self.decoded, e)
        finally:
            frames.close()

    def _infer(self) -> None:
        states: list = [None] * len(self.stages)
        while (item := self.decoded.get()) is not _END:
            self.caught.check()
            if isinstance(item, BaseException):
                raise item
            source, starts_shot = item
            if starts_shot:
                states = [None] * len(self.stages)
            out, states = run_chunk(self.stages, source, states, timings=self.timings)
            if self.errors or not self._put(self.encoded, out):
                return

    def _write(self) -> None:
        try:
            while (out := self.encoded.get()) is not _END:
                frames = tensor_to_frames(out)
                for frame in frames:
                    self.encoder.write(frame)
                self.bar.update(len(frames))
        except BaseException as e:
            self.errors.append(e)
            self.stop.set()
            while self.encoded.get() is not _END:  # unblock the inference thread
                pass

    def summary(self) -> dict:
        n = self.encoder.frames
        return {
            "frames": n,
            "shots": self.shots,
            "seconds": round(self.elapsed, 3),
            "fps": round(n / self.elapsed, 2) if self.elapsed else 0.0,
            "stages": {
                name: {"seconds": round(t, 3), "fps": round(n / t, 2) if t else None}
                for name, t in self.timings.items()
            },
            "presets": [s.preset.name for s in self.stages],
        }
