"""Check a written film before it replaces the output, and name the usual cause of a failed write (a full disk).

Some ffmpeg builds exit 0 when they cannot finish a file (Debian's 5.1 on a full disk leaves an MP4 without its
index), so the exit code is not trusted: the finished file is probed for its frames, duration and streams.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from deeperfour.errors import OutputError

LOW_SPACE = 1 << 20  # bytes: a failed write with less than this left is put down to a full disk


@dataclass(frozen=True)
class Expected:
    frames: int
    audio_streams: int
    subtitle_streams: int
    duration: float  # seconds
    fps: float


def check(path: str, expected: Expected, output: Path) -> None:
    """Raise OutputError (naming `output`, the path the user gave) unless `path` holds what was written: that many
    frames present with their data, that long, with those streams."""
    try:
        got = _read(path)
    except (av.error.FFmpegError, StopIteration, OSError) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise OutputError(f"{output}: the written file is unreadable ({reason})") from None
    frames, duration, audio, subtitles = got
    found, wanted = (frames, audio, subtitles), (expected.frames, expected.audio_streams, expected.subtitle_streams)
    if found != wanted:
        raise OutputError(
            f"{output}: the written file has {found[0]} frames, {found[1]} audio and {found[2]} subtitle streams; "
            f"expected {wanted[0]}, {wanted[1]} and {wanted[2]}"
        )
    if abs(duration - expected.duration) > 1.5 / expected.fps + 0.05:
        raise OutputError(f"{output}: the written video lasts {duration:.3f} s; expected {expected.duration:.3f} s")


def _read(path: str) -> tuple[int, float, int, int]:
    """(video frames present, seconds from the first frame to the end of the last, audio and subtitle streams); the
    first frame is decoded. Frames are counted from their packets, as video/probe.py counts them."""
    with av.open(path) as c:
        next(c.decode(c.streams.video[0]))
    with av.open(path) as c:
        stream = c.streams.video[0]
        tb = stream.time_base or Fraction(1, 1000)
        start = stream.start_time or 0
        count, first, end = 0, None, 0
        for p in c.demux(stream):
            if p.size and p.pts is not None and p.pts >= start:
                count += 1
                first = p.pts if first is None else min(first, p.pts)
                end = max(end, p.pts + (p.duration or 0))
        duration = float((end - (first or 0)) * tb)
        return count, duration, len(c.streams.audio), len(c.streams.subtitles)


def space_problem(directory: str | os.PathLike, text: str = "", returncode: int | None = None) -> str | None:
    """'no space left …' or 'file size limit …' when that is why writing in `directory` failed, else None."""
    if returncode is not None and returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "the file size limit was reached (ulimit -f); raise it or write a smaller film"
    if "file too large" in text.lower():
        return "the file size limit was reached (ulimit -f); raise it or write a smaller film"
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        free = None
    if "no space left" in text.lower() or (free is not None and free < LOW_SPACE):
        left = f" ({free // 1024} kB free)" if free is not None else ""
        return f"no space left on the device of {directory}{left}; free some space or write the output elsewhere"
    return None


def explain(e: BaseException, output: Path, returncode: int | None = None) -> BaseException:
    """`e` turned into 'no space left' (or the size limit) when that caused it; otherwise `e` itself."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        text = os.strerror(e.errno)
    elif isinstance(e, OutputError):
        text = str(e)
    else:
        return e
    problem = space_problem(output.parent, text, returncode)
    return OutputError(f"{output}: {problem}") if problem else e
