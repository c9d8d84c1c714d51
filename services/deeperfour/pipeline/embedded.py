"""Embedded mode: decode → shot detection → chunks of one shot → stages → encode + mux, in one process.

Three threads overlap the work: a reader (ffmpeg decode, shot detection, chunks as tensors), the caller's thread
(inference only: it is the bottleneck) and a writer (back to 8-bit frames, ffmpeg encode). Queues are bounded, so
memory stays flat however long the film is.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from deeperfour.errors import OutputError
from deeperfour.pipeline import table
from deeperfour.pipeline.chunks import chunks
from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
from deeperfour.pipeline.runner import run_chunk
from deeperfour.pipeline.stages import build_stages
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
) -> dict:
    """Modernize `input` into `output`; returns a summary (frames, seconds, fps per stage, shots, notes)."""
    input, output = str(input), str(output)
    stages = table.parse(stages)
    info = probe(input)
    check_paths(input, output)
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
    encoder = Encoder(output, info, audio_from=input, codec=codec, crf=crf, preset=encoder_preset, pix_fmt=pix_fmt)
    run = _Run(info, pipeline, encoder, max(1, chunk_frames), quiet)
    with _ctrl_c(run):
        try:
            run.go()
            run.check_interrupt()
            encoder.close()
        except BaseException:
            run.stop.set()
            encoder.abort()
            raise
    return run.summary()


@contextmanager
def _ctrl_c(run):
    """Ctrl-C raises KeyboardInterrupt once and is remembered: a press that Python delivers inside a finaliser is
    printed and dropped there, so the inference loop re-raises it at the next chunk; later presses are ignored, so
    an impatient second press cannot cut the clean-up short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame):
        if run.interrupted:
            return
        run.interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


class _Run:
    """One film through the pipeline; owns the reader and writer threads."""

    def __init__(self, info, stages, encoder, chunk_frames, quiet):
        self.info, self.stages, self.encoder, self.chunk_frames = info, stages, encoder, chunk_frames
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=2)  # chunks
        self.encoded: queue.Queue = queue.Queue(maxsize=4)
        self.timings: dict[str, float] = {}
        self.shots = 0
        self.errors: list[BaseException] = []
        self.quiet = quiet
        self.interrupted = False
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

    def check_interrupt(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt

    def _infer(self) -> None:
        states: list = [None] * len(self.stages)
        while (item := self.decoded.get()) is not _END:
            self.check_interrupt()
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
            "notes": self.encoder.notes,
        }
