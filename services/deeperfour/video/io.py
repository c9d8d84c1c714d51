"""Frames in and out through ffmpeg pipes (ffmpeg-python); nothing is written to disk but the output.

Decoding keeps every frame exactly once (`-fps_mode passthrough`), so the output has the input's frame count; the
encoder writes the video to a temporary file, then `mux` copies every audio and subtitle stream of the source next to
it and renames the result onto the output path only when everything succeeded. The output keeps the source's colour
tags (primaries, transfer, matrix, range) and sample aspect ratio, and its `comment` tag says what made it.

The ffmpeg that runs is chosen and checked in video/binary.py (imageio-ffmpeg's, or DEEPERFOUR_FFMPEG_BIN).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from deeperfour.errors import InputError, OutputError
from deeperfour.video import binary, segments, timing, verify, workdir
from deeperfour.video.excerpt import Excerpt
from deeperfour.video.probe import VideoInfo

# Output container -> (default video codec, audio codec used when a stream cannot be copied, subtitle codec or None).
CONTAINERS = {
    ".mp4": ("libx264", "aac", "mov_text"),
    ".m4v": ("libx264", "aac", "mov_text"),
    ".mov": ("libx264", "aac", "mov_text"),
    ".mkv": ("libx264", "aac", "srt"),
    ".webm": ("libvpx-vp9", "libopus", "webvtt"),
    ".avi": ("libx264", "mp3", None),
}


def ffmpeg_exe() -> str:
    """DEEPERFOUR_FFMPEG_BIN (or FFMPEG_BIN), else the static ffmpeg of imageio-ffmpeg; never the one on PATH."""
    return binary.ffmpeg_exe()


# scale's names of the YUV matrices it converts with (probe.MATRICES names -> out_color_matrix)
SCALE_MATRICES = {
    "bt709": "bt709",
    "fcc": "fcc",
    "bt470bg": "bt470",
    "smpte170m": "smpte170m",
    "smpte240m": "smpte240m",
    "bt2020nc": "bt2020",
}
RGB_FORMATS = ("gbr", "rgb", "bgr", "argb", "abgr")


def output_filters(stream, info: VideoInfo, pix_fmt: str):
    """Convert the RGB frames with the source's YUV matrix and range and tag them as the source was tagged, and keep
    its sample aspect ratio. An untagged source gets ffmpeg's defaults, untagged."""

    def present(**values: str | None) -> dict[str, str]:
        return {k: v for k, v in values.items() if v}

    params = present(color_primaries=info.color_primaries, color_trc=info.color_trc)
    if not pix_fmt.startswith(RGB_FORMATS):  # an RGB output has no matrix or range
        matrix = SCALE_MATRICES.get(info.colorspace or "")
        if matrix or info.color_range:
            scale = present(out_color_matrix=matrix, out_range=info.color_range)
            stream = stream.filter("scale", **scale).filter("format", pix_fmt)
            params.update(present(colorspace=info.colorspace if matrix else None, range=info.color_range))
    if params:
        stream = stream.filter("setparams", **params)
    if info.sample_aspect_ratio:
        sar = info.sample_aspect_ratio
        stream = stream.filter("setsar", f"{sar.numerator}/{sar.denominator}")
    return stream


def read_frames(path: str, info: VideoInfo, excerpt: Excerpt | None = None) -> Generator[np.ndarray, None, None]:
    """Yield uint8 RGB frames (H, W, 3) as displayed, the whole film or `excerpt`'s frames; raise InputError when the
    stream ends early (truncated file)."""
    expected = excerpt.count if excerpt else info.frame_count
    # one decoding thread: far faster than the models all the same, and a 4K decoder's frame threads hold 150 MB
    seek = {"ss": excerpt.seek} if excerpt and excerpt.seek else {}
    source = ffmpeg.input(path, threads=1, **seek)
    limit = {"frames:v": excerpt.count} if excerpt else {}
    proc = (
        source[str(info.stream)]
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough", **limit)
        .global_args("-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True)
    )
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    drain.start()
    size = info.width * info.height * 3
    count = 0
    try:
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            count += 1
            yield np.frombuffer(buf, np.uint8).reshape(info.height, info.width, 3)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join()  # ends at once: the process is gone, so its stderr is at EOF
        proc.stdout.close()
        proc.stderr.close()
    stderr = b"".join(errors).decode(errors="replace").strip()
    if count == 0:
        raise InputError(f"{path}: no frame could be decoded ({_last_line(stderr) or 'empty stream'})")
    # A container index that promises more frames than could be decoded means the file was cut short.
    if count < expected * 0.98 or (proc.returncode and count < expected):
        reason = _last_line(stderr) or "early end"
        raise InputError(f"{path}: truncated or damaged: decoded {count} of {expected} frames ({reason})")


def check_output(
    output: str | os.PathLike, suffixes=CONTAINERS, kind: str = "output container", example: str = "film.mp4"
) -> None:
    """Fail fast on an output path that cannot work: an unknown suffix (not in `suffixes`: a film's containers, or
    video/images.py's formats), a directory, a missing or read-only parent."""
    out = Path(output)
    if out.suffix.lower() not in suffixes:
        raise OutputError(f"{output}: unsupported {kind} {out.suffix or '(none)'}; use one of {', '.join(suffixes)}")
    if out.is_dir():
        raise OutputError(f"{output}: is a directory; give a file name such as {out / example}")
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent}: output directory does not exist")
    if not os.access(out.parent, os.W_OK):
        raise OutputError(f"{out.parent}: output directory is not writable")


