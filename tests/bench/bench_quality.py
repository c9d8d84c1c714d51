"""Quality of the lite colorizer and stabilizer on data they never trained on: prints figures, asserts nothing.

    python tests/bench/bench_quality.py [--data ../shared/data] [--colorizer W] [--stabilizer W] [--frames 60]
                                        [--render-factor N] [--skip-flicker] [--skip-speed] [--speed-runs 3]
                                        [--json FILE]

Colour (every frame desaturated, colorized by the colorize Stage, compared with its colour original in CIELAB;
deeperfour.metrics.quality.ColourAgreement):
  validation split of data/train (train/split.py): every tenth photo of each source, six whole DAVIS clips;
  other held-out data: data/photos and data/color_video (the trainers never read them).
  Beside the colorizer, two baselines: the grey input itself and a constant sepia tint.
  Targets: hue accuracy (balanced over colour families) >= 55 %; ab RMSE <= 0.9x the grey input's over the
  validation split and <= 1.1x on every clip; colourfulness >= 60 % of the truth's.
Flicker (the validation clips through the colorize and stabilize Stages on frames in memory; E_warp as
  `deeperfour eval` defines it): the share of the E_warp that colorizing adds above the true colour clip's own that the
  stabilizer removes (summed over the clips where colorizing adds any; target >= 50 %), and the stabilized
  output's PSNR against the colorized one (target >= 30 dB).
Speed: default colorize + stabilize on a 10 s 640x360 film, end to end, start-up included (target >= 12 frames/s):
  the median of --speed-runs runs, since the speed of a shared CPU changes from one run to the next.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from deeperfour.metrics.quality import ColourAgreement, colorfulness, desaturate
from deeperfour.pipeline.stages import build_stage
from deeperfour.train import split

SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


def sepia(grey_u8: np.ndarray) -> np.ndarray:
    return np.clip(grey_u8.astype(np.float64) @ SEPIA.T, 0, 255).astype(np.uint8)


def clip_frames(path: Path, limit: int) -> list[np.ndarray]:
    """A clip's first frames at their own size (a video file, or a folder of frames)."""
    from deeperfour.train.data import load_clip

    return list(load_clip(path, 10**6, limit))


