"""Every preset's speed on a GPU, and the pipeline's on a 1080p clip held in memory (`make bench-gpu`; prints tables).

    PYTHONPATH=services python3 tools/bench_gpu.py [--device cuda] [--presets a,b] [--budget-s 420] [--quick]

Made for the device machine, which has torch but no ffmpeg, PyAV, scenedetect or data folder: frames are synthetic
and weights are each preset's seeded random init (speed does not depend on their values). --quick: tiny frames and
one timed call each, for the test of this script on a CPU (`--device cpu --quick`).

Per preset, from source frames of --size (640x360, as tests/bench/bench_models.py on the CPU):
- model: the network alone, on the input its frame adapter gives it (its working size), already on the device:
  frames/s at batch 1 and at the best batch of 1, 2, 4, ... (a stabilizer's batch: that many shots side by side);
- adapter: the frame adapter the pipeline runs (colorize, stabilize_step, cartoonize: the network with its CPU pre-
  and post-processing), from CPU frames, at batch 1 and at the model's best batch;
each in fp32 (torch's defaults: TF32 convolutions on a GPU) and under autocast in bf16 and fp16 (bf16 only on a CPU).
Pipeline: colorize + stabilize chained as the embedded runner chains them (run_chunk on chunks of one shot, frames
from and back to uint8; the Stage objects give the network one frame per call), lite and exact presets, on a
synthetic 1080p clip with a cut.
--budget-s bounds the run: what would start after it is printed as skipped. --quick runs the pipeline in fp32 only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

PRESETS = (
    "deoldify-video",
    "deoldify-artistic",
    "colorizer-lite",
    "lai2018",
    "stabilizer-lite",
    "cartoongan",
    "cartoonizer-lite",
)
PIPELINES = {"lite": ("colorizer-lite", "stabilizer-lite"), "exact": ("deoldify-video", "lai2018")}
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
BATCHES = (1, 2, 4, 8, 16, 32, 64)


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() > self.deadline


def synthetic_clip(frames: int, height: int, width: int, cut: int | None = None, seed: int = 0) -> np.ndarray:
    """uint8 (T, H, W, 3) grey frames: a blurred random pattern drifting right, another one after `cut`."""
    out = np.empty((frames, height, width, 3), np.uint8)
    rng = np.random.default_rng(seed)
    for t in range(frames):
        if t == 0 or t == cut:
            coarse = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2), dtype=np.uint8)
            pattern = np.kron(coarse, np.ones((8, 8), np.uint8))
        shifted = np.roll(pattern, 2 * t, axis=1)[:height, :width]
        out[t] = shifted[..., None]
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def seconds_per_call(fn, device: torch.device, min_seconds: float, warmup: int = 2) -> float:
    """Wall seconds per call of `fn`, after `warmup` calls; at least 3 calls (1 with min_seconds 0) and min_seconds."""
    for _ in range(warmup):
        fn()
    sync(device)
    calls, start = 0, time.perf_counter()
    while calls < (3 if min_seconds else 1) or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    sync(device)
    return (time.perf_counter() - start) / calls


def build(name: str, device: torch.device):
    """The preset's model with its seeded random init, prepared as weights.load_model prepares it."""
    from deeperfour.models.registry import PRESETS as ALL
    from deeperfour.models.registry import build_model

    preset = ALL[name]
    return build_model(preset).to(device).to(memory_format=torch.channels_last).eval(), preset


def adapter(model, preset, quick: bool):
    """fn(frames (B, 3, H, W) on the CPU) -> frames: the preset's frame adapter, as its Stage calls it (a stabilizer
    steps from a previous output and state, as inside a shot)."""
    from deeperfour.models.cartoonizer import cartoonize
    from deeperfour.models.colorizer import colorize
    from deeperfour.models.stabilizer import stabilize_step

    options = {**preset.options, **adapter_options(preset, quick)}
    if preset.stage == "colorize":
        return lambda x: colorize(model, x, int(options["render_factor"]), float(options.get("temperature", 0.38)))
    if preset.stage == "cartoonize":
        return lambda x: cartoonize(model, x, int(options["long_side"]))
    state: dict = {}

    def step(x):
        if state.get("batch") != len(x):  # a new batch size: a first step gives the state of a running shot
            _, hc = stabilize_step(model, x, x, x, x, None)
            state.update(batch=len(x), hc=hc)
        out, _ = stabilize_step(model, x, x, x, x, state["hc"])
        return out

    return step


