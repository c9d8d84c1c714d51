"""Decoding for the metrics, through the project's one decode path (deeperfour.video)."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from deeperfour.video.io import read_frames
from deeperfour.video.probe import probe
from deeperfour.video.shots import ShotDetector

__all__ = ["probe", "read_video", "shot_detector"]


def read_video(path) -> tuple[Iterator[np.ndarray], Fraction, int]:
    """(frames uint8 RGB (H,W,3), fps, frame_count); raises InputError for anything that is not a video."""
    info = probe(path)
    return read_frames(str(path), info), info.fps, info.frame_count


def shot_detector(fps) -> ShotDetector:
    """The pipeline's shot detector, set up as the embedded mode sets it, so metrics cut shots where it does."""
    return ShotDetector(fps=float(fps))
