"""Embedded pipeline benchmark: prints figures, asserts nothing.

    python tests/bench/bench_pipeline.py [--data ../shared/data] [--clip FILE]

1. pipeline efficiency: modernize() frames/s vs the same stages one after the other on frames already in memory
   (target >= 95 %; above 100 % when the pipeline's stages, each in a thread, use the cores better), and
   its ceiling on this machine: the CPU time per frame of both runs (ffmpeg included) says how much of the gap is
   work the cores cannot absorb (decode, shot detection, encode), rather than missing overlap;
2. vs a DeOldify-style pipeline with the same models: dump JPEGs, process file by file, re-encode, add the audio back
   (target >= 2x), and the ceiling of that ratio: the models alone on frames in memory vs the naive pipeline;
3. lite colorize+stabilize frames/s at 640x360 (target >= 8);
4. the command a user runs, `deeperfour modernize IN -o OUT` with the default stages and weights, as a child process
   (start-up included): frames/s on the 10 s 640x360 film in the default precision (auto: fp32 for the lite presets on
   a CPU; target >= 25 frames/s end to end) and in --precision bf16, their ratio, and peak memory, all processes
   (the Python process and its ffmpeg children, sampled every 0.1 s) and the Python process's own peak RSS: at
   640x360 for the 10 s and a 60 s film (flat within 10 %), at 1920x1080 and 3840x2160 on --memory-frames frames
   (targets 0.8 / 1.5 / 4 GB).

Every figure in one run, so ratios compare like with like; the header says what else ran on the machine (load average).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from deeperfour import settings
from deeperfour.pipeline.embedded import modernize
from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
from deeperfour.pipeline.runner import run_chunk
from deeperfour.pipeline.stages import build_stages
from deeperfour.video.io import ffmpeg_exe, read_frames
from deeperfour.video.probe import probe

STAGES = ["colorize", "stabilize"]
OPTS = dict(batch_size=8, allow_random=True)


def ff(*args):
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def make_input(data: Path, tmp: Path, seconds: float, size: str = "640x360") -> Path:
    """A grey film with sound: a shared B&W film looped to `seconds` and scaled to `size`, else a generated clip."""
    out = tmp / f"in_{seconds}s_{size}.mp4"
    width, height = size.split("x")
    film = data / "bw_film" / "winter_scenes_in_holland.mp4"
    video = (
        ["-stream_loop", "-1", "-i", film] if film.exists() else ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24"]
    )
    ff(
        *video,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        seconds,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-vf",
        f"scale={width}:{height},hue=s=0,fps=24",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        out,
    )
    return out


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the ffmpeg processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def in_memory_fps(src: Path, chunk_frames: int = 16) -> tuple[float, float]:
    """The same stages and chunking on frames decoded beforehand (no I/O in the timed part): frames/s, CPU s/frame."""
    info = probe(src)
    frames = list(read_frames(str(src), info))
    stages = build_stages(STAGES, **OPTS)
    states = [None] * len(stages)
    t0, c0 = time.perf_counter(), cpu_seconds()
    for i in range(0, len(frames), chunk_frames):
        out, states = run_chunk(stages, frames_to_tensor(frames[i : i + chunk_frames]), states)
        tensor_to_frames(out)
    return len(frames) / (time.perf_counter() - t0), (cpu_seconds() - c0) / len(frames)


def deoldify_style(src: Path, out: Path, tmp: Path) -> float:
    """Frames through the disk, one file at a time, as DeOldify's video pipeline does."""
    info = probe(src)
    t0 = time.perf_counter()
    raw, done = tmp / "raw", tmp / "done"
    raw.mkdir()
    done.mkdir()
    ff("-i", src, "-qscale:v", "2", raw / "%05d.jpg")
    stages = build_stages(STAGES, **OPTS)
    states = [None] * len(stages)
    for path in sorted(raw.iterdir()):
        frame = np.asarray(Image.open(path).convert("RGB"))
        y, states = run_chunk(stages, frames_to_tensor([frame]), states)
        Image.fromarray(tensor_to_frames(y)[0]).save(done / path.name, quality=95)
    rate = f"{info.fps.numerator}/{info.fps.denominator}"
    silent = tmp / "silent.mp4"
    ff("-framerate", rate, "-i", done / "%05d.jpg", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", silent)
    ff("-i", silent, "-i", src, "-map", "0:v", "-map", "1:a?", "-c", "copy", out)
    return info.frame_count / (time.perf_counter() - t0)


def run_command(src: Path, out: Path, *extra: str) -> dict:
    """`deeperfour modernize SRC -o OUT` as a user runs it (a child process, default stages and weights): wall
    seconds from start to exit, frames/s over that, peak memory of the process tree (sampled) and of Python alone."""
    import psutil

    summary = out.with_suffix(".json")
    cmd = [sys.executable, "-m", "deeperfour", "modernize", str(src), "-o", str(out), "--quiet", "--no-resume"]
    t0 = time.perf_counter()
    proc = psutil.Popen([*cmd, "--summary-json", str(summary), *extra])
    tree_peak, python_peak = 0, 0
    while proc.poll() is None:
        try:
            rss = [p.memory_info().rss for p in [proc, *proc.children(recursive=True)]]
        except psutil.Error:  # a child ended while being read
            continue
        tree_peak, python_peak = max(tree_peak, sum(rss)), max(python_peak, rss[0])
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    frames = json.loads(summary.read_text())["frames"]
    return {
        "frames": frames,
        "seconds": round(seconds, 1),
        "fps": round(frames / seconds, 2),
        "peak_mb_all_processes": round(tree_peak / 2**20),
        "peak_mb_python": round(python_peak / 2**20),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--seconds", type=int, default=10, help="length of the clip for figures 1-3")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--memory-frames", type=int, default=64, help="frames of the 1080p and 4K clips for memory")
    ap.add_argument("--long-seconds", type=int, default=60, help="the longer 640x360 film for flat memory")
    args = ap.parse_args()
    threads = settings.current().threads  # build_stage gives torch as many
    figures: dict = {"threads_per_stage": threads, "load_average_at_start": round(os.getloadavg()[0], 1)}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = make_input(args.data, tmp, args.seconds)
        info = probe(src)
        figures["clip"] = f"{info.width}x{info.height}, {info.frame_count} frames"
        c0 = cpu_seconds()
        s = modernize(src, tmp / "out.mp4", stages=STAGES, quiet=True, **OPTS)
        pipeline_cpu = (cpu_seconds() - c0) / s["frames"]  # model loading included: < 1 % here
        figures["pipeline_fps"] = s["fps"]
        figures["stage_fps"] = {k: v["fps"] for k, v in s["stages"].items()}
        fps, memory_cpu = in_memory_fps(src)
        figures["in_memory_fps"] = round(fps, 2)
        figures["efficiency_pct"] = round(100 * s["fps"] / fps, 1)
        cores = len(os.sched_getaffinity(0))
        figures["cpu_ms_per_frame"] = {
            "pipeline": round(1000 * pipeline_cpu, 1),
            "in_memory": round(1000 * memory_cpu, 1),
            "cores": cores,
        }
        # even with perfect overlap the pipeline needs its CPU time spread over the cores: no faster than that
        figures["efficiency_ceiling_pct"] = round(100 * min(1.0, cores / (pipeline_cpu * fps)), 1)
        figures["deoldify_style_fps"] = round(deoldify_style(src, tmp / "naive.mp4", tmp), 2)
        figures["speedup_vs_deoldify_style"] = round(s["fps"] / figures["deoldify_style_fps"], 2)
        # what a pipeline with free decode/encode would reach: the models' own share of the naive pipeline's time
        figures["speedup_ceiling_in_memory"] = round(figures["in_memory_fps"] / figures["deoldify_style_fps"], 2)
        # 4. the command a user runs
        bf16 = run_command(src, tmp / "cmd_bf16.mp4", "--precision", "bf16")
        auto = run_command(src, tmp / "cmd_auto.mp4")
        figures["command_640x360_bf16"] = bf16
        figures["command_640x360_default"] = auto
        figures["command_speedup_default_vs_bf16"] = round(auto["fps"] / bf16["fps"], 2)
        longer = make_input(args.data, tmp, args.long_seconds)
        figures[f"command_640x360_{args.long_seconds}s"] = run_command(longer, tmp / "cmd_long.mp4")
        figures[f"memory_growth_pct_{args.long_seconds}s_vs_{args.seconds}s"] = round(
            100
            * (
                figures[f"command_640x360_{args.long_seconds}s"]["peak_mb_all_processes"]
                / auto["peak_mb_all_processes"]
                - 1
            ),
            1,
        )
        for size in ("1920x1080", "3840x2160"):
            big = make_input(args.data, tmp, args.memory_frames / 24, size)
            figures[f"command_{size}"] = run_command(big, tmp / f"cmd_{size}.mp4")
        figures["load_average_at_end"] = round(os.getloadavg()[0], 1)
    for k, v in figures.items():
        print(f"{k:28s} {v}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
