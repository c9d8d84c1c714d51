"""Quality benchmark of the lite colorizer and stabilizer against the targets of issue #4 (not a timed test).

    .venv/bin/python tests/bench/bench_quality.py [--frames 60] [--colorizer W] [--stabilizer W] [--out DIR]

For each held-out colour clip (desaturated: the input, the colour original: ground truth) and each B&W film, the
first --frames frames are run through `colorize` and through `colorize,stabilize` with the embedded pipeline, then
measured with deeperfour.metrics.evaluate (the code of `deeperfour eval`):
  colorizer:  colourfulness / ground truth's (target >= 0.6), PSNR vs ground truth minus the grey input's (> 0),
              and how its chroma lines up with the truth's (chroma_corr, chroma_best_scale: see chroma_agreement)
  stabilizer: 1 - E_warp(stabilized) / E_warp(colorized) (target >= 0.5), PSNR(stabilized vs colorized) >= 30 dB
and, to read the cut against, the cut a stabilizer would show if its output were exactly as steady as the grey input
(cut_at_input_level) and, on the colour clips, as the true colour video (cut_at_truth_level): E_warp also counts
flow errors, grain and real changes of light, which no faithful output removes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
HELD_OUT = ["color_video/baseball_vimeo.mp4", "color_video/stanley_cup_riot_scene_cuts.mp4",
            "color_video/asl_gesture_help.mkv"]
FILMS = ["bw_film/a_bomb_blast_effects_1952_part.mp4", "bw_film/muybridge_buffalo_running_1883.mp4",
         "bw_film/winter_scenes_in_holland.mp4"]


def write_clip(src: Path, dst: Path, frames: int, grey: bool) -> Path:
    from deeperfour.metrics.quality import desaturate
    from deeperfour.video.io import Encoder, read_frames
    from deeperfour.video.probe import probe

    info = probe(src)
    enc = Encoder(str(dst), replace(info, frame_count=frames), audio_from=None)
    for f in islice(read_frames(str(src), info), frames):
        enc.write(desaturate(f) if grey else np.array(f))
    enc.close()
    return dst


def chroma_agreement(colorized: Path, ref: Path) -> dict:
    """How the colorizer's chroma P (YUV U, V, over all frames) lines up with the truth's G:
    chroma_corr = ΣP·G / √(ΣP² ΣG²), and chroma_best_scale s* = ΣP·G / ΣP², the factor that would bring P closest
    to G. The chroma error of s·P is below the grey input's (P = 0) only for 0 < s < 2s*, so the colorizer's own
    chroma (s = 1) can beat the grey input only where s* > 0.5: below that its colours are misplaced, not too strong."""
    import cv2

    from deeperfour.metrics.frames import read_video

    pg = pp = gg = 0.0
    for p, g in zip(read_video(colorized)[0], read_video(ref)[0]):
        p, g = (cv2.cvtColor(x, cv2.COLOR_RGB2YUV)[..., 1:].astype(np.float64) - 128 for x in (p, g))
        pg, pp, gg = pg + (p * g).sum(), pp + (p * p).sum(), gg + (g * g).sum()
    return {"chroma_corr": pg / max(np.sqrt(pp * gg), 1e-9), "chroma_best_scale": pg / max(pp, 1e-9)}


def run(args) -> dict:
    from deeperfour.metrics.evaluate import evaluate
    from deeperfour.pipeline.embedded import modernize

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v for k, v in (("colorize", args.colorizer), ("stabilize", args.stabilizer)) if v}
    results = {}
    for rel in HELD_OUT + ([] if args.colorizer_only else FILMS):
        src = DATA / rel
        if not src.exists():
            print(f"skip {rel}: absent", file=sys.stderr)
            continue
        name = src.stem
        colour_gt = rel.startswith("color_video")
        grey = write_clip(src, out / f"{name}.grey.mp4", args.frames, grey=True)
        ref = write_clip(src, out / f"{name}.ref.mp4", args.frames, grey=False) if colour_gt else None
        colorized, stabilized = out / f"{name}.colorized.mp4", out / f"{name}.stabilized.mp4"
        opts = dict(weights=weights, render_factor=args.render_factor, quiet=True)
        modernize(grey, colorized, stages=["colorize"], **opts)
        r, row = {}, {}
        if not args.colorizer_only:
            modernize(grey, stabilized, stages=["colorize", "stabilize"], **opts)
            r["stabilized"] = s = evaluate(stabilized, grey, colorized)
            row = {
                "e_warp_colorized": s["reference"]["e_warp"],
                "e_warp_stabilized": s["output"]["e_warp"],
                "e_warp_cut": 1 - s["output"]["e_warp"] / s["reference"]["e_warp"],
                "psnr_stabilized_vs_colorized": s["output"]["psnr"],
                "cdc_colorized": s["reference"]["cdc"],
                "cdc_stabilized": s["output"]["cdc"],
                "e_warp_grey_input": s["input"]["e_warp"],
                "cut_at_input_level": 1 - s["input"]["e_warp"] / s["reference"]["e_warp"],
            }
        if ref is not None:
            r["colorized"] = c = evaluate(colorized, grey, ref)
            row.update(
                colourfulness_ratio=c["output"]["colorfulness"] / c["reference"]["colorfulness"],
                psnr_colorized=c["output"]["psnr"],
                psnr_grey=c["input"]["psnr"],
                e_warp_ground_truth=c["reference"]["e_warp"],  # the metric's floor on this clip (flow errors)
            )
            row.update(chroma_agreement(colorized, ref))
            if "e_warp_colorized" in row:
                row["cut_at_truth_level"] = 1 - row["e_warp_ground_truth"] / row["e_warp_colorized"]
        results[name] = {"summary": row, "metrics": r}
        print(name, json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--colorizer", help="colorizer weights (default: the installed colorizer-lite)")
    p.add_argument("--stabilizer", help="stabilizer weights (default: the installed stabilizer-lite)")
    p.add_argument("--render-factor", type=int, help="colorizer render factor (default: the preset's)")
    p.add_argument("--out", default="/tmp/deeperfour-bench-quality")
    p.add_argument("--json", help="write every figure here")
    p.add_argument("--colorizer-only", action="store_true", help="skip the stabilizer (colour clips only)")
    args = p.parse_args(argv)
    results = run(args)
    if args.json:
        from deeperfour.metrics.cli import write_json

        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
