"""How fast `deeperfour` answers when it has no model to run: --help, every subcommand's --help, --version, an
argument error and a missing input file. Prints wall time and peak memory (RSS) per command against the targets
(0.5 s, 100 MB); asserts nothing.

    python tests/bench/bench_startup.py [--repeat 5] [--exe PATH]
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

TARGET_S, TARGET_MB = 0.5, 100

COMMANDS = [
    ["--help"],
    ["--version"],
    *[[c, "--help"] for c in ("modernize", "weights", "eval", "compare", "train")],
    *[[c, "--help"] for c in ("submit", "status", "watch", "download", "cancel")],
    *[["weights", c, "--help"] for c in ("import", "download", "list")],
    ["modernize", "film.mp4"],  # argument error: no -o
    ["modernize", "film.mp4", "-o", "out.mp4", "--crf", "soft"],
    ["modernise", "film.mp4"],
    ["modernize", "no-such-film.mp4", "-o", "out.mp4"],  # a missing input file
]


def measure(cmd: list[str], cwd: str) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per command; the median is reported")
    ap.add_argument("--exe", default=str(Path(sys.executable).with_name("deeperfour")), help="the deeperfour script")
    args = ap.parse_args()
    print(f"{args.exe}, {args.repeat} runs each, load average {os.getloadavg()[0]:.2f} at the start")
    print(f"{'command':<52} {'median s':>9} {'max s':>7} {'peak MB':>8}  exit")
    worst_s = worst_mb = 0.0
    with tempfile.TemporaryDirectory() as cwd:
        for argv in COMMANDS:
            runs = [measure([args.exe, *argv], cwd) for _ in range(args.repeat)]
            median = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            worst_s, worst_mb = max(worst_s, median), max(worst_mb, peak)
            line = " ".join(argv)
            print(f"{line:<52} {median:9.3f} {max(r[0] for r in runs):7.3f} {peak:8.1f}  {runs[0][2]}")
    met = worst_s <= TARGET_S and worst_mb <= TARGET_MB
    print(
        f"slowest median {worst_s:.3f} s (target <= {TARGET_S}), highest peak {worst_mb:.1f} MB "
        f"(target <= {TARGET_MB}): {'met' if met else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
