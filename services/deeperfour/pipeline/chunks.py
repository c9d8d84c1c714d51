"""Cutting a film into chunks of one shot: the rule both modes share, so they see the same shots and chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

# A chunk's frames as float32 take at most this much (one frame at least), so that the memory of a run does not grow
# with the frame size: at most 24 frames at 640x360 (options.CHUNK_FRAMES by default), 2 at 1920x1080, 1 at
# 3840x2160. Results do not depend on the grouping.
CHUNK_BYTES = 64 << 20


def frames_per_chunk(width: int, height: int, chunk_frames: int) -> int:
    return max(1, min(chunk_frames, CHUNK_BYTES // (width * height * 3 * 4)))


@dataclass
class Chunk:
    frames: list[np.ndarray]  # uint8 (H, W, 3) RGB, consecutive frames of one shot
    shot: int  # the shot's index in the film
    index: int  # the chunk's index in its shot (0: the shot starts here)
    first_frame: int  # the film's index of frames[0]


def chunks(frames: Iterable[np.ndarray], fps: float, chunk_frames: int) -> Iterator[Chunk]:
    """Decoded frames -> chunks; a chunk ends at a cut (ShotDetector) or after `chunk_frames` frames (fewer for large
    frames: frames_per_chunk)."""
    from deeperfour.video.shots import ShotDetector

    detector = ShotDetector(fps=fps)
    shot, index, first = -1, 0, 0
    buffer: list[np.ndarray] = []
    limit = 0
    for frame in frames:
        limit = limit or frames_per_chunk(frame.shape[1], frame.shape[0], chunk_frames)
        cut = detector.push(frame)
        if buffer and (cut or len(buffer) == limit):
            yield Chunk(buffer, shot, index, first)
            first, index, buffer = first + len(buffer), index + 1, []
        if cut:
            shot, index = shot + 1, 0
        buffer.append(frame)
    if buffer:
        yield Chunk(buffer, shot, index, first)
