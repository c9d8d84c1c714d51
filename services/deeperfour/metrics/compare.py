"""`deeperfour compare A B -o compare.mp4`: a side-by-side video (A left, with A's audio) and a per-frame
flicker plot of both (compare.png next to it), for people who would rather look than read."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np

from deeperfour.errors import OutputError
from deeperfour.metrics import frames as io
from deeperfour.metrics.evaluate import _zip_equal
from deeperfour.metrics.temporal import InputFlow, TemporalAccumulator


def _label(frame: np.ndarray, text: str) -> np.ndarray:
    frame = frame.copy()
    scale = max(frame.shape[0] / 720, 0.4)
    org = (int(10 * scale) + 2, int(30 * scale) + 2)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(int(4 * scale), 2), cv2.LINE_AA)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(int(2 * scale), 1), cv2.LINE_AA)
    return frame


def compare(a, b, output, *, input=None, plot=None) -> dict:
    """Writes the side-by-side video and the plot; returns {"video", "plot", "a": {...}, "b": {...}}.

    Shots (and, with `input`, the E_warp flows) come from the input film when given, else from A."""
    from deeperfour.video.io import Encoder

    output = Path(output)
    plot = Path(plot) if plot else output.with_suffix(".png")
    info_a = io.probe(a)
    streams = {"A": io.read_video(a)[0], "B": io.read_video(b)[0]}
    fps = info_a.fps
    if input is not None:
        streams["input"], fps, _ = io.read_video(input)
    detector, flow = io.shot_detector(fps), InputFlow()
    acc = {"A": TemporalAccumulator(), "B": TemporalAccumulator()}
    names = {"A": Path(a).name, "B": Path(b).name}
    enc = Encoder(output, dataclasses.replace(info_a, width=2 * info_a.width), audio_from=a)
    try:
        for items in _zip_equal(streams):
            fr = dict(zip(streams, items))
            fa = fr["A"]
            fb = fr["B"] if fr["B"].shape == fa.shape else cv2.resize(fr["B"], (fa.shape[1], fa.shape[0]))
            src = fr.get("input", fa)
            new_shot = bool(detector.push(src))
            flows = flow.push(src, new_shot, (fa.shape[1], fa.shape[0])) if input is not None else None
            acc["A"].push(fa, new_shot, flows)
            acc["B"].push(fb, new_shot, flows)
            enc.write(np.concatenate([_label(fa, "A: " + names["A"]), _label(fb, "B: " + names["B"])], axis=1))
    except BaseException:
        enc.abort()
        raise
    enc.close()
    _plot(acc, names, plot, fps=float(info_a.fps))
    return {
        "video": str(output),
        "plot": str(plot),
        **{k: {"path": str(p), "cdc": acc[k].cdc, "e_warp": acc[k].e_warp} for k, p in (("A", a), ("B", b))},
    }


def _plot(acc: dict, names: dict, path: Path, fps: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_warp = any(x is not None for x in acc["A"].per_frame_ewarp)
    rows = 2 if with_warp else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.2 * rows), sharex=True, squeeze=False)
    series = [("per_frame_jsd", "colour-histogram JSD(t-1, t)", "cdc")]
    if with_warp:
        series.append(("per_frame_ewarp", "warp error E_pair(t-1, t)", "e_warp"))
    for ax, (attr, ylabel, total) in zip(axes[:, 0], series):
        for key, colour in (("A", "tab:red"), ("B", "tab:blue")):
            ys = np.array([np.nan if v is None else v for v in getattr(acc[key], attr)], dtype=float)
            xs = np.arange(len(ys)) / fps
            value = getattr(acc[key], total)
            label = f"{key}: {names[key]} ({total} {value:.5f})" if value is not None else f"{key}: {names[key]}"
            ax.plot(xs, ys, color=colour, lw=1, label=label)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (s); gaps are shot cuts")
    fig.suptitle("per-frame flicker (lower is steadier)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the plot {path}: {e.strerror}") from None
    finally:
        plt.close(fig)