def network_input(model, run, frame: torch.Tensor) -> tuple:
    """The arguments the adapter `run` passes to the network for one frame (caught by a forward pre-hook)."""
    caught: list = []
    handle = model.register_forward_pre_hook(lambda module, args: caught.append(args))
    try:
        run(frame)
    finally:
        handle.remove()
    return caught[-1]


def batched(value, batch: int):
    """A batch-1 network argument (a tensor, a tuple of them, or None) repeated to `batch`, laid out as the adapter
    lays it out."""
    if isinstance(value, torch.Tensor):
        out = value.repeat(batch, *([1] * (value.dim() - 1)))
        return out.contiguous(memory_format=torch.channels_last) if out.dim() == 4 else out
    if isinstance(value, tuple):
        return tuple(batched(v, batch) for v in value)
    return value


def bench_preset(name: str, args, device: torch.device, budget: Budget) -> list[str]:
    """Table rows of one preset: one per precision."""
    model, preset = build(name, device)
    width, height = args.width, args.height
    frames = torch.from_numpy(synthetic_clip(max(BATCHES), height, width)).permute(0, 3, 1, 2).float().div_(255)
    rows = []
    for label in args.precisions:
        if budget.spent():
            rows.append(f"| {name} | | {label} | skipped: time budget spent | | | | | |")
            continue
        dtype, run = DTYPES[label], adapter(model, preset, args.quick)  # a stabilizer's state in this precision
        try:
            with torch.inference_mode(), autocast(device, dtype):
                rows.append(
                    f"| {name} | " + " | ".join(measure(model, run, frames, label, args, device, budget)) + " |"
                )
        except Exception as e:  # one preset failing in one precision must not hide the others' figures
            rows.append(f"| {name} | | {label} | error: {short(e)} | | | | | |")
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    del model
    return rows


def measure(model, run, frames, label: str, args, device: torch.device, budget: Budget) -> list[str]:
    """[working size, precision, model fps b1, best batch, model fps there, adapter fps b1, adapter fps at the best
    batch, peak GPU memory]."""
    inputs = network_input(model, run, frames[:1])
    work = "x".join(str(s) for s in inputs[0].shape[-2:])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fps: dict[int, float] = {}
    for batch in args.batches:  # up to the first batch that gains under 5 % on the best so far
        if fps and budget.spent():
            break
        x = batched(inputs, batch)
        try:
            fps[batch] = batch / seconds_per_call(lambda x=x: model(*x), device, args.min_seconds, args.warmup)
        except torch.OutOfMemoryError:
            break
        if batch > 1 and fps[batch] < 1.05 * max(f for b, f in fps.items() if b < batch):
            break
    best = max(fps, key=lambda b: fps[b])
    adapter_fps = {
        b: b / seconds_per_call(lambda b=b: run(frames[:b]), device, args.min_seconds, min(args.warmup, 1))
        for b in {1, best}
    }
    memory = f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f}" if device.type == "cuda" else "-"
    return [
        work,
        label,
        f"{fps[1]:.1f}",
        str(best),
        f"{fps[best]:.1f}",
        f"{adapter_fps[1]:.1f}",
        f"{adapter_fps[best]:.1f}",
        memory,
    ]


def pipeline_stages(kind: str, device: torch.device, quick: bool) -> list:
    """The Stage objects of a pipeline, as build_stages makes them (seeded random init instead of stored weights)."""
    from deeperfour.pipeline.stages import STAGE_CLASSES

    stages = []
    for name in PIPELINES[kind]:
        model, preset = build(name, device)
        stages.append(STAGE_CLASSES[preset.stage](model, preset, **adapter_options(preset, quick)))
    return stages


