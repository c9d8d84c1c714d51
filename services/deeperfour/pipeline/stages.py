"""The Stage interface: one object per pipeline step, shared by the CLI, the TorchServe handlers and the orchestrator.

A stage maps a chunk of frames of ONE shot, float32 (T, 3, H, W) in [0, 1], to the same shape, on 8-bit levels
(see pipeline/frames.py).

Results do not depend on how frames are grouped: a model always sees one frame per call (MODEL_BATCH). On a CPU,
oneDNN picks other convolution kernels for a batch of one than for larger batches; their float results differ in
the last bits, and the stabilizer's recurrence carried that further (up to 14 levels between --batch-size 1 and 8).
Frames under MIN_SIDE px on a side are padded for the models (edge pixels repeated) and cropped back.

Each stage's network runs in the precision build_stage resolves (models/precision.py: --precision, else
DEEPERFOUR_PRECISION, else auto); it is one of the stage's options, so it is part of what a resumed run must match.
A stage computes with threads_for(frame size) torch threads, in every mode, so that both modes give the same bits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deeperfour import settings
from deeperfour.errors import DeeperFourError, InputError
from deeperfour.models import precision as precisions
from deeperfour.models import registry
from deeperfour.models.weights import load_model
from deeperfour.pipeline import table
from deeperfour.pipeline.frames import quantize_
from deeperfour.pipeline.options import check_numbers
from deeperfour.pipeline.state import ShotState

MODEL_BATCH = 1  # frames per model call, whatever the batch size: results must not depend on the grouping
MIN_SIDE = 32  # px; the stabilizers' down-sampling needs at least this much (stabilizer-lite fails under 17 px)
TORCH_THREADS = torch.get_num_threads()  # torch's own count: the cores, or OMP_NUM_THREADS
ONE_THREAD_PIXELS = 1280 * 720  # frames up to this size run faster on one thread a stage (docs/performance.md)


def threads_for(height: int, width: int) -> int:
    """Torch threads of a stage on frames of this size: --threads or DEEPERFOUR_THREADS, else one up to
    ONE_THREAD_PIXELS and torch's own count above. On small frames a network call is many short operations, and
    threads waiting for each other at every one cost more than they give, while the embedded mode runs its stages
    side by side, a core each; large frames keep the threads busy. The float sums of a convolution depend on the
    count, so it is part of what a resumed run must match."""
    return settings.current().threads or (1 if height * width <= ONE_THREAD_PIXELS else TORCH_THREADS)


def pad_small(frames: torch.Tensor) -> torch.Tensor:
    """Frames padded at the right and bottom, edge pixels repeated, to at least MIN_SIDE px on each side."""
    h, w = frames.shape[-2:]
    return F.pad(frames, (0, max(0, MIN_SIDE - w), 0, max(0, MIN_SIDE - h)), mode="replicate")


class Stage:
    """Base: a model, its preset and the options of its frame adapter."""

    name: str = ""

    def __init__(self, model: torch.nn.Module, preset: registry.Preset, *, batch_size: int = 8, **options):
        self.model, self.preset, self.batch_size = model, preset, max(1, int(batch_size))
        self.options = {**preset.options, **{k: v for k, v in options.items() if v is not None}}

    @property
    def stateful(self) -> bool:
        return table.info(self.name).stateful

    def __call__(self, frames: torch.Tensor, source: torch.Tensor, state: ShotState | None):
        h, w = frames.shape[-2:]
        threads = threads_for(h, w)
        if torch.get_num_threads() != threads:  # process-wide, and for the calling thread
            torch.set_num_threads(threads)
        with torch.inference_mode():
            if h >= MIN_SIDE and w >= MIN_SIDE:
                return self.process(frames, source, state)
            out, state = self.process(pad_small(frames), pad_small(source), state)
            return out[..., :h, :w].contiguous(), state

    def process(self, frames, source, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.preset.name})"


class PerFrameStage(Stage):
    """Stateless: frames are processed independently, MODEL_BATCH at a time; `apply` returns 8-bit levels."""

    def process(self, frames, source, state):
        out = torch.empty(frames.shape, dtype=torch.float32)  # filled in place: no list of pieces, no cat copy
        for i in range(0, len(frames), MODEL_BATCH):
            out[i : i + MODEL_BATCH] = self.apply(frames[i : i + MODEL_BATCH])
        return out, None

    def apply(self, batch: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class ColorizeStage(PerFrameStage):
    name = "colorize"

    def apply(self, batch):
        from deeperfour.models.colorizer import colorize

        return colorize(
            self.model, batch, int(self.options["render_factor"]), float(self.options.get("temperature", 0.6))
        )


class CartoonizeStage(PerFrameStage):
    name = "cartoonize"

    def apply(self, batch):
        from deeperfour.models.cartoonizer import cartoonize

        return cartoonize(self.model, batch, int(self.options["long_side"]))


class StabilizeStage(Stage):
    """Lai et al. recurrence within a shot: O_0 = P_0, then O_t = P_t + net(P_t, O_{t-1}, I_t, I_{t-1}, h, c)."""

    name = "stabilize"

    def process(self, frames, source, state):
        from deeperfour.models.stabilizer import stabilize_step

        out = torch.empty(frames.shape, dtype=torch.float32)  # filled in place: no list of pieces, no cat copy
        last_input = last_output = hc = None
        if state is not None:
            last_input, last_output = state.get("last_input"), state.get("last_output")
            h, c = state.get("h"), state.get("c")
            hc = (h, c) if h is not None else None
        for t in range(len(frames)):
            p, i = frames[t : t + 1], source[t : t + 1]
            if last_output is None:  # first frame of the shot
                o, hc = p, None
            else:
                o, hc = stabilize_step(self.model, p, last_output, i, last_input, hc)
            out[t : t + 1] = o
            last_input, last_output = i, o  # raw, unclipped: quantize_ below works on `out`
        if last_output is None:  # no frame
            return out, state
        tensors = {"last_input": _own(last_input), "last_output": _own(last_output)}
        if hc is not None:
            tensors.update(h=hc[0], c=hc[1])
        return quantize_(out), ShotState(tensors)


def _own(t: torch.Tensor) -> torch.Tensor:
    """`t` when it is all of its storage, else a copy: a shot's state must not keep a whole chunk alive."""
    return t if t.untyped_storage().nbytes() == t.nbytes else t.clone()