class Encoder:
    """Encode RGB frames to `output` in segments (video/segments.py); `close()` joins them, muxes the source's
    audio/subtitles and publishes the file."""

    def __init__(
        self,
        output: str,
        info: VideoInfo,
        *,
        audio_from: str | None = None,
        codec: str | None = None,
        crf: int = 18,
        preset: str = "medium",
        pix_fmt: str | None = None,
        comment: str | None = None,
        times: timing.FrameTimes | None = None,
        folder: str | None = None,
        resume_at: int = 0,
        excerpt: Excerpt | None = None,
    ):
        """`times`: the source frames' own timestamps, for a film without a constant frame rate (video/timing.py).
        `folder`: where the segments and the other working files go, kept on abort (a resumable run's work folder,
        pipeline/resume.py); by default a temporary folder of the encoder's own, removed on close and abort.
        `resume_at`: segments already finished in `folder` by an earlier run; frames are written from the first frame
        of the next one. `excerpt`: the part of the source the frames are, whose sound and subtitles go with them."""
        self.output = Path(output)
        self.info = info
        self.audio_from = audio_from
        self.comment = comment  # the output's `comment` tag: what made it
        self.excerpt = excerpt
        self.notes: list[str] = []
        check_output(output)
        ext = self.output.suffix.lower()
        self.container = ext
        explicit = pix_fmt is not None or preset != "medium"  # the user's own encoder settings: tried first
        codec = codec or CONTAINERS[ext][0]
        binary.ffmpeg().require_encoder(codec)
        if pix_fmt is None:  # 4:2:0 needs even sizes; keep odd sizes exact with 4:4:4 instead of padding
            odd = info.width % 2 or info.height % 2
            pix_fmt = "yuv444p" if odd else "yuv420p"
            if odd:
                self.notes.append(f"odd frame size {info.width}x{info.height}: encoded as yuv444p to keep it exact")
        self._times, self._counts, rate_value = times, None, info.fps
        if times is not None and ext in timing.CONSTANT_RATE_CONTAINERS:
            rate_value = timing.main_rate(times)
            self._counts = timing.resample_counts(times, rate_value)
            self._say(
                f"variable frame rate: {ext} has no per-frame timestamps, so the film was resampled to a constant "
                f"{float(rate_value):.3f} fps ({self._counts.count(0)} frames dropped, "
                f"{sum(c - 1 for c in self._counts if c > 1)} repeated); write .mkv or .mp4 to keep every frame"
            )
            self._times = None
        self.rate = rate_value
        self._own_folder = folder is None
        self._tmpdir = workdir.make(self.output.parent) if folder is None else folder
        self._video = os.path.join(self._tmpdir, "video" + ext)
        args: dict[str, object] = {"vcodec": codec, "pix_fmt": pix_fmt}
        if codec in ("libx264", "libx265"):
            args.update(crf=crf, preset=preset)
        elif codec.startswith("libvpx"):
            args.update(crf=crf, **{"b:v": 0})
        self._args, self._pix_fmt = args, pix_fmt
        if explicit:
            self._check_settings()
        self.frames = resume_at * segments.SEGMENT_FRAMES  # frames received (earlier runs' included)
        self.written = sum(self._counts[: self.frames]) if self._counts else self.frames  # frames encoded
        self.segments_done = resume_at
        segments.remove_from(self._tmpdir, resume_at)
        self._proc: Any = None  # the ffmpeg encoding the current segment (subprocess.Popen)
        self._errors: list[bytes] = []

    def _check_settings(self) -> None:
        """Encode one black frame with these settings to nowhere: an unknown preset or pixel format, or an odd size
        for 4:2:0, is one line now rather than after the first frames."""
        black = ffmpeg.input(f"color=black:s={self.info.width}x{self.info.height}", format="lavfi", t=0.04)
        try:
            _run(output_filters(black, self.info, self._pix_fmt).output("-", format="null", **self._args))
        except ffmpeg.Error as e:
            reason = _first_cause(e.stderr.decode(errors="replace"))
            raise OutputError(f"{self.output}: the encoder refuses these settings: {reason}") from None

    def _start_segment(self) -> None:
        rate = f"{self.rate.numerator}/{self.rate.denominator}"
        size = f"{self.info.width}x{self.info.height}"
        frames = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=size, framerate=rate)
        self._part = segments.path(self._tmpdir, self.segments_done, self.container, partial=True)
        proc = (
            output_filters(frames, self.info, self._pix_fmt)
            .output(str(self._part), r=rate, **self._args)
            .global_args("-nostdin", "-v", "error")
            .overwrite_output()
            .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
        )
        self._proc, self._errors = proc, []
        self._drain = threading.Thread(target=lambda: self._errors.append(proc.stderr.read()), daemon=True)
        self._drain.start()

    def _finish_segment(self) -> None:
        """Close the segment being written; it is complete on disk when this returns."""
        assert self._proc is not None
        proc, self._proc = self._proc, None
        proc.stdin.close()
        proc.wait()
        self._drain.join()
        proc.stderr.close()
        if proc.returncode:
            error = OutputError(f"{self.output}: encoding failed: {self._stderr(proc)}")
            raise verify.explain(error, self.output, proc.returncode)
        segments.sync(self._part)
        os.replace(self._part, segments.path(self._tmpdir, self.segments_done, self.container))
        self.segments_done += 1

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (H, W, 3) RGB frame."""
        if self._proc is None:
            self._start_segment()
        assert self._proc is not None
        counts = self._counts
        repeat = counts[self.frames] if counts is not None and self.frames < len(counts) else 1
        try:
            data = np.ascontiguousarray(frame, dtype=np.uint8).tobytes()
            for _ in range(repeat):
                self._proc.stdin.write(data)
        except BrokenPipeError:
            self._drain.join(timeout=5)
            error = OutputError(f"{self.output}: the encoder stopped: {self._stderr(self._proc)}")
            raise verify.explain(error, self.output, self._proc.poll()) from None
        self.frames += 1
        self.written += repeat
        if self.frames % segments.SEGMENT_FRAMES == 0:
            self._finish_segment()

    def close(self) -> Path:
        """Finish encoding, join the segments, mux the source's other streams, rename onto the output path."""
        try:
            if self._proc is not None:
                self._finish_segment()
            if not self.frames or self.segments_done != segments.count(self.frames):
                raise OutputError(f"{self.output}: no frame was written" if not self.frames else "segments missing")
            segments.join(self._tmpdir, self.segments_done, self.container, self._video, _run)
            video = self._video
            if self._times is not None and len(self._times) != self.frames:
                self._say(
                    f"variable frame rate: {self.frames} frames decoded for {len(self._times)} timestamps, so the "
                    f"film was written at a constant {float(self.rate):.3f} fps; its sound may drift"
                )
                self._times = None
            if self._times is not None:  # every frame back at its own timestamp
                video = os.path.join(self._tmpdir, "timed" + self.container)
                timing.retime(self._video, video, self._times)
            final = os.path.join(self._tmpdir, "final" + self.container)
            self._mux(video, final)
            verify.check(final, self.expected(), self.output)  # whichever ffmpeg wrote it, and whatever it said
            os.replace(final, self.output)
        except BaseException as e:
            error = verify.explain(e, self.output)  # before the clean-up frees the space
            self.abort()
            if error is not e:
                raise error from None
            raise
        if self._own_folder:
            workdir.remove(self._tmpdir)
        return self.output

    def expected(self) -> verify.Expected:
        """What the finished file must hold."""
        src = bool(self.audio_from)
        duration = self._times.duration if self._times is not None else self.written / self.rate
        return verify.Expected(
            frames=self.written,
            audio_streams=self.info.audio_streams if src else 0,
            subtitle_streams=self.info.subtitle_streams if src and CONTAINERS[self.container][2] else 0,
            duration=float(duration),
            fps=float(self.rate),
        )

    def _say(self, note: str) -> None:
        self.notes.append(note)
        print(f"deeperfour: note: {note}", file=sys.stderr)

    def abort(self) -> None:
        """Stop the encoder and remove what this run was writing: everything in a folder of the encoder's own; in a
        work folder, the unfinished segment (finished ones stay for the next run)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self._drain.join()
            for pipe in (proc.stdin, proc.stderr):
                try:
                    pipe.close()
                except OSError:  # unflushed frames for a process that is gone
                    pass
        if self._own_folder:
            workdir.remove(self._tmpdir)
        else:
            segments.remove_from(self._tmpdir, self.segments_done)

    def _stderr(self, proc) -> str:
        return _first_cause(b"".join(self._errors).decode(errors="replace")) or f"exit code {proc.returncode}"

    def _mux(self, video_file: str, final: str) -> None:
        """Copy every audio and subtitle stream unchanged; re-encode only what the container cannot hold, and say so.
        An excerpt's streams are cut at its start and its length."""
        offset = 0.0 if self.excerpt else self.info.start_time
        video = ffmpeg.input(video_file, itsoffset=offset) if offset else ffmpeg.input(video_file)
        streams = [video.video]
        src = self.audio_from
        has_audio = bool(src and self.info.audio_streams)
        has_subs = bool(src and self.info.subtitle_streams)
        if src and self.info.other_video_streams:
            n = self.info.other_video_streams
            self._say(f"{n} more video stream{'s' if n > 1 else ''} (a cover picture, another view) not copied")
        _, audio_codec, sub_codec = CONTAINERS[self.container]
        if has_subs and not sub_codec:
            n = self.info.subtitle_streams
            self._say(
                f"{n} subtitle stream{'s' if n > 1 else ''} dropped: {self.container} cannot hold subtitles; "
                "write .mkv or .mp4 to keep them"
            )
            has_subs = False
        if has_audio or has_subs:
            cut = {"ss": self.excerpt.audio_seek, "t": float(self.excerpt.duration)} if self.excerpt else {}
            source = ffmpeg.input(src, **cut)
            if has_audio:
                streams.append(source["a"])
            if has_subs:
                streams.append(source["s"])
        base: dict[str, object] = dict(vcodec="copy", map_metadata=0 if src else -1)
        if self.comment:
            base["metadata"] = f"comment={self.comment}"
        if self.excerpt:  # a copied stream starts at the packet before the cut: drop what precedes the cut
            base["copypriorss"] = 0
        # Copy everything; else convert only the subtitles; else the audio too. Say what was not copied.
        attempts: list[tuple[str, str | None, str | None]] = [("copy", "copy", None)]
        if has_subs:
            attempts.append(
                ("copy", sub_codec, f"subtitles converted to {sub_codec}" if sub_codec else "subtitles dropped")
            )
        if has_audio:
            attempts.append(
                (
                    audio_codec,
                    sub_codec if has_subs else "copy",
                    f"audio re-encoded as {audio_codec}"
                    + (f", subtitles converted to {sub_codec}" if has_subs and sub_codec else ""),
                )
            )
        error = ""
        for acodec, scodec, note in attempts:
            mapped = streams if scodec else [s for s in streams if s is not streams[-1] or not has_subs]
            try:
                _run(ffmpeg.output(*mapped, final, acodec=acodec, scodec=scodec or "copy", **base))
            except ffmpeg.Error as e:
                error = _last_line(e.stderr.decode(errors="replace"))
                continue
            if note:
                note = f"{self.container} cannot hold the source's streams as they are: {note}"
                self.notes.append(note)
                print(f"deeperfour: note: {note}", file=sys.stderr)
            return
        raise OutputError(f"{self.output}: muxing the source's audio failed: {error}")


def _run(stream) -> None:
    stream.global_args("-nostdin", "-v", "error").overwrite_output().run(
        cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True
    )


def _first_cause(text: str) -> str:
    """An encoder's first error line, where it names the cause (an invalid preset, an odd width for 4:2:0), without
    ffmpeg's "[component @ 0x...]" prefixes; the lines after it only say that the run ended."""
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", ln.strip()) for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
