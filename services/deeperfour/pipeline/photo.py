"""Photos: a still image (JPEG, PNG, TIFF 8/16 bit, WebP; video/images.py) through the per-frame stages.

The temporal stages (stabilize) do not apply to a single image and are left out. The colorizer works at a render
size suited to a still, larger than for film frames: render factor PHOTO_RENDER_FACTOR, or the preset's own when that
is higher (--render-factor as for films). A 16-bit image keeps its full-precision lightness: the colours come from the
8-bit result and are put onto the source's own luma. The result is written in the format of the output's extension,
through a temporary file beside it, and read back before it replaces the output.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from deeperfour.errors import InputError, OutputError
from deeperfour.models import registry
from deeperfour.pipeline import options, signals, table
from deeperfour.pipeline.embedded import keep_colour, load_stages, say
from deeperfour.pipeline.runner import run_chunk
from deeperfour.video import colour, images, workdir

PHOTO_RENDER_FACTOR = 24  # a 384 px square's area for the lite colorizer (films: 12, 192 px)


def still_stages(stages: list[str]) -> list[str]:
    """The stages that apply to one image: the stateless ones, in order."""
    kept = [s for s in stages if not table.info(s).stateful]
    kept = [s for k, s in enumerate(kept) if k == 0 or s != kept[k - 1]]
    if not kept:
        raise InputError(f"--stages {','.join(stages)}: a photo has no motion to stabilize; add colorize or cartoonize")
    return kept


def render_factor_for(preset: registry.Preset, render_factor: int | None) -> int | None:
    """The colorizer's render factor for a still: the one asked for, else the larger of the preset's and
    PHOTO_RENDER_FACTOR."""
    if preset.stage != "colorize":
        return None
    return render_factor or max(int(preset.options.get("render_factor", 0)), PHOTO_RENDER_FACTOR)


def modernize_photo(
    input,
    output,
    *,
    stages=table.DEFAULT,
    preset="lite",
    weights=None,
    style=None,
    render_factor=None,
    device="cpu",
    allow_random=False,
    recolor=False,
    batch_size=8,
    models=None,
) -> dict:
    """Colorize (and cartoonize) the photo `input` into `output`; returns a summary like a film's. `batch_size` only
    lets a batch share the models its films loaded."""
    input, output = str(input), str(output)
    started = time.perf_counter()
    stages = table.parse(stages)
    options.check_numbers(render_factor=render_factor, batch_size=1, chunk_frames=1, device=device)
    options.stage_notes(stages)  # the same refusals as for a film
    stages = still_stages(stages)
    notes: list[str] = []
    with signals.catching() as caught:
        still = images.read(input)
        images.check_output(output)
        if Path(output).exists() and os.path.samefile(input, output):
            raise OutputError(f"{output}: output path is the input file; choose another name")
        stages = keep_colour(input, lambda: colour.still_colour_share(still.rgb), stages, recolor, notes)
        presets = [registry.get_preset(name, _pick(preset, name)) for name in stages]
        factors = [render_factor_for(p, render_factor) for p in presets]
        h, w = still.rgb.shape[:2]
        options.check_memory(w, h, presets, next(filter(None, factors), None), 1, on_cpu=device.startswith("cpu"))
        loaded = load_stages(
            stages,
            models,
            preset=preset,
            weights=weights,
            style=style,
            device=device,
            batch_size=batch_size,
            allow_random=allow_random,
        )
        pipeline = [_with_render_factor(stage, rf) for stage, rf in zip(loaded, factors)]
        caught.check()
        timings: dict[str, float] = {}
        source = torch.from_numpy(still.rgb.astype(np.float32) / still.levels).permute(2, 0, 1)[None].contiguous()
        out, _ = run_chunk(pipeline, source, [None] * len(pipeline), timings=timings)
        if still.levels > 255 and stages == ["colorize"]:
            out = _full_precision_luma(source, out)
        result = images.Still(_levels(out, still.levels, still.rgb.dtype), still.alpha)
        caught.check()
        for note in publish(output, result):
            say(notes, note)
    seconds = time.perf_counter() - started
    return {
        "kind": "photo",
        "frames": 1,
        "shots": 1,
        "cuts": [],
        "seconds": round(seconds, 3),
        "fps": round(1 / seconds, 2),
        "stages": {
            name: {"seconds": round(t, 3), "fps": round(1 / t, 2) if t else None} for name, t in timings.items()
        },
        "presets": [p.name for p in presets],
        "render_factor": next(filter(None, factors), None),
        "size": [w, h],
        "notes": notes,
    }


def _pick(preset, name: str) -> str:
    return preset.get(name, "lite") if isinstance(preset, dict) else preset


def _with_render_factor(stage, render_factor: int | None):
    """The stage with the still's render factor, sharing its model (a copy: the film's Stage stays as it was)."""
    if render_factor is None:
        return stage
    import copy

    still_stage = copy.copy(stage)
    still_stage.options = {**stage.options, "render_factor": render_factor}
    return still_stage


def _full_precision_luma(source: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    from deeperfour.models.colorspace import chroma, luma, yuv_to_rgb

    return yuv_to_rgb(luma(source), chroma(out))


def _levels(x: torch.Tensor, levels: int, dtype) -> np.ndarray:
    """(1, 3, H, W) float [0, 1] -> (H, W, 3) integers of `dtype`."""
    return x[0].permute(1, 2, 0).mul(levels).round_().clamp_(0, levels).numpy().astype(dtype)


def publish(output: str, result: images.Still) -> list[str]:
    """Write through a temporary file in a locked folder beside the output, read it back, rename it into place."""
    folder = workdir.make(Path(output).parent)
    try:
        tmp = Path(folder) / ("photo" + Path(output).suffix.lower())
        notes = images.write(tmp, result)
        try:
            back = images.read(tmp)
        except InputError as e:
            raise OutputError(f"{output}: the written image is unreadable ({e})") from None
        if back.rgb.shape != result.rgb.shape:
            raise OutputError(f"{output}: the written image reads back as {back.rgb.shape[1]}x{back.rgb.shape[0]}")
        os.replace(tmp, output)
    finally:
        workdir.remove(folder)
    return notes
