"""Checks made on a modernize run before any work starts: number bounds, the device, every path, the stage order and
the memory the run will need. Each failure is one line (InputError/OutputError); odd but valid choices give notes.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import resource
from pathlib import Path

from deeperfour.errors import InputError, OutputError

MIN_RENDER_FACTOR, MAX_RENDER_FACTOR = 1, 64  # the colorizer's working picture: 16 to 1024 px (DeOldify used 7-45)
DEVICE = re.compile(r"cpu(:0)?|cuda(:\d+)?")
# Frames per chunk in the embedded mode. Large chunks leave the later stages idle while the first chunk fills and the
# earlier ones while the last one drains; small ones leave the queues between the stages little to absorb a slow
# frame with (tests/bench/bench_chunks.py; docs/performance.md).
CHUNK_FRAMES = 8  # --chunk-frames
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")  # --precision; models/precision.py resolves them
GB = 1 << 30

# Memory a model needs while it works on one frame, per pixel of its working picture, in bytes (peak RSS growth
# measured on a CPU with torch 2.14, one frame per call, rounded up). The working picture is the colorizer's
# (16·render_factor)² area, the stabilizer's frame, the cartoonizer's picture with its long side at `long_side`.
WORK_BYTES_PER_PIXEL = {
    "colorizer-lite": 1_400,
    "deoldify-video": 6_000,
    "deoldify-stable": 6_000,
    "deoldify-artistic": 7_000,
    "stabilizer-lite": 300,
    "lai2018": 2_300,
    "cartoonizer-lite": 1_600,
    "cartoongan": 2_600,
}
MODEL_BYTES = {"deoldify-video": 1.6 * GB, "deoldify-stable": 1.6 * GB, "deoldify-artistic": 0.5 * GB}  # others ~0.1
RUNTIME_BYTES = 0.8 * GB  # torch, ffmpeg and the process itself
CHUNKS_IN_FLIGHT = 8  # uint8: decoded and encoded queues (2 + 4), the chunk being read and the one being written


def check_numbers(*, render_factor: int | None, batch_size: int, chunk_frames: int, device: str) -> None:
    if render_factor is not None and not MIN_RENDER_FACTOR <= render_factor <= MAX_RENDER_FACTOR:
        raise InputError(
            f"--render-factor {render_factor}: use {MIN_RENDER_FACTOR} to {MAX_RENDER_FACTOR} (the colorizer works "
            f"on a picture of 16 x N px, at most {16 * MAX_RENDER_FACTOR} px)"
        )
    for flag, value in (("--batch-size", batch_size), ("--chunk-frames", chunk_frames)):
        if value < 1:
            raise InputError(f"{flag} {value}: must be at least 1")
    if not DEVICE.fullmatch(device):
        raise InputError(f"--device {device}: unknown device; use cpu, cuda or cuda:N")


def check_summary_path(path: str | None, input: str, output: str) -> None:
    """--summary-json must be writable before the film is made, and must not overwrite the input or the output."""
    if not path:
        return
    p = Path(path)
    for other, what in ((input, "input"), (output, "output")):
        if p.resolve() == Path(other).resolve():
            raise OutputError(f"--summary-json {path}: is the {what} file; choose another name")
    if p.is_dir():
        raise OutputError(f"--summary-json {path}: is a directory; give a file name")
    if not p.parent.is_dir():
        raise OutputError(f"--summary-json {path}: folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputError(f"--summary-json {path}: not writable")


def write_summary(path: str, summary: dict) -> None:
    try:
        Path(path).write_text(json.dumps(summary, indent=2) + "\n")
    except OSError as e:
        raise OutputError(f"--summary-json {path}: {e.strerror or e} (the film itself was written)") from None


def stage_notes(stages: list[str]) -> list[str]:
    """Refuse stage lists whose extra stages could only redo work; say what an unusual order will do."""
    for k, (a, b) in enumerate(itertools.pairwise(stages)):
        if a == b:
            raise InputError(f"--stages {','.join(stages)}: {a} is listed twice in a row (stage {k + 1} and {k + 2})")
    for stage in ("colorize", "cartoonize"):
        if stages.count(stage) > 1:
            why = (
                "the colorizer works from the frames' grey, so a second pass only repeats the first"
                if stage == "colorize"
                else "a second pass only cartoonizes the cartoon again"
            )
            raise InputError(f"--stages {','.join(stages)}: {stage} is listed twice; {why}: list it once")
    notes = []
    if "colorize" in stages:
        before = stages[: stages.index("colorize")]
        if "stabilize" in before:
            notes.append(
                "stabilize runs before colorize: the colorizer's own flicker comes after it and stays; "
                "the usual order is colorize,stabilize"
            )
        if "cartoonize" in before:
            notes.append(
                "cartoonize runs before colorize: the colorizer recolours the cartoon from its grey, "
                "so the cartoonizer's colours are replaced"
            )
    return notes


def memory_needed(
    width: int, height: int, presets: list, render_factor: int | None, chunk_frames: int, on_cpu: bool = True
) -> float:
    """Bytes of host memory a run needs at most: the runtime, the chunks in flight (uint8 in the queues, float32 for
    the source and each stage's output) and, when the models run on the CPU, the models and the largest working
    picture (stages run one after the other, one frame per model call). GPU memory is not estimated."""
    work, models = 0.0, 0.0
    for preset in presets:
        per_pixel = WORK_BYTES_PER_PIXEL.get(preset.name, 7_000)
        if preset.stage == "colorize":
            pixels = float(16 * int(render_factor or preset.options.get("render_factor", 21))) ** 2
        elif preset.stage == "cartoonize":
            side = int(preset.options.get("long_side", 450))
            pixels = side * side * min(width, height) / max(width, height)
        else:
            pixels = width * height
        work = max(work, per_pixel * pixels)
        models += MODEL_BYTES.get(preset.name, 0.1 * GB)
    frames = (CHUNKS_IN_FLIGHT + 4 * (1 + len(presets))) * chunk_frames * width * height * 3
    return RUNTIME_BYTES + frames + (models + work if on_cpu else 0.0)


def memory_available() -> float | None:
    """Bytes this process may still use: MemAvailable, capped by a cgroup (v2) limit and by the address space left
    under `ulimit -v`; None when unknown."""
    found = []
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            status = Path("/proc/self/status").read_text()
            used = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
        except (OSError, AttributeError, ValueError):
            used = 0
        found.append(soft - used)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            found.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    return float(min(found)) if found else None


def check_memory(
    width: int, height: int, presets: list, render_factor: int | None, chunk_frames: int, on_cpu: bool = True
) -> None:
    """`chunk_frames`: frames per chunk, at most the film's length."""
    need = memory_needed(width, height, presets, render_factor, chunk_frames, on_cpu)
    have = memory_available()
    if have is not None and need > have:
        raise InputError(
            f"this run needs about {need / GB:.1f} GB of memory and {have / GB:.1f} GB are available "
            f"({width}x{height} frames, render factor {render_factor or 'default'}, {chunk_frames} frames per chunk): "
            "lower --render-factor or --chunk-frames, or use lighter presets"
        )
