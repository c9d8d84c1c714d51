"""Variable frame rates: each frame keeps its own timestamp, so the picture stays in sync with the copied sound.

The encoder is fed raw frames at one constant rate; for a film whose frames are not evenly spaced, `retime` then
rewrites the encoded packets' timestamps to the source frames' own (a stream copy with PyAV: nothing is re-encoded).
AVI has no per-frame timestamps: there the frames are resampled to a constant rate instead, each frame repeated or
dropped as ffmpeg's fps filter does (`resample_counts`), and the run says so.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from fractions import Fraction

import av

CONSTANT_RATE_CONTAINERS = (".avi",)  # containers whose video has no per-frame timestamps


@dataclass(frozen=True)
class FrameTimes:
    """Presentation times of the source's frames, in seconds from the first one, in display order."""

    seconds: list[Fraction]
    duration: Fraction  # from the first frame to the end of the last one
    time_base: Fraction  # the source stream's

    def __len__(self) -> int:
        return len(self.seconds)


def presentation_times(path: str, index: int) -> tuple[FrameTimes, Fraction]:
    """Every frame's time from the first one, in display order, to the end of the last one; and the first frame's
    own timestamp in seconds, of stream `index` (VideoInfo.stream). Frames are counted as video/probe.py counts them:
    packets at or after the stream's start time."""
    with av.open(path) as c:
        stream = c.streams[index]
        tb = Fraction(stream.time_base or Fraction(1, 1000))
        start = stream.start_time or 0
        packets = [(p.pts, p.duration or 0) for p in c.demux(stream) if p.size and p.pts is not None and p.pts >= start]
    if not packets:
        return FrameTimes([], Fraction(0), tb), Fraction(0)
    packets.sort()
    first = packets[0][0]
    seconds = [Fraction(pts - first) * tb for pts, _ in packets]
    last_pts, last_duration = packets[-1]
    duration = Fraction(last_pts - first + last_duration) * tb
    if last_duration <= 0 and len(seconds) > 1:  # no duration on the last packet: give it the previous interval
        duration = seconds[-1] + (seconds[-1] - seconds[-2])
    return FrameTimes(seconds, duration, tb), first * tb


def frame_times(path: str, fps: Fraction, index: int) -> FrameTimes | None:
    """The source's frame times when they stray from the constant rate `fps` by more than a quarter of a frame
    anywhere (a variable frame rate, or frames missing from a constant one); None when the rate is constant."""
    times, _ = presentation_times(path, index)
    if len(times) < 2 or max(abs(t - k / fps) for k, t in enumerate(times.seconds)) <= Fraction(1, 4) / fps:
        return None
    return times


def part(times: FrameTimes | None, first: int, count: int) -> FrameTimes | None:
    """The times of frames first … first + count - 1, counted from the first of them (an excerpt's)."""
    if times is None:
        return None
    t0 = times.seconds[first]
    end = times.seconds[first + count] if first + count < len(times) else times.duration
    return FrameTimes([t - t0 for t in times.seconds[first : first + count]], end - t0, times.time_base)


def main_rate(times: FrameTimes) -> Fraction:
    """The rate of the film's most common frame interval (the median): the constant rate AVI resamples to."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times.seconds) if b > a)
    return (1 / gaps[len(gaps) // 2]).limit_denominator(1001)


def resample_counts(times: FrameTimes, rate: Fraction) -> list[int]:
    """How many times each frame is written to hold the film at a constant `rate` (0: dropped): frame k covers the
    output ticks from round(t_k * rate) up to the next frame's, as ffmpeg's fps filter (round=near) picks them."""
    ticks = [round(t * rate) for t in times.seconds] + [max(1, round(times.duration * rate))]
    return [max(0, b - a) for a, b in itertools.pairwise(ticks)]


def retime(src: str, dst: str, times: FrameTimes) -> None:
    """Copy the video stream of `src` (encoded at a constant rate, one packet per frame) to `dst`, with every frame's
    timestamp set to the source frame's. Decode timestamps move with the same monotone map, so B-frame reordering
    stays valid."""
    with av.open(src) as c:
        old = sorted(p.pts for p in c.demux(c.streams.video[0]) if p.size and p.pts is not None)
    if len(old) != len(times):
        raise ValueError(f"{len(old)} frames encoded for {len(times)} timestamps")
    with av.open(src) as inp, av.open(dst, "w") as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        tb = times.time_base
        s_out.time_base = tb
        new = [round(t / tb) for t in times.seconds]
        end = max(round(times.duration / tb), new[-1] + 1)
        durations = dict(zip(old, [b - a for a, b in itertools.pairwise([*new, end])], strict=True))
        mapping = _Monotone(old, new)
        for packet in inp.demux(s_in):
            if not packet.size or packet.pts is None:
                continue
            pts, dts = packet.pts, packet.dts
            packet.stream = s_out
            packet.time_base = tb
            packet.pts = mapping(pts)
            packet.dts = mapping(dts) if dts is not None else None
            packet.duration = durations[pts]
            out.mux(packet)


class _Monotone:
    """Piecewise-linear, increasing map from the encoded timestamps to the source's, exact on every frame and
    extended below the first frame with the first interval's slope (negative decode timestamps)."""

    def __init__(self, old: list[int], new: list[int]):
        self.old, self.new = old, new

    def __call__(self, x: int) -> int:
        old, new = self.old, self.new
        i = bisect.bisect_left(old, x)
        if i < len(old) and old[i] == x:
            return new[i]
        lo = max(0, min(i - 1, len(old) - 2))
        slope = Fraction(new[lo + 1] - new[lo], old[lo + 1] - old[lo])
        return round(new[lo] + (x - old[lo]) * slope)
