"""`deeperfour eval`: every metric of a processed video, against its input film and optionally ground truth.

One streaming pass: the input, the output (and the reference) are decoded side by side, so memory stays at a few
frames whatever the length. Shots are cut by the pipeline's ShotDetector on the input frames; the flows are
computed once on the input frames and shared by the E_warp of every video evaluated.
"""

from __future__ import annotations

import math

import numpy as np

from deeperfour.errors import InputError
from deeperfour.metrics import frames as io
from deeperfour.metrics.quality import colorfulness, mse, ssim
from deeperfour.metrics.temporal import InputFlow, TemporalAccumulator

_END = object()


def _zip_equal(named_iters: dict):
    """Yields tuples of frames; raises InputError naming the video that ran out first."""
    names, iters = list(named_iters), list(named_iters.values())
    count = 0
    while True:
        items = [next(it, _END) for it in iters]
        ended = [n for n, x in zip(names, items) if x is _END]
        if len(ended) == len(items):
            return
        if ended:
            longer = [n for n in names if n not in ended]
            raise InputError(
                f"frame counts differ: {', '.join(ended)} ended after {count} frames but {', '.join(longer)} did not; "
                "evaluate an output against the input it was made from"
            )
        count += 1
        yield items


class _VideoStats:
    def __init__(self, with_reference: bool):
        self.temporal = TemporalAccumulator()
        self.colorfulness: list[float] = []
        self.mse: list[float] | None = [] if with_reference else None
        self.ssim: list[float] | None = [] if with_reference else None

    def push(self, frame, new_shot, flows, reference=None):
        self.temporal.push(frame, new_shot, flows)
        self.colorfulness.append(colorfulness(frame))
        if reference is not None:
            self.mse.append(mse(frame, reference))
            self.ssim.append(ssim(frame, reference))

    def summary(self) -> dict:
        out = {
            "e_warp": self.temporal.e_warp,
            "cdc": self.temporal.cdc,
            "colorfulness": float(np.mean(self.colorfulness)),
        }
        if self.mse is not None and self.ssim is not None:
            # A video's PSNR is that of its mean squared error over all frames (inf only if every frame is
            # identical); a mean of per-frame PSNRs would be inf as soon as one frame is, e.g. a shot's first
            # frame, which the stabilizer passes through unchanged.
            m = float(np.mean(self.mse))
            out["psnr"] = math.inf if m == 0 else 10.0 * math.log10(1.0 / m)
            out["ssim"] = float(np.mean(self.ssim))
        return out


def _resize_to(frame: np.ndarray, like: np.ndarray) -> np.ndarray:
    if frame.shape == like.shape:
        return frame
    import cv2

    return cv2.resize(frame, (like.shape[1], like.shape[0]), interpolation=cv2.INTER_AREA)


def evaluate(output, input, reference=None) -> dict:
    """Metrics of `output` (a video made from `input`), of `input` itself, and of `reference` (the colour
    original of a desaturated input) when given: {"frames", "shots", "output": {...}, "input": {...},
    "reference": {...}}. PSNR (of the mean MSE over all frames) and SSIM (mean over frames) are against the
    reference."""
    input_frames, input_fps, _ = io.read_video(input)
    streams = {"output": io.read_video(output)[0], "input": input_frames}
    if reference is not None:
        streams["reference"] = io.read_video(reference)[0]
    stats = {name: _VideoStats(reference is not None and name != "reference") for name in streams}
    detector = io.shot_detector(input_fps)
    flow = InputFlow()
    n = shots = 0
    for items in _zip_equal(streams):
        frames = dict(zip(streams, items))
        out = frames["output"]
        new_shot = bool(detector.push(frames["input"]))
        shots += new_shot
        flows = flow.push(frames["input"], new_shot, (out.shape[1], out.shape[0]))
        ref = _resize_to(frames["reference"], out) if reference is not None else None
        for name, frame in frames.items():
            frame = _resize_to(frame, out)
            stats[name].push(frame, new_shot, flows, ref if name != "reference" else None)
        n += 1
    if n == 0:
        raise InputError(f"{output}: no frames to evaluate")
    return {
        "frames": n,
        "shots": shots,
        "paths": {name: str(p) for name, p in zip(streams, (output, input, reference))},
        **{name: s.summary() for name, s in stats.items()},
    }


METRICS = ("e_warp", "cdc", "colorfulness", "psnr", "ssim")


def format_table(result: dict) -> str:
    """A plain-text table: one row per video, one column per metric."""
    videos = [v for v in ("output", "input", "reference") if v in result]
    cols = [m for m in METRICS if any(m in result[v] for v in videos)]
    lines = [f"{result['frames']} frames, {result['shots']} shot(s)", f"{'':<10}" + "".join(f"{c:>14}" for c in cols)]
    for v in videos:
        cells = []
        for c in cols:
            x = result[v].get(c)
            cells.append(
                "-"
                if x is None
                else f"{x:.6f}"
                if c in ("e_warp", "cdc")
                else f"{x:.4f}"
                if c == "ssim"
                else f"{x:.2f}"
            )
        lines.append(f"{v:<10}" + "".join(f"{s:>14}" for s in cells))
    return "\n".join(lines)
