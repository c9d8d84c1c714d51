"""Train the three lite models on the device machine and print their validation figures (`make train-gpu`).

    python tools/train_gpu.py [--data .gpu-data] [--out DIR] [--minutes 9] [--device cuda] [--smoke]

Runs the gpu-colorizer, gpu-stabilizer and gpu-cartoonizer configs (services/deeperfour/train/configs) one after
the other, each from the installed weights and within its share of --minutes (the stabilizer uses the colorizer
just trained as its per-frame process); writes <preset>.safetensors and each run's log.jsonl under --out; then runs
tests/bench/bench_quality.py (colour and flicker on the validation split; no speed) on the new weights and on the
installed ones, so the two can be compared before the new ones are installed. --data is what tools/gpu_data.py
packs (the device machine has no ../shared and no ffmpeg). --smoke: two tiny steps of each on the CPU, for the
test of this script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services"))
os.environ.setdefault("DEEPERFOUR_MODEL_STORE", str(REPO / "model_store"))  # the weights each run starts from

SHARES = {"colorizer": 0.5, "stabilizer": 0.28, "cartoonizer": 0.13}  # of --minutes; the rest: loading, figures
SMOKE = {
    "colorizer": {"batch_size": 2, "train_size": 64, "prior_batches": 1},
    "stabilizer": {"batch_size": 1, "frames": 3, "crop": 64},
    "cartoonizer": {"batch_size": 2, "crop": 64},
}
PRESETS = {"colorizer": "colorizer-lite", "stabilizer": "stabilizer-lite", "cartoonizer": "cartoonizer-lite"}


def train_all(data: Path, out: Path, minutes: float, device: str, smoke: bool) -> dict[str, Path]:
    from deeperfour.train.cli import train

    weights: dict[str, Path] = {}
    for model, share in SHARES.items():
        overrides = {"data_root": str(data), "device": device, "max_minutes": share * minutes}
        if model == "stabilizer":
            overrides["colorizer_weights"] = str(weights["colorizer"])
        if smoke:
            overrides.update(steps=2, log_every=1, checkpoint_every=1, threads=1, **SMOKE[model])
        t0 = time.monotonic()
        result = train(
            model,
            f"gpu-{model}",
            out / model,
            resume=False,
            overrides=overrides,
            export=out / f"{PRESETS[model]}.safetensors",
        )
        weights[model] = Path(result["weights"])
        print(f"{model}: {result['steps_done']} steps in {time.monotonic() - t0:.0f} s -> {weights[model]}", flush=True)
    return weights


def figures(data: Path, weights: dict[str, Path] | None, smoke: bool) -> None:
    cmd = [sys.executable, str(REPO / "tests" / "bench" / "bench_quality.py"), "--data", str(data), "--skip-speed"]
    if weights:
        cmd += ["--colorizer", str(weights["colorizer"]), "--stabilizer", str(weights["stabilizer"])]
    if smoke:
        cmd += ["--frames", "3", "--limit", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
    subprocess.run(cmd, check=True, env=env)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=".gpu-data", help="the packed training data (tools/gpu_data.py)")
    p.add_argument("--out", default=os.environ.get("OUT", "runs/gpu"), help="weights and logs (default $OUT)")
    p.add_argument("--minutes", type=float, default=9.0, help="the whole run's budget, training and figures")
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true", help="two tiny steps of each model (a test on the CPU)")
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not (data / "train").is_dir():
        print(f"{data}/train is missing: pack the data first (python tools/gpu_data.py --out {data})", file=sys.stderr)
        return 2
    weights = train_all(data, out, args.minutes, args.device, args.smoke)
    print("== validation figures, the weights just trained", flush=True)
    figures(data, weights, args.smoke)
    print("== validation figures, the installed weights", flush=True)
    figures(data, None, args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
