"""Frames/s of every model preset at 640x360 on this CPU, through the frame adapters, in each precision (a table).

    .venv/bin/python tests/bench/bench_models.py [--presets colorizer-lite,stabilizer-lite] [--threads 2]
        [--precisions fp32,bf16,int8]

Each preset runs in every precision one after the other in the same process; "speed vs fp32" is its speed against
the fp32 row of that run (the ratio to quote: the machine's load changes less within one run). A precision the
preset cannot run in (models/precision.py refuses it) gets its one-line reason instead of figures.

On a shared machine, timings depend on the load: each lite preset is timed --repeat times, the fastest run
is reported, and the header prints the load average.

Random (seeded) weights: speed does not depend on their values. Every model sees stages.MODEL_BATCH frames a call,
as in the pipeline; stabilizers run sequentially, carrying the ConvLSTM state.
"CPU ms/frame" is process CPU time (all threads): near 2x the wall time on an idle 2-core machine; a
wall time far above CPU/2 means other processes were competing for the cores (see the load average).
"GFLOP/frame" is counted by torch.utils.flop_counter during the warm-up run (convolutions and matmuls;
load-independent).
Models are channels-last, as weights.load_model prepares them for inference.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from deeperfour.errors import InputError
from deeperfour.models import precision as precisions
from deeperfour.models.cartoonizer import cartoonize
from deeperfour.models.colorizer import colorize
from deeperfour.models.registry import PRESETS, build_model
from deeperfour.models.stabilizer import stabilize_step
from deeperfour.pipeline.stages import MODEL_BATCH


def bench(name: str, width: int, height: int, frames_lite: int, frames_exact: int, repeat: int, precision: str):
    """(batch, frames timed, wall s/frame, CPU s/frame, GFLOP/frame): the fastest of `repeat` timed runs, after a
    warm-up whose work is counted."""
    preset = PRESETS[name]
    model = build_model(preset).to(memory_format=torch.channels_last)
    precisions.prepare(model, precision)  # as pipeline/stages.py does: registry.forward runs the network in it
    n = frames_exact if preset.exact else frames_lite
    g = torch.Generator().manual_seed(0)
    clip = torch.rand(n + 1, 3, height, width, generator=g)

    if preset.stage == "stabilize":

        def run(count):
            o, state = clip[0:1], None
            for t in range(1, count + 1):
                o, state = stabilize_step(model, clip[t : t + 1], o, clip[t : t + 1], clip[t - 1 : t], state)

        batch, warm = 1, 1
    else:
        batch = MODEL_BATCH
        fn = colorize if preset.stage == "colorize" else cartoonize
        arg = preset.options["render_factor" if preset.stage == "colorize" else "long_side"]

        def run(count):
            for s in range(0, count, batch):
                fn(model, clip[s : min(s + batch, count)], arg)

        warm = batch

    with FlopCounterMode(display=False) as flops:
        run(warm)
    best = (float("inf"), 0.0)
    for _ in range(1 if preset.exact else repeat):
        start, cpu = time.perf_counter(), time.process_time()
        run(n)
        best = min(best, ((time.perf_counter() - start) / n, (time.process_time() - cpu) / n))
    return batch, n, *best, flops.get_total_flops() / warm / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--frames", type=int, default=32, help="frames timed for lite presets")
    ap.add_argument("--exact-frames", type=int, default=2, help="frames timed for exact presets")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per lite preset; the fastest is reported")
    ap.add_argument("--precisions", default="fp32,bf16,int8", help="fp32 first: the others are compared with it")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = map(int, args.size.split("x"))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {width}x{height}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )
    print(
        "| preset | stage | working size | precision | batch | frames | ms/frame | speed vs fp32 | frames/s "
        "| CPU ms/frame | GFLOP/frame |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.presets.split(","):
        p = PRESETS[name]
        if p.stage == "colorize":
            s = 16 * p.options["render_factor"]
            work = f"{s}x{s}"
        elif p.stage == "cartoonize":
            work = f"long side {p.options['long_side']}"
        else:
            work = f"x{p.config.work_scale:g}"
        fp32 = None
        for precision in args.precisions.split(","):
            try:
                precisions.resolve(precision, "cpu", name)
            except InputError as e:
                print(f"| {name} | {p.stage} | {work} | {precision} | {e} |||||||", flush=True)
                continue
            batch, n, spf, cpu, gflop = bench(
                name, width, height, args.frames, args.exact_frames, args.repeat, precision
            )
            fp32 = spf if precision == "fp32" else fp32
            ratio = f"{fp32 / spf:.2f}" if fp32 else ""
            row = (
                f"| {name} | {p.stage} | {work} | {precision} | {batch} | {n} | {spf * 1000:.1f} | {ratio} "
                f"| {1 / spf:.2f} | {cpu * 1000:.1f} | {gflop:.2f} |"
            )
            print(row, flush=True)


if __name__ == "__main__":
    main()
