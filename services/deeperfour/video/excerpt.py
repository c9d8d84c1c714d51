"""Excerpts: `--start TIME` with `--duration TIME` or `--frames N` picks the frames a run processes; the sound and
subtitles are cut to match.

An excerpt is the frames whose time (from the film's first frame) is at or after its start: `count` of them, or
those that start before start + duration. Decoding seeks with ffmpeg's `-ss` to half a frame before the first one:
ffmpeg decodes from the key frame before that point and drops every frame that starts earlier, so the first frame
decoded is exactly the excerpt's first.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from deeperfour.errors import InputError

if TYPE_CHECKING:
    from deeperfour.video.probe import VideoInfo

TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class Excerpt:
    first: int  # the film's index of its first frame
    count: int  # frames
    start: Fraction  # seconds from the film's first frame to the excerpt's first frame
    duration: Fraction  # seconds, to the end of its last frame
    seek: float  # ffmpeg's input -ss (from the file's start time) that makes decoding start at `first`; 0: no seek
    audio_seek: float  # ffmpeg's input -ss where the excerpt's sound starts


def parse_time(text: str, flag: str) -> Fraction:
    """'90', '90.5', '1:30', '01:02:03.25' -> seconds."""
    found = TIME.fullmatch(text.strip())
    if not found:
        raise InputError(f"{flag} {text}: not a time; write seconds (90.5), MM:SS or HH:MM:SS(.sss)")
    hours, minutes, seconds = found.groups()
    if (hours is not None and int(minutes) >= 60) or (minutes is not None and Fraction(seconds) >= 60):
        raise InputError(f"{flag} {text}: minutes and seconds after a colon must be below 60")
    return Fraction(seconds) + 60 * int(minutes or 0) + 3600 * int(hours or 0)


def timecode(seconds: Fraction | float) -> str:
    """HH:MM:SS.mmm"""
    ms = round(float(seconds) * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def select(info: VideoInfo, start: Fraction | None, duration: Fraction | None, frames: int | None) -> Excerpt | None:
    """The excerpt of `info`'s film that the options ask for; None when they ask for the whole film."""
    if start is None and duration is None and frames is None:
        return None
    if duration is not None and frames is not None:
        raise InputError("--duration and --frames both say how long the excerpt is: give one of them")
    if frames is not None and frames < 1:
        raise InputError(f"--frames {frames}: must be at least 1")
    if duration is not None and duration <= 0:
        raise InputError("--duration: must be more than 0 seconds")
    from deeperfour.video import timing

    times, first_pts = timing.presentation_times(info.path, info.stream)
    start = start or Fraction(0)
    first = bisect.bisect_left(times.seconds, start)
    if first >= len(times):
        raise InputError(
            f"--start {float(start):g} s: past the last frame of {info.path} (it lasts {float(times.duration):.3f} s)"
        )
    if frames is not None:
        count = min(frames, len(times) - first)
    elif duration is not None:
        count = bisect.bisect_left(times.seconds, start + duration) - first
    else:
        count = len(times) - first
    if count < 1:
        raise InputError(f"--duration {float(duration or 0):g} s: no frame starts within it; make it longer")
    t0 = times.seconds[first]
    end = times.seconds[first + count] if first + count < len(times) else times.duration
    offset = float(first_pts) - info.format_start  # the first frame's place on ffmpeg's -ss clock
    half = (t0 - times.seconds[first - 1]) / 2 if first else Fraction(0)
    return Excerpt(
        first=first,
        count=count,
        start=t0,
        duration=end - t0,
        seek=max(0.0, offset + float(t0 - half)) if first else 0.0,
        audio_seek=max(0.0, offset + float(t0)),
    )
