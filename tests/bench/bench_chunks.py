"""Frames per chunk in the embedded mode: prints figures, asserts nothing.

    python tests/bench/bench_chunks.py [--data ../shared/data] [--chunk-frames 4,8,16,32] [--rounds 3] [--size 640x360]

`deeperfour modernize` (default stages and weights) on the 10 s film of bench_pipeline.make_input as a child process,
start-up included, once with each --chunk-frames per round, the rounds one after the other so that a change of the
shared CPU's speed hits every size alike. Prints each run's frames/s and each size's median. Large chunks leave the
later stages idle while the first chunk fills and the earlier ones idle while the last one drains; small chunks leave
the queues between the stages little to absorb a slow frame with.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deeperfour.video.probe import probe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--chunk-frames", default="4,8,16,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", default="640x360")
    args = ap.parse_args()
    sizes = [int(n) for n in args.chunk_frames.split(",")]
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pipeline import make_input

    print(f"load average at start {os.getloadavg()[0]:.1f}")
    fps: dict[int, list[float]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as d:
        src = make_input(args.data, Path(d), 10, args.size)
        frames = probe(str(src)).frame_count
        for r in range(args.rounds):
            for n in sizes:
                cmd = [sys.executable, "-m", "deeperfour", "modernize", str(src), "-o", str(Path(d) / "out.mp4")]
                t0 = time.perf_counter()
                subprocess.run([*cmd, "--quiet", "--no-resume", "--chunk-frames", str(n)], check=True)
                fps[n].append(frames / (time.perf_counter() - t0))
            print(f"round {r + 1}: " + "  ".join(f"{n} frames {fps[n][-1]:.2f}" for n in sizes), flush=True)
    print(f"{args.size}, {frames} frames, frames/s median of {args.rounds}:")
    for n in sizes:
        print(f"  --chunk-frames {n:3d}  {statistics.median(fps[n]):6.2f}")


if __name__ == "__main__":
    main()
