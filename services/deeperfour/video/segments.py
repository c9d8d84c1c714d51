"""Films are encoded in segments of SEGMENT_FRAMES source frames, each by an encoder process of its own, and joined
without re-encoding (ffmpeg's concat demuxer, a stream copy).

So a run that stopped after segment k can start a new encoder at segment k + 1 and give the same film, frame for
frame, as a run that never stopped, and every film is made the same way: embedded or distributed, interrupted or
not. One encoder process with key frames forced at the same places would not do: x264's rate control carries
history across key frames (measured on an old film: frames up to 35 levels apart from the segments' result).
Each segment starts with a key frame; 96 frames (4 s at 24 fps) cost 0.2-1.5 % in file size against one unbroken
encode on the films of ../shared/data (48 frames: 0.5-3.7 %).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import ffmpeg

SEGMENT_FRAMES = 96
_NAME = re.compile(r"seg-(\d{6})(\.part)?\.")


def path(folder: str | os.PathLike, index: int, ext: str, partial: bool = False) -> Path:
    """seg-000012.mp4 (seg-000012.part.mp4 while it is written: the container still follows the extension)."""
    return Path(folder) / f"seg-{index:06d}{'.part' if partial else ''}{ext}"


def index_of(frame: int) -> int:
    """The segment that holds source frame `frame`."""
    return frame // SEGMENT_FRAMES


def count(frames: int) -> int:
    """Segments of a film of `frames` frames."""
    return -(-frames // SEGMENT_FRAMES)


def remove_from(folder: str | os.PathLike, first: int) -> None:
    """Delete the segments numbered `first` and above, and every partial one."""
    for p in Path(folder).iterdir():
        found = _NAME.match(p.name)
        if found and (found.group(2) or int(found.group(1)) >= first):
            p.unlink(missing_ok=True)


def sync(file: str | os.PathLike) -> None:
    """Flush a finished file to the disk, so that a power cut cannot leave a renamed but empty segment."""
    fd = os.open(file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def join(folder: str | os.PathLike, segments: int, ext: str, dst: str | os.PathLike, run) -> None:
    """Concatenate segments 0 … segments - 1 of `folder` into `dst` (video only, no re-encoding); `run` runs an
    ffmpeg-python stream as video/io.py does."""
    listing = Path(folder) / "segments.txt"
    listing.write_text("".join(f"file '{path(folder, k, ext).name}'\n" for k in range(segments)))
    run(ffmpeg.input(str(listing), format="concat", safe=0).video.output(str(dst), vcodec="copy"))