def bench_pipeline(stages: list, label: str, args, device: torch.device, clip: np.ndarray, cut: int) -> float:
    """Seconds for the stages chained on `clip` as the embedded runner chains them, chunk by chunk."""
    from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
    from deeperfour.pipeline.runner import run_chunk

    shots = [(0, cut), (cut, len(clip))]
    chunks = [(a, min(a + args.chunk, b)) for s, b in shots for a in range(s, b, args.chunk)]

    def film():
        states: list = [None] * len(stages)
        for a, b in chunks:
            if a in (s for s, _ in shots):
                states = [None] * len(stages)
            out, states = run_chunk(stages, frames_to_tensor(clip[a:b]), states)
            tensor_to_frames(out)

    with autocast(device, DTYPES[label]):
        run_chunk(stages, frames_to_tensor(clip[: min(2, cut)]), [None] * len(stages))  # first calls: set-up
        sync(device)
        start = time.perf_counter()
        film()
        sync(device)
    return time.perf_counter() - start


def adapter_options(preset, quick: bool) -> dict:
    """--quick: tiny working sizes (an exact colorizer renders at 336-560 px whatever the frame size)."""
    tiny = {"render_factor": 2, "long_side": 64}
    return {k: v for k, v in tiny.items() if quick and k in preset.options}


def header(device: torch.device) -> str:
    text = f"torch {torch.__version__}, python {sys.version.split()[0]}, device {device}"
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        tf32 = getattr(torch.backends.cudnn, "allow_tf32", "?"), getattr(torch.backends.cuda.matmul, "allow_tf32", "?")
        text += (
            f": {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability {props.major}.{props.minor}, "
            f"cuDNN {torch.backends.cudnn.version()}, TF32 convolutions {tf32[0]}, TF32 matmul {tf32[1]}"
        )
    else:
        text += f", {torch.get_num_threads()} threads, {os.cpu_count()} CPUs"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/bench_gpu.py", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="lite, exact")
    parser.add_argument("--size", default="640x360", help="source frames of the per-preset table")
    parser.add_argument("--film-size", default="1920x1080", help="frames of the pipeline's clip")
    parser.add_argument("--film-frames", type=int, default=48)
    parser.add_argument("--chunk", type=int, default=16, help="frames per chunk in the pipeline (the CLI's default)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="no new measurement starts after this")
    parser.add_argument("--quick", action="store_true", help="tiny frames, one call per timing (tests)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA GPU here; run with --device cpu", file=sys.stderr)
        return 1
    args.width, args.height = (int(v) for v in args.size.split("x"))
    film_w, film_h = (int(v) for v in args.film_size.split("x"))
    args.precisions = ["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"]
    args.batches, args.min_seconds, args.warmup = BATCHES, 0.3, 2
    if args.quick:
        args.width, args.height, film_w, film_h = 64, 48, 64, 48
        args.film_frames, args.chunk, args.batches, args.min_seconds, args.warmup = 6, 2, (1, 2), 0.0, 0
    budget = Budget(args.budget_s)
    print(header(device), flush=True)
    print(f"\nPresets, source frames {args.width}x{args.height} (frames/s; seeded random weights)\n")
    columns = ("preset", "working size", "precision", "model b1", "best batch", "model best", "adapter b1")
    print("| " + " | ".join((*columns, "adapter best", "GPU GiB")) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.presets.split(","):
        for row in bench_preset(name, args, device, budget):
            print(row, flush=True)
    cut = args.film_frames // 2
    clip = synthetic_clip(args.film_frames, film_h, film_w, cut=cut)
    print(f"\nPipeline: {args.film_frames} frames of {film_w}x{film_h} in memory, 2 shots, chunks of {args.chunk}\n")
    print("| stages | precision | frames | seconds | frames/s |")
    print("|---|---|---|---|---|")
    for kind in args.pipelines.split(","):
        names = f"{kind}: {' + '.join(PIPELINES[kind])}"
        stages = pipeline_stages(kind, device, args.quick)
        for label in args.precisions[: 1 if args.quick else 2]:
            if budget.spent():
                print(f"| {names} | {label} | skipped: time budget spent | | |")
                continue
            try:
                seconds = bench_pipeline(stages, label, args, device, clip, cut)
                print(f"| {names} | {label} | {len(clip)} | {seconds:.2f} | {len(clip) / seconds:.2f} |", flush=True)
            except Exception as e:
                print(f"| {names} | {label} | error: {short(e)} | | |")
        del stages
    return 0


def short(error: Exception) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())[:120]}"


if __name__ == "__main__":
    sys.exit(main())