STAGE_CLASSES = {cls.name: cls for cls in (ColorizeStage, StabilizeStage, CartoonizeStage)}
assert set(STAGE_CLASSES) == set(table.VERBS), "every stage of the table has its Stage class"


def build_stage(
    stage: str,
    *,
    preset: str = "lite",
    weights: str | None = None,
    style: str | None = None,
    device: str = "cpu",
    batch_size: int = 8,
    render_factor: int | None = None,
    allow_random: bool = False,
    precision: str | None = None,
) -> Stage:
    """Load the model of `stage` and wrap it; the same call in every mode. `precision`: models/precision.py's
    choices; None takes the process's setting (--precision or DEEPERFOUR_PRECISION, default auto)."""
    table.info(stage)  # one line for an unknown stage
    check_numbers(render_factor=render_factor, batch_size=batch_size, chunk_frames=1, device=device)
    check_device(device)
    spec = registry.get_preset(stage, preset)
    chosen = precisions.resolve(precision or settings.current().precision, device, spec.name)  # before loading
    model, spec = load_model(stage, preset, weights, style=style, device=device, allow_random=allow_random)
    precisions.prepare(model, chosen)  # registry.forward runs the network in it
    return STAGE_CLASSES[stage](model, spec, batch_size=batch_size, render_factor=render_factor, precision=chosen)


def check_device(device: str) -> None:
    """cpu, or a CUDA GPU that this machine has."""
    kind, _, index = device.partition(":")
    if kind != "cuda":
        return
    if not torch.cuda.is_available():
        raise DeeperFourError(f"--device {device} was asked for but no CUDA GPU is available; use --device cpu")
    count = torch.cuda.device_count()
    if index and int(index) >= count:
        raise InputError(f"--device {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")


def build_stages(names, *, preset="lite", weights=None, **options) -> list[Stage]:
    """`preset` and `weights` may be one value for every stage or a dict keyed by stage name."""

    def pick(value, name, default):
        return value.get(name, default) if isinstance(value, dict) else value

    keys = [(name, pick(preset, name, "lite"), pick(weights, name, None)) for name in names]
    cache: dict = {}  # a stage listed twice (stabilize after cartoonize) shares one model; stages hold no state
    for key in keys:
        if key not in cache:
            cache[key] = build_stage(key[0], preset=key[1], weights=key[2], **options)
    return [cache[key] for key in keys]
