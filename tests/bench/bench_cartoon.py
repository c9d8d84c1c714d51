"""Cartoonizer figures (issue 4 sets no target for it): prints figures, asserts nothing.

    .venv/bin/python tests/bench/bench_cartoon.py [--weights W] [--frames-per-clip 4] [--json F]

Frames of the three held-out colour clips (the cartoonizer trainer reads only photos and the cartoon-style set) go
through the cartoonize stage. Per clip: PSNR of the cartoon against the frame (how much content is kept), and the
colourfulness and Canny edge density of frame and cartoon, beside the same two statistics of the cartoon-style
images the model learns from (where a cartoon should move them: flat regions, few clean edges).
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CLIPS = ["baseball_vimeo.mp4", "stanley_cup_riot_scene_cuts.mp4", "asl_gesture_help.mkv"]


def edge_density(rgb: np.ndarray) -> float:
    return float((cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 100, 200) > 0).mean())


def stats(images) -> dict:
    from deeperfour.metrics.quality import colorfulness

    return {
        "colourfulness": float(np.mean([colorfulness(f) for f in images])),
        "edge_density": float(np.mean([edge_density(f) for f in images])),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="cartoonizer weights (default: the installed cartoonizer-lite)")
    p.add_argument("--frames-per-clip", type=int, default=4, help="frames 0, 25, 50, ... of each clip")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)

    from deeperfour.metrics.quality import psnr
    from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
    from deeperfour.pipeline.stages import build_stage
    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe

    stage = build_stage("cartoonize", weights=args.weights)
    style = sorted((DATA / "cartoon_style").glob("*_frames/*")) + sorted((DATA / "cartoon_style").glob("*.jpg"))
    if not style:
        print(f"skip: {DATA / 'cartoon_style'} is absent", file=sys.stderr)
        return 0
    results = {"cartoon_style_set": stats([np.asarray(Image.open(f).convert("RGB")) for f in style])}
    print(f"{'':34s} {'PSNR':>6s} {'colourfulness':>21s} {'edge density':>15s}")
    print(
        f"{'cartoon-style set':34s} {'':6s} {results['cartoon_style_set']['colourfulness']:21.1f}"
        f" {results['cartoon_style_set']['edge_density']:15.3f}"
    )
    for name in CLIPS:
        src = DATA / "color_video" / name
        if not src.exists():
            print(f"skip {name}: absent", file=sys.stderr)
            continue
        frames = list(islice(read_frames(str(src), probe(src)), 0, 25 * args.frames_per_clip, 25))
        cartoons = tensor_to_frames(stage(frames_to_tensor(frames), None, None)[0])
        row = {
            "psnr": float(np.mean([psnr(c, f) for c, f in zip(cartoons, frames)])),
            "frame": stats(frames),
            "cartoon": stats(cartoons),
        }
        results[name] = row
        print(
            f"{name:34s} {row['psnr']:6.2f} {row['frame']['colourfulness']:10.1f} → {row['cartoon']['colourfulness']:8.1f}"
            f" {row['frame']['edge_density']:7.3f} → {row['cartoon']['edge_density']:.3f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
