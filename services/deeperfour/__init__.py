"""DeeperFour: colorize, stabilize and cartoonize black-and-white films, in one process or on a cluster.

The package holds the runtime only (repository tools are in tools/). Subpackages:
    pipeline/      the hub: stage table, chunking, Stage objects, run_chunk, the embedded mode
    models/        the networks, their presets and weights
    video/         ffmpeg probe/decode/encode/mux, shot detection
    metrics/       temporal and quality metrics, compare videos
    train/         trainers of the three models
    distributed/   what the services share: object keys, storage, Kafka bus, job records, chunk codec
    serving/       TorchServe: the model servers' handler base and the client that calls them
    orchestrator/  gateway/  client/   the distributed services and the gRPC SDK
    v1/  torchserve/   generated protobuf/gRPC stubs (protos/)
Importing it is cheap (no torch, no gRPC) and changes nothing in the process; `modernize` loads the pipeline on
first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from deeperfour.pipeline.options import CHUNK_FRAMES

__version__ = "0.1.0"


def modernize(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    stages: str | Sequence[str] = ("colorize", "stabilize"),
    preset: str | dict[str, str] = "lite",
    weights: str | dict[str, str] | None = None,
    style: str | None = None,
    render_factor: int | None = None,
    device: str = "cpu",
    batch_size: int = 8,
    chunk_frames: int = CHUNK_FRAMES,
    codec: str | None = None,
    crf: int = 18,
    encoder_preset: str = "medium",
    pix_fmt: str | None = None,
    quiet: bool = False,
    allow_random: bool = False,
    recolor: bool = False,
    resume: bool = True,
    start: float | str | None = None,
    duration: float | str | None = None,
    frames: int | None = None,
    progress_position: int = 0,
    models: dict | None = None,
) -> dict:
    """Modernize the film `input` into `output` in this process, as `deeperfour modernize` does.

    stages: in order, a list or 'colorize,stabilize[,cartoonize][,stabilize]'.
    preset: 'lite' (the default weights) or a preset name for every stage, or {stage: preset}, e.g.
        {"colorize": "deoldify-video", "stabilize": "lai2018", "cartoonize": "cartoongan"}.
    weights: an installed name or a .safetensors path, for every stage or as {stage: weights}; None: the preset's.
    style: the CartoonGAN style of the cartoongan preset (hayao, hosoda, paprika, shinkai); other presets ignore it.
    render_factor: the colorizer's working size / 16 (None: the preset's).  device: 'cpu' or 'cuda[:N]'.
    batch_size: frames per model call of the per-frame stages.  chunk_frames: frames per chunk of one shot.
    codec, crf, encoder_preset, pix_fmt: the video encoder (None: libx264, or libvpx-vp9 for .webm; 4:2:0).
    quiet: no progress bar.  allow_random: run with untrained weights when none are installed (plumbing tests).
    recolor: colorize a film that is already in colour (otherwise it keeps its colours and colorize is skipped).
    resume: keep a work folder beside the output so that a killed or interrupted run continues where it stopped when
        called again with the same arguments; False starts afresh.
    start, duration (seconds, or 'MM:SS', 'HH:MM:SS.sss') or frames: process an excerpt; its sound is cut to match.
    A photo (JPEG, PNG, TIFF, WebP) as `input` is colorized as a still, written in the format of `output`.
    progress_position: the line of the progress bar (1 under a bar of your own).  models: a dict that keeps the loaded
        models for the next call with the same model options (pass the same dict to process many files).

    Returns the run's summary: frames, shots, cuts (frame and timecode), seconds, fps overall and per stage, presets,
    notes. Bad input raises
    `deeperfour.errors.DeeperFourError` with a one-line message; no partial output is left behind.
    """
    options = dict(locals())  # every argument, passed on as it is
    from deeperfour.pipeline.embedded import modernize as run

    return run(**options)
