"""Embedded mode: decode → shot detection → chunks of one shot → stages → encode + mux, in one process.

The work overlaps in threads joined by small queues: a reader (ffmpeg decode, shot detection, chunks), the stages
and a writer (ffmpeg encode). When a stage computes on one torch thread (frames up to 1280x720 by default,
stages.threads_for), each stage has a thread of its own (the caller's runs the first) and they work side by side;
on a few cores this beats giving each stage every core in turn, since a network call on small frames is many short
operations and torch's threads waiting for each other at every one cost more than the second core gives
(docs/performance.md). Otherwise the caller's thread runs the stages one after the other, each on every core.
Frames wait in the queues as uint8 and become float32 only inside a stage; queues hold few chunks and a chunk holds
few bytes (chunks.CHUNK_BYTES), so memory stays flat however long the film is and grows little with the frame size.
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
from fractions import Fraction
from pathlib import Path

from deeperfour.errors import InputError, OutputError
from deeperfour.models import registry
from deeperfour.models.weights import made_with
from deeperfour.pipeline import options, signals, table
from deeperfour.pipeline import resume as resume_mod
from deeperfour.pipeline.chunks import chunks, frames_per_chunk
from deeperfour.pipeline.frames import from_planes, planes, tensor_to_frames, to_planes
from deeperfour.pipeline.runner import run_stage
from deeperfour.pipeline.stages import build_stages, threads_for
from deeperfour.video import binary, colour, excerpt, segments, timing, verify, workdir
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
    chunk_frames=options.CHUNK_FRAMES,
    codec=None,
    crf=18,
    encoder_preset="medium",
    pix_fmt=None,
    quiet=False,
    allow_random=False,
    recolor=False,
    resume=True,
    start=None,
    duration=None,
    frames=None,
    progress_position=0,
    models=None,
) -> dict:
    """Modernize `input` into `output`; returns a summary (frames, seconds, fps per stage, shots, cuts, notes). A
    still image (pipeline/photo.py) is colorized as a photo.

    A colour film keeps its colours (colorize is skipped, with a note) unless `recolor`. `resume`: keep a work folder
    beside the output so that a run killed or interrupted continues where it stopped (pipeline/resume.py); False
    starts afresh. `start` with `duration` (seconds, or a TIME text as the command line takes) or `frames`: process
    an excerpt (video/excerpt.py). `models`: a dict that keeps loaded models for the next call (a batch).
    Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt (errors.Interrupted) after the partial output is removed;
    its `resume_hint` says what was kept for the next run."""
    from deeperfour.video import images

    input, output = str(input), str(output)
    if images.is_still(input):
        from deeperfour.pipeline.photo import modernize_photo

        return modernize_photo(
            input,
            output,
            stages=stages,
            preset=preset,
            weights=weights,
            style=style,
            render_factor=render_factor,
            device=device,
            allow_random=allow_random,
            recolor=recolor,
            batch_size=batch_size,
            models=models,
        )
    stages = table.parse(stages)
    options.check_numbers(render_factor=render_factor, batch_size=batch_size, chunk_frames=chunk_frames, device=device)
    span = [_time(start, "--start"), _time(duration, "--duration"), frames]
    notes: list[str] = []
    for note in options.stage_notes(stages):
        say(notes, note)
    with signals.catching() as caught, ExitStack() as cleanup:
        if not Path(input).exists():
            probe(input)  # its one line for a missing input comes before any about the output
        check_paths(input, output)
        removed = workdir.clean_stale(Path(output).parent)
        if removed:
            say(notes, f"removed {len(removed)} temporary folder(s) left by an interrupted run: {', '.join(removed)}")
        source = _seekable(input, output, cleanup, notes)
        try:
            info = probe(source)
            cut = excerpt.select(info, *span)
        except InputError as e:
            raise InputError(str(e).replace(source, input)) from None
        stages = keep_colour(input, lambda: colour.colour_share(info), stages, recolor, notes)
        presets = [registry.get_preset(name, _pick(preset, name, "lite")) for name in stages]
        total = cut.count if cut else info.frame_count
        chunk = min(frames_per_chunk(info.width, info.height, chunk_frames), total)
        options.check_memory(info.width, info.height, presets, render_factor, chunk, on_cpu=device.startswith("cpu"))
        pipeline = load_stages(
            stages,
            models,
            preset=preset,
            weights=weights,
            style=style,
            device=device,
            batch_size=batch_size,
            render_factor=render_factor,
            allow_random=allow_random,
        )
        encoding = dict(codec=codec, crf=crf, encoder_preset=encoder_preset, pix_fmt=pix_fmt)
        times = timing.frame_times(source, info.fps, info.stream)  # None for a constant frame rate
        work = None
        if not resume and resume_mod.discard(output):
            say(notes, f"--no-resume: removed the work folder an earlier run left for {output}")
        if resume and source == input:  # a stream read into a temporary file cannot be read again by the next run
            work = resume_mod.WorkFolder(output, _run_key(input, output, info, pipeline, cut, encoding, device, style))
            reused = work.open(Path(output).suffix.lower())
            if reused:
                say(notes, reused)
            if work.segments:
                done = min(work.segments * segments.SEGMENT_FRAMES, total)
                say(notes, f"resuming {output} at frame {done} of {total} (finished part in {work.path.name})")
        try:
            encoder = Encoder(
                output,
                info,
                audio_from=source,
                codec=codec,
                crf=crf,
                preset=encoder_preset,
                pix_fmt=pix_fmt,
                comment=made_with(pipeline),  # DeeperFour's version, each stage's preset and weights hash
                times=timing.part(times, cut.first, cut.count) if cut else times,
                folder=str(work.path) if work else None,
                resume_at=work.segments if work else 0,
                excerpt=cut,
            )
            resumed = work.states(len(pipeline), device) if work and work.segments else None
            run = _Run(info, pipeline, encoder, chunk_frames, quiet, caught, cut, work, resumed, progress_position)
            try:
                run.go()
                caught.check()
                encoder.close()
            except BaseException:
                encoder.abort()
                raise
        except BaseException as e:
            _leave(work, e, total)
            raise
        if work:
            work.remove()
    summary = run.summary(times=timing.part(times, cut.first, cut.count) if cut and times else times)
    summary["notes"] = notes + encoder.notes
    if cut:
        summary["excerpt"] = {"first_frame": cut.first, "frames": cut.count, "start": excerpt.timecode(cut.start)}
    return summary


def _leave(work: resume_mod.WorkFolder | None, e: BaseException, total: int) -> None:
    """After a failed run: an interrupted one keeps what it finished for the next run and says how to resume; any
    other failure removes its work folder."""
    if work is None:
        return
    if isinstance(e, KeyboardInterrupt) and work.segments:
        work.keep()
        e.resume_hint = work.hint(total)  # type: ignore[attr-defined]
    else:
        work.remove()


def load_stages(names: list[str], models: dict | None, **options) -> list:
    """build_stages, reusing the Stage objects of an earlier call with the same options when `models` is given."""
    if models is None:
        return build_stages(names, **options)
    key = repr((names, sorted(options.items(), key=lambda kv: kv[0])))
    if key not in models:
        models[key] = build_stages(names, **options)
    return models[key]


def _run_key(input: str, output: str, info, pipeline, cut, encoding: dict, device: str, style) -> dict:
    """What decides the frames and their encoding: a work folder is resumed only by a run of the same key."""
    return {
        "input": resume_mod.input_identity(input),
        "output": Path(output).suffix.lower(),
        "made_with": made_with(pipeline),  # version, stages, presets, weights
        "options": {**{s.name: s.options for s in pipeline}, "style": style, "device": device.split(":")[0]},
        "encoding": encoding,
        "excerpt": [cut.first, cut.count] if cut else None,
        "segment_frames": segments.SEGMENT_FRAMES,
        "ffmpeg": binary.ffmpeg().version_text,
        "threads": threads_for(info.height, info.width),  # the float sums of a convolution depend on it
    }


def _time(value, flag: str):
    if value is None or isinstance(value, Fraction):
        return value
    if isinstance(value, (int, float)):
        return Fraction(value).limit_denominator(1_000_000)
    return excerpt.parse_time(str(value), flag)


def say(notes: list[str], note: str) -> None:
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
    say(notes, f"{input} is a stream, not a file: reading it into {folder} first")
    try:
        with open(input, "rb") as src, open(copy, "wb") as dst:  # waits for a writer; Ctrl-C ends the wait
            shutil.copyfileobj(src, dst, 1 << 20)
    except OSError as e:
        error = verify.explain(e, Path(output))
        raise error if error is not e else InputError(f"{input}: cannot be read ({e.strerror})") from None
    return copy


def keep_colour(name: str, measure, stages: list[str], recolor: bool, notes: list[str]) -> list[str]:
    """A film or photo already in colour keeps its colours: colorize is dropped unless `recolor` (a faded colour
    film). `measure()` gives the share of its pixels that carry colour (video/colour.py)."""
    if "colorize" not in stages or recolor:
        return stages
    share = measure()
    if share <= colour.COLOUR_SHARE:
        return stages
    what = f"{name} is already in colour ({share:.0%} of sampled pixels carry colour)"
    kept = [s for s in stages if s != "colorize"]
    kept = [s for k, s in enumerate(kept) if k == 0 or s != kept[k - 1]]  # stabilize,colorize,stabilize: once
    if not kept:
        raise colour.AlreadyInColour(
            f"{what}; colorize would replace its colours: pass --recolor to colorize it anyway"
        )
    say(notes, f"{what}: its colours are kept and colorize is skipped; pass --recolor to colorize it anyway")
    return kept


class _Run:
    """One film through the pipeline; owns the reader and writer threads. `cut`: the excerpt to process (None: the
    film); `work` and `states`: a resumable run's work folder and, when it resumes, the shot states to start from."""

    def __init__(self, info, stages, encoder, chunk_frames, quiet, caught, cut, work, states, position=0):
        self.info, self.stages, self.encoder, self.chunk_frames = info, stages, encoder, chunk_frames
        self.cut, self.work = cut, work
        self.start_frame = encoder.frames  # frames an earlier run finished
        self.states = states or [None] * len(stages)
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=2)  # uint8 chunks
        self.encoded: queue.Queue = queue.Queue(maxsize=4)
        # Stages run side by side, each in a thread, when each has one torch thread; else one after the other.
        n = len(stages)
        self.groups = [[k] for k in range(n)] if threads_for(info.height, info.width) == 1 else [list(range(n))]
        handoffs = [queue.Queue(maxsize=1) for _ in self.groups[1:]]  # chunks from group g to group g + 1
        self.inboxes: list[queue.Queue] = [self.decoded, *handoffs]
        self.outboxes: list[queue.Queue] = [*handoffs, self.encoded]
        self.timings: dict[str, float] = {}
        self.shots = 0
        self.cuts: list[int] = []  # first frame of every shot but the first
        self.errors: list[BaseException] = []
        self.quiet, self.position = quiet, position
        self.caught = caught
        self.started = time.perf_counter()

    def go(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.cut.count if self.cut else self.info.frame_count,
            initial=self.start_frame,
            unit="frame",
            disable=self.quiet,
            file=sys.stderr,
            dynamic_ncols=True,
            desc="modernize",
            position=self.position,
            leave=self.position == 0,
        )
        helpers = [threading.Thread(target=self._stage, args=(g,), daemon=True) for g in range(1, len(self.groups))]
        reader = threading.Thread(target=self._read, daemon=True)
        writer = threading.Thread(target=self._write, daemon=True)
        for thread in (reader, writer, *helpers):
            thread.start()
        try:
            self._stage(0)
        except BaseException:
            self.stop.set()  # every other thread ends at its next step
            raise
        finally:
            self._put(self.outboxes[0], _END)
            for thread in (*helpers, writer):
                thread.join()
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

    def _get(self, q: queue.Queue):
        """The next item of `q`, or _END once the run is stopped."""
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                pass
        return _END

    def _read(self) -> None:
        """Chunks of one shot, cut again at segment boundaries, as (uint8 frames, starts a shot, ends a segment); those
        an earlier run finished are decoded for the shot detection only."""
        frames = read_frames(self.info.path, self.info, self.cut)
        try:
            for chunk in chunks(frames, float(self.info.fps), self.chunk_frames):
                self.shots = chunk.shot + 1
                if chunk.index == 0 and chunk.first_frame:
                    self.cuts.append(chunk.first_frame)
                for first, piece in _pieces(chunk.first_frame, chunk.frames):
                    end = first + len(piece)
                    if end <= self.start_frame:
                        continue
                    starts = chunk.index == 0 and first == chunk.first_frame
                    if not self._put(self.decoded, (piece, starts, end % segments.SEGMENT_FRAMES == 0)):
                        return
            self._put(self.decoded, _END)
        except BaseException as e:  # handed to the first stage, which raises it
            self._put(self.decoded, e)
        finally:
            frames.close()

    def _stage(self, g: int) -> None:
        """Group g of the stages (one stage, or all of them when a stage has several threads) over every chunk, in
        order. Chunks wait between groups as uint8 planes (the source's and the last stage's output, on 8-bit levels:
        exact); one that ends a segment carries the states of the stages it has been through, for the writer to save
        with the segment. Group 0 runs on the caller's thread (it raises what goes wrong, and answers signals); a
        later group's error stops the run."""
        inbox, outbox, group = self.inboxes[g], self.outboxes[g], self.groups[g]
        last = group[-1] == len(self.stages) - 1
        states = {k: self.states[k] for k in group}
        try:
            while (item := self._get(inbox)) is not _END:
                if g == 0:
                    self.caught.check()
                    if isinstance(item, BaseException):
                        raise item
                    pieces, starts_shot, ends_segment = item
                    item = planes(pieces), None, starts_shot, [] if ends_segment else None
                source_planes, frame_planes, starts_shot, done = item
                source = from_planes(source_planes)
                frames = source if frame_planes is None else from_planes(frame_planes)
                for k in group:
                    state = None if starts_shot else states[k]
                    frames, states[k] = run_stage(k, self.stages[k], frames, source, state, timings=self.timings)
                    done = None if done is None else [*done, states[k]]
                if last:
                    item = tensor_to_frames(frames), done
                else:
                    item = source_planes, to_planes(frames), starts_shot, done
                del frames, source  # float chunks live only while a stage works on them
                if not self._put(outbox, item):
                    return
        except BaseException as e:
            if g == 0:
                raise
            self.errors.append(e)
            self.stop.set()
            return
        if g:
            self._put(outbox, _END)

    def _write(self) -> None:
        try:
            while (item := self._get(self.encoded)) is not _END:
                frames, states = item
                for frame in frames:
                    self.encoder.write(frame)
                if states is not None and self.work is not None:  # a segment was finished with this chunk
                    self.work.save(self.encoder.segments_done, states)
                self.bar.update(len(frames))
        except BaseException as e:
            self.errors.append(e)
            self.stop.set()

    def summary(self, times=None) -> dict:
        """`times`: the output frames' own times for a variable frame rate (None: constant)."""
        n = self.encoder.frames
        done = n - self.start_frame
        fps = float(self.info.fps)

        def at(frame: int) -> float:
            return float(times.seconds[frame]) if times is not None else frame / fps

        summary = {
            "frames": n,
            "shots": self.shots,
            "cuts": [{"frame": f, "time": round(at(f), 3), "timecode": excerpt.timecode(at(f))} for f in self.cuts],
            "seconds": round(self.elapsed, 3),
            "fps": round(done / self.elapsed, 2) if self.elapsed else 0.0,
            "stages": {
                name: {"seconds": round(t, 3), "fps": round(done / t, 2) if t else None}
                for name, t in self.timings.items()
            },
            "presets": [s.preset.name for s in self.stages],
        }
        if self.start_frame:
            summary["resumed_at"] = self.start_frame
        return summary


def _pieces(first: int, frames: list) -> list[tuple[int, list]]:
    """A chunk's frames cut at segment boundaries: [(film index of the piece's first frame, frames), ...]."""
    out, k = [], 0
    while k < len(frames):
        room = segments.SEGMENT_FRAMES - (first + k) % segments.SEGMENT_FRAMES
        out.append((first + k, frames[k : k + room]))
        k += room
    return out
