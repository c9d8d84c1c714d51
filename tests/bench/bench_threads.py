"""Torch threads per stage and how idle ones wait, and the spectral-norm fold: prints figures, asserts nothing.

    python tests/bench/bench_threads.py [--data ../shared/data] [--runs 1] [--size 640x360] [--seconds 10]

1. `deeperfour modernize` on the 10 s 640x360 film (bench_pipeline.make_input; --size, --seconds for another) as a
   child process, wall seconds, with one torch thread a stage (the default: the stages run side by side) and with
   two under each OpenMP wait setting, alone and beside one busy process (`python -c "while True: pass"`);
2. the lite colorize Stage on 8 frames of 640x360, ms a frame (best of 5, interleaved, one process): weights folded
   at load (weights.load_model) against spectral norm recomputed at every call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

SETTINGS = {  # GOMP_SPINCOUNT wins over OMP_WAIT_POLICY in libgomp
    "1 thread a stage (default)": {"DEEPERFOUR_THREADS": "1"},
    "2, OMP_WAIT_POLICY=PASSIVE": {"DEEPERFOUR_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "2, GOMP_SPINCOUNT=3000": {"DEEPERFOUR_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"},
    "2, GOMP_SPINCOUNT=300000": {"DEEPERFOUR_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "300000"},
    "2, OMP_WAIT_POLICY=ACTIVE": {"DEEPERFOUR_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"},
}


def command_seconds(src: Path, out: Path, env: dict) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "deeperfour", "modernize", str(src), "-o", str(out), "--quiet", "--no-resume"]
    subprocess.run(cmd, env={**os.environ, **env}, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def fold_ms_per_frame() -> dict:
    import torch

    from deeperfour.models import weights
    from deeperfour.pipeline.stages import build_stage

    stages = {"folded": build_stage("colorize")}
    with mock.patch.object(weights, "fold_spectral_norm", lambda model: None):
        stages["recomputed"] = build_stage("colorize")
    x = torch.rand(8, 3, 360, 640)
    for stage in stages.values():
        stage(x, x, None)  # warm-up
    times: dict = {name: [] for name in stages}
    for _ in range(5):  # interleaved, so that a change of the shared CPU's speed hits both alike
        for name, stage in stages.items():
            times[name].append(_timed(stage, x))
    return {name: min(t) / 8 * 1000 for name, t in times.items()}


def _timed(stage, x) -> float:
    t0 = time.perf_counter()
    stage(x, x, None)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--runs", type=int, default=1, help="runs of each setting alone")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pipeline import make_input

    print(f"load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        src = make_input(args.data, Path(d), args.seconds, args.size)
        print(f"film {args.size}, {args.seconds:g} s")
        for label, env in SETTINGS.items():
            alone = [command_seconds(src, Path(d) / "out.mp4", env) for _ in range(args.runs)]
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                busy = command_seconds(src, Path(d) / "out.mp4", env)
            finally:
                hog.kill()
            print(f"{label:36s} alone {', '.join(f'{s:.1f}' for s in alone)} s   beside a busy process {busy:.1f} s")
    fold = fold_ms_per_frame()
    print(f"lite colorize Stage: folded {fold['folded']:.1f} ms/frame, recomputed {fold['recomputed']:.1f} ms/frame")


if __name__ == "__main__":
    main()
