"""Shot boundaries from frames already decoded, with PySceneDetect's content detector."""

from __future__ import annotations

import cv2
import numpy as np
from scenedetect.common import FrameTimecode
from scenedetect.detectors import ContentDetector

ANALYSIS_WIDTH = 256  # detection runs on a small copy: same cuts, a fraction of the cost


class ShotDetector:
    """Feed frames in order; `push` says whether a frame starts a new shot (the first frame always does)."""

    def __init__(self, threshold: float = 27.0, min_shot_frames: int = 8, fps: float = 25.0):
        self._options = dict(threshold=threshold, min_scene_len=min_shot_frames)
        self._detector: ContentDetector | None = None
        self._fps = fps
        self._index = 0

    def push(self, frame: np.ndarray) -> bool:
        """frame: uint8 (H, W, 3) RGB. Returns True when it is the first frame of a shot."""
        h, w = frame.shape[:2]
        if w > ANALYSIS_WIDTH:
            frame = cv2.resize(
                frame, (ANALYSIS_WIDTH, max(1, round(h * ANALYSIS_WIDTH / w))), interpolation=cv2.INTER_AREA
            )
        if self._detector is None:
            # Hue and saturation are flat in a black-and-white film; averaged in, they would cut the sensitivity to a
            # third.
            grey = np.abs(frame.astype(np.int16) - frame[:, :, :1]).mean() < 2.0
            self._detector = ContentDetector(luma_only=bool(grey), **self._options)
        bgr = np.ascontiguousarray(frame[:, :, ::-1])
        cuts = self._detector.process_frame(FrameTimecode(self._index, fps=self._fps), bgr)
        is_cut = self._index == 0 or any(c.frame_num == self._index for c in cuts)
        self._index += 1
        return is_cut
