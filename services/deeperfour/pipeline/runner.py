"""`run_chunk`: the one place that drives a chunk of one shot through the stages, in every mode.

A backend applies one stage. In process (the embedded mode), `in_process` calls the Stage object on tensors; in the
orchestrator, `deeperfour.serving.client.TorchServeBackend` calls the stage's model server on object keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

# backend(k, stage, frames, source, state) -> (frames, state): stage k of the list applied to `frames`
Backend = Callable[[int, Any, Any, Any, Any], tuple[Any, Any]]


def in_process(k: int, stage, frames, source, state):
    """The embedded mode's backend: `stage` is a Stage object; frames are tensors, states ShotStates."""
    return stage(frames, source, state)


def run_chunk(
    stages: Sequence, chunk, states: Sequence, backend: Backend = in_process, timings: dict[str, float] | None = None
) -> tuple[Any, list]:
    """Apply `stages` in order to `chunk` (the source frames of one shot); states[k] belongs to stages[k] (None: the
    shot starts here, or the stage carries none). Returns the last stage's frames and every stage's new state.

    `timings`, when given, accumulates seconds per stage name.
    """
    frames, new_states = chunk, []
    for k, (stage, state) in enumerate(zip(stages, states, strict=True)):
        frames, state = run_stage(k, stage, frames, chunk, state, backend, timings)
        new_states.append(state)
    return frames, new_states


def run_stage(
    k: int, stage, frames, source, state, backend: Backend = in_process, timings: dict[str, float] | None = None
) -> tuple[Any, Any]:
    """Stage k of a pipeline on `frames` (the output of stage k - 1, or `source` for the first): (frames, state).
    The embedded mode calls it from its own threads, so that its stages can work side by side."""
    t0 = time.perf_counter()
    frames, state = backend(k, stage, frames, source, state)
    if timings is not None:
        name = getattr(stage, "name", stage)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
    return frames, state
