"""Cutting a film into chunks of one shot: the rule both modes share, so they see the same shots and chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class Chunk:
    frames: list[np.ndarray]  # uint8 (H, W, 3) RGB, consecutive frames of one shot
    shot: int  # the shot's index in the film
    index: int  # the chunk's index in its shot (0: the shot starts here)
    first_frame: int  # the film's index of frames[0]


def chunks(frames: Iterable[np.ndarray], fps: float, chunk_frames: int) -> Iterator[Chunk]:
    """Decoded frames -> chunks; a chunk ends at a cut (ShotDetector) or after `chunk_frames` frames."""
    from deeperfour.video.shots import ShotDetector

    detector = ShotDetector(fps=fps)
    shot, index, first = -1, 0, 0
    buffer: list[np.ndarray] = []
    for frame in frames:
        cut = detector.push(frame)
        if buffer and (cut or len(buffer) == chunk_frames):
            yield Chunk(buffer, shot, index, first)
            first, index, buffer = first + len(buffer), index + 1, []
        if cut:
            shot, index = shot + 1, 0
        buffer.append(frame)
    if buffer:
        yield Chunk(buffer, shot, index, first)
