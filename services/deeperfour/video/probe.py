"""Probe a film with PyAV: size as displayed, rational frame rate, frame count, streams, colour tags and aspect."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from deeperfour.errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int  # as displayed (rotation applied)
    height: int
    fps: Fraction  # rational rate the output is written at
    frame_count: int  # frames presented (counted from the packets)
    duration: float  # seconds
    rotation: int  # degrees recorded in the display matrix; decoding applies it
    start_time: float  # first video timestamp, seconds (audio is muxed relative to it)
    audio_streams: int
    subtitle_streams: int
    container: str
    variable_frame_rate: bool
    # ffmpeg's names of the source's colour tags (None: unspecified), kept on the output (video/io.py)
    color_primaries: str | None = None
    color_trc: str | None = None
    colorspace: str | None = None  # the YUV matrix
    color_range: str | None = None  # tv (limited) or pc (full)
    sample_aspect_ratio: Fraction | None = None  # of the frames as displayed (rotation applied); None: square/unknown
    format_start: float = 0.0  # the file's start time, seconds: where ffmpeg's `-ss` counts from
    stream: int = 0  # the film's stream index in the file (not a cover picture's)
    other_video_streams: int = 0  # cover pictures, other angles: not copied


# libavutil's colour enums -> the names ffmpeg's setparams filter takes, for the values films carry.
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020"}
TRANSFERS = {
    1: "bt709",
    4: "bt470m",  # gamma 2.2
    5: "bt470bg",  # gamma 2.8
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    18: "arib-std-b67",
}
MATRICES = {1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc"}
RANGES = {1: "tv", 2: "pc"}


def _colour(cc) -> dict:
    """The source's colour tags by ffmpeg name; values outside the tables above count as unspecified."""
    return {
        "color_primaries": PRIMARIES.get(int(cc.color_primaries or 0)),
        "color_trc": TRANSFERS.get(int(cc.color_trc or 0)),
        "colorspace": MATRICES.get(int(cc.colorspace or 0)),
        "color_range": RANGES.get(int(cc.color_range or 0)),
    }


def _aspect(sar, rotation: int) -> Fraction | None:
    """The sample aspect ratio of the displayed frame (inverted by a quarter turn); None when square or unknown."""
    if not sar or sar == 1:
        return None
    sar = Fraction(sar.numerator, sar.denominator)
    return 1 / sar if rotation in (90, 270) else sar


def _frame_rate(stream, frame_count: int, duration: float) -> tuple[Fraction, bool]:
    """The stream's nominal rate; when frames/duration disagrees with it (variable frame rate), the measured average,
    which keeps both the frame count and the duration."""
    rate = stream.base_rate or stream.average_rate or stream.guessed_rate
    measured = frame_count / duration if duration > 0 else 0.0
    if measured and (not rate or abs(measured - float(rate)) / measured > 0.01):
        return Fraction(measured).limit_denominator(1001), True
    if not rate:
        raise InputError(f"{stream.container.name}: the video stream has no frame rate")
    return Fraction(rate.numerator, rate.denominator), False


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe `path`, or raise InputError with one line saying why it cannot be processed."""
    path = str(path)
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if Path(path).is_dir():
        raise InputError(f"{path}: is a directory, not a video file")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{path}: not a readable video ({_reason(e)})") from None
    with container:
        stream = _film_stream(container, path)
        rotation = 0
        try:  # decoding one frame also proves the stream is readable
            frame = next(container.decode(stream))
            rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        except StopIteration:
            raise InputError(f"{path}: the video stream has zero frames") from None
        except av.error.FFmpegError as e:
            raise InputError(f"{path}: the video stream cannot be decoded ({_reason(e)})") from None
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        tb = stream.time_base or Fraction(1, 1)
        start = float(stream.start_time * tb) if stream.start_time else 0.0
        # Container counts miss frames an edit list hides (and Matroska has none): count what will be shown.
        frame_count, duration, present = _scan_packets(path, stream.index)
        # (AVI's index also counts the empty chunks its muxer writes for frames it skips: not a sign of truncation)
        if stream.frames and present < stream.frames and container.format.name != "avi":
            raise InputError(
                f"{path}: truncated: the index lists {stream.frames} frames but only {present} are in the file"
            )
        if frame_count <= 0:
            raise InputError(f"{path}: the video stream has zero frames")
        fps, vfr = _frame_rate(stream, frame_count, duration)
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            fps=fps,
            frame_count=frame_count,
            duration=duration,
            rotation=rotation,
            start_time=start,
            audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles),
            container=container.format.name,
            variable_frame_rate=vfr,
            sample_aspect_ratio=_aspect(stream.codec_context.sample_aspect_ratio, rotation),
            format_start=container.start_time / 1e6 if container.start_time is not None else start,
            stream=stream.index,
            other_video_streams=len(container.streams.video) - 1,
            **_colour(stream.codec_context),
        )


def _film_stream(container, path: str):
    """The first video stream that is not an attached picture (the cover art that MP4 and Matroska files carry)."""
    films = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not films:
        kind = "an audio-only file" if container.streams.audio else "not a video"
        if container.streams.video:
            kind = "a cover picture and no film"
        raise InputError(f"{path}: {kind}; DeeperFour needs a video stream")
    return films[0]


def _scan_packets(path: str, index: int) -> tuple[int, float, int]:
    """(frame count, duration in seconds) of video stream `index` as presented, and the number of its packets in
    the file, from its packets (no decoding).

    Packets before the stream's start time (hidden by an edit list) are not presented, so they are not counted.
    """
    count, last, present = 0, 0.0, 0
    with av.open(path) as c:
        stream = c.streams[index]
        tb = stream.time_base or 1
        start = stream.start_time or 0
        for p in c.demux(stream):
            present += bool(p.size)
            if p.size and p.pts is not None and p.pts >= start:
                count += 1
                last = max(last, float((p.pts - start + (p.duration or 0)) * tb))
    return count, last, present


def _reason(e: Exception) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return text.split(":")[-1].strip() or type(e).__name__
