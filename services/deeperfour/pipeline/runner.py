"""Run the stages on one chunk of one shot: the unit of work of every mode (embedded, TorchServe, orchestrator)."""

from __future__ import annotations

import time

import numpy as np
import torch

from deeperfour.pipeline.stages import Stage
from deeperfour.pipeline.state import ShotState


def frames_to_tensor(frames) -> torch.Tensor:
    """uint8 (T, H, W, 3) RGB (array or list of arrays) -> float32 (T, 3, H, W) in [0, 1], contiguous.

    Always the same memory layout: convolutions pick kernels by strides, and their float results differ with them,
    so a layout that depended on where the frames came from would break embedded/distributed parity.
    """
    arr = np.stack(frames) if isinstance(frames, (list, tuple)) else np.asarray(frames)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """float32 (T, 3, H, W) in [0, 1] -> uint8 (T, H, W, 3); exact for tensors on 8-bit levels."""
    return x.clamp(0, 1).mul(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def run_chunk(stages: list[Stage], source: torch.Tensor, states: list[ShotState | None],
              timings: dict[str, float] | None = None) -> tuple[torch.Tensor, list[ShotState | None]]:
    """Apply `stages` in order to `source` (T, 3, H, W); states[k] belongs to stages[k] (None: the shot starts here).

    `timings`, when given, accumulates seconds per stage name.
    """
    frames, new_states = source, []
    for stage, state in zip(stages, states, strict=True):
        t0 = time.perf_counter()
        frames, state = stage(frames, source, state)
        new_states.append(state)
        if timings is not None:
            timings[stage.name] = timings.get(stage.name, 0.0) + time.perf_counter() - t0
    return frames, new_states