def photo(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


class Scores:
    """ColourAgreement and colourfulness of the colorizer and of the two baselines on one group of frames."""

    def __init__(self):
        self.agree = {k: ColourAgreement() for k in ("colorizer", "grey", "sepia")}
        self.cf = {k: 0.0 for k in ("colorizer", "truth")}

    def push(self, stage, truth: np.ndarray) -> None:
        grey = desaturate(truth)
        x = torch.from_numpy(grey).permute(2, 0, 1)[None].float() / 255
        out, _ = stage(x, x, None)
        out = (out[0].permute(1, 2, 0) * 255).round().byte().numpy()
        for name, frame in (("colorizer", out), ("grey", grey), ("sepia", sepia(grey))):
            self.agree[name].push(frame, truth)
        self.cf["colorizer"] += colorfulness(out)
        self.cf["truth"] += colorfulness(truth)

    def merge(self, other: Scores) -> Scores:
        out = Scores()
        out.agree = {k: self.agree[k].merge(other.agree[k]) for k in self.agree}
        out.cf = {k: self.cf[k] + other.cf[k] for k in self.cf}
        return out

    def row(self) -> dict:
        r = {
            f"{k}_{m}": v
            for k in self.agree
            for m, v in self.agree[k].summary().items()
            if m in ("hue_accuracy", "hue_accuracy_pooled", "ab_rmse_ratio")
        }
        r["colourfulness_ratio"] = self.cf["colorizer"] / max(self.cf["truth"], 1e-9)
        return r


def colour(data: Path, stage, frames: int, limit: int | None, part: str = "validation") -> dict[str, dict[str, Scores]]:
    """{group: {item: Scores}} for the validation split and the other held-out data (where present); with
    part="train", a sample of the training split instead (to choose settings without looking at validation)."""
    groups: dict[str, dict[str, Scores]] = {}

    def add(group: str, name: str, images) -> None:
        s = Scores()
        for image in images:
            s.push(stage, image)
        if s.agree["colorizer"].pixels:
            groups.setdefault(group, {})[name] = s

    for source in split.PHOTO_SOURCES:
        add(f"{part} photos", source, (photo(p) for p in split.photos(data, source, part)[:limit]))
    for clip in split.clips(data, part)[:limit]:
        add(f"{part} clips", clip.stem, clip_frames(clip, frames))
    if part == "train":
        return groups
    for folder in sorted((data / "photos").glob("*"))[:limit]:
        add("other photos", folder.name, (photo(p) for p in sorted(folder.glob("*"))[:limit]))
    for clip in sorted((data / "color_video").glob("*"))[:limit]:
        add("other clips", clip.stem, clip_frames(clip, frames))
    return groups


def flicker(data: Path, weights: dict, frames: int, limit: int | None, device: str) -> dict:
    """E_warp of the truth, the colorized and the stabilized validation clips, all on frames in memory (no codec
    between the stages and the metric), flows on the grey input as `deeperfour eval` computes them."""
    from deeperfour.metrics.quality import psnr
    from deeperfour.metrics.temporal import e_warp
    from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames

    colorizer = build_stage("colorize", weights=weights.get("colorize"), device=device)
    stabilizer = build_stage("stabilize", weights=weights.get("stabilize"), device=device)
    rows = {}
    for clip in split.clips(data, "validation")[:limit]:
        truth = clip_frames(clip, frames)
        grey = [desaturate(f) for f in truth]
        source = frames_to_tensor(grey)
        colorized, _ = colorizer(source, source, None)
        stabilized, _ = stabilizer(colorized, source, None)
        c, s = tensor_to_frames(colorized), tensor_to_frames(stabilized)
        rows[clip.stem] = {
            "e_warp_truth": e_warp(grey, truth),
            "e_warp_colorized": e_warp(grey, list(c)),
            "e_warp_stabilized": e_warp(grey, list(s)),
            "psnr_vs_colorized": psnr(s, c),
        }
    added = {k: r["e_warp_colorized"] - r["e_warp_truth"] for k, r in rows.items()}
    counted = [k for k, a in added.items() if a > 0]
    removed = sum(rows[k]["e_warp_colorized"] - rows[k]["e_warp_stabilized"] for k in counted)
    total = {
        "cut_of_added_e_warp": removed / sum(added[k] for k in counted) if counted else float("nan"),
        "min_psnr_vs_colorized": min(r["psnr_vs_colorized"] for r in rows.values()),
        "clips_counted": len(counted),
    }
    return {"clips": rows, "total": total}


def speed(data: Path, weights: dict, tmp: Path, runs: int) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pipeline import make_input

    from deeperfour.pipeline.embedded import modernize

    film = make_input(data, tmp, 10)
    fps = []
    for _ in range(runs):
        t0 = time.perf_counter()
        summary = modernize(
            film, tmp / "speed.mp4", stages=["colorize", "stabilize"], weights=weights, quiet=True, resume=False
        )
        fps.append(summary["frames"] / (time.perf_counter() - t0))
    return {"frames": summary["frames"], "fps_runs": fps, "fps_end_to_end": float(np.median(fps))}


COLUMNS = {  # header: Scores.row() key
    "hue": "colorizer_hue_accuracy",
    "hue_pooled": "colorizer_hue_accuracy_pooled",
    "ab_rmse/grey": "colorizer_ab_rmse_ratio",
    "colourful/truth": "colourfulness_ratio",
    "sepia:hue": "sepia_hue_accuracy",
    "sepia:hue_pooled": "sepia_hue_accuracy_pooled",
    "sepia:ab_rmse/grey": "sepia_ab_rmse_ratio",
}


def header() -> str:
    return f"  {'':<28}" + "".join(f"{c:>19}" for c in COLUMNS)


def fmt(row: dict) -> str:
    return "".join(f"{row[k]:>19.3f}" for k in COLUMNS.values())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(Path("..") / "shared" / "data"))
    p.add_argument("--frames", type=int, default=60, help="frames per clip")
    p.add_argument("--colorizer", help="colorizer weights (default: the installed lite ones)")
    p.add_argument("--stabilizer", help="stabilizer weights (default: the installed lite ones)")
    p.add_argument("--preset", default="lite", help="colorizer preset")
    p.add_argument("--temperature", type=float, help="the lite colorizer's annealed-mean temperature")
    p.add_argument("--render-factor", type=int, help="render factor of the colour figures (default: the preset's)")
    p.add_argument("--limit", type=int, help="at most this many photos per source and clips per group (a quick look)")
    p.add_argument("--device", default="cpu", help="where the models run (cpu, cuda)")
    p.add_argument(
        "--train-sample",
        action="store_true",
        help="colour figures on the first --limit training photos per source and clips instead",
    )
    p.add_argument("--skip-flicker", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--speed-runs", type=int, default=3, help="speed: the median of this many runs")
    p.add_argument("--json", help="write every figure here")
    args = p.parse_args(argv)
    data = Path(args.data)
    if not (data / "train").is_dir():
        print(f"skipped: {data}/train is absent (run from the repository, beside ../shared)", file=sys.stderr)
        return 0
    stage = build_stage(
        "colorize", preset=args.preset, weights=args.colorizer, device=args.device, render_factor=args.render_factor
    )
    if args.temperature is not None:
        stage.options["temperature"] = args.temperature
    report: dict = {"colour": {}}
    groups = colour(data, stage, args.frames, args.limit, "train" if args.train_sample else "validation")
    for group, items in groups.items():
        print(f"== {group}")
        print(header())
        total = Scores()
        for name, s in items.items():
            total = total.merge(s)
            report["colour"].setdefault(group, {})[name] = s.row()
            print(f"  {name:<28}{fmt(s.row())}")
        report["colour"].setdefault(group, {})["all"] = total.row()
        print(f"  {'all':<28}{fmt(total.row())}")
    if args.train_sample:
        return 0
    validation = Scores()
    for group in ("validation photos", "validation clips"):
        for s in groups.get(group, {}).values():
            validation = validation.merge(s)
    v = validation.row()
    clip_ratios = {
        n: s.row()["colorizer_ab_rmse_ratio"]
        for g in ("validation clips", "other clips")
        for n, s in groups.get(g, {}).items()
    }
    worst = max(clip_ratios, key=clip_ratios.get)
    targets = {
        "hue accuracy, balanced (>= 0.55)": v["colorizer_hue_accuracy"],
        "ab RMSE / grey's, validation split (<= 0.9)": v["colorizer_ab_rmse_ratio"],
        f"ab RMSE / grey's, worst clip: {worst} (<= 1.1)": clip_ratios[worst],
        "colourfulness / truth's (>= 0.6)": v["colourfulness_ratio"],
    }
    weights = {k: w for k, w in (("colorize", args.colorizer), ("stabilize", args.stabilizer)) if w}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_flicker:
            report["flicker"] = f = flicker(data, weights, args.frames, args.limit, args.device)
            print("== flicker, validation clips")
            for name, r in f["clips"].items():
                print(f"  {name:<28}" + "  ".join(f"{k} {v:.5f}" for k, v in r.items()))
            targets["E_warp added by colorizing that the stabilizer removes (>= 0.5)"] = f["total"][
                "cut_of_added_e_warp"
            ]
            targets["PSNR of stabilized vs colorized, worst clip (>= 30 dB)"] = f["total"]["min_psnr_vs_colorized"]
        if not args.skip_speed:
            report["speed"] = s = speed(data, weights, Path(tmp), args.speed_runs)
            print("== speed, frames/s end to end: " + ", ".join(f"{x:.2f}" for x in s["fps_runs"]))
            targets[f"colorize + stabilize at 640x360, frames/s end to end, median of {len(s['fps_runs'])} (>= 12)"] = (
                s["fps_end_to_end"]
            )
    report["validation"], report["targets"] = v, targets
    print("== targets, validation split")
    for name, value in targets.items():
        print(f"  {name:<70} {value:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
