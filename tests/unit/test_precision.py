"""--precision: which precision runs where, what is refused, and the fidelity of reduced precision on real frames.

Fidelity: on frames of a real old film, each preset's stage output in bf16 is within 40 dB PSNR of its float32
output (the networks alone run in bf16; colour conversions and the chroma-on-luma step stay float32). The lite presets
run with their shipped weights at the film's size; the exact presets have no shipped weights, so they run with their
seeded random weights on smaller frames (a working size of 128-160 px), and the test first checks that their output
differs from their input by far more than the bound, so that the comparison still measures the network's numbers.
"""

from __future__ import annotations

import math
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch

from deeperfour.errors import InputError
from deeperfour.models import precision
from deeperfour.models.catalog import PRESETS as PRESET_NAMES
from deeperfour.models.registry import PRESETS

FILM = Path(__file__).resolve().parents[3] / "shared" / "data" / "bw_film" / "winter_scenes_in_holland.mp4"
ALL_PRESETS = [name for names in PRESET_NAMES.values() for name in names]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """dB, for pictures in [0, 1]."""
    mse = (a.double() - b.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def test_auto_is_bf16_only_for_exact_presets_on_a_cpu_with_native_bfloat16(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    for name in ALL_PRESETS:
        assert precision.resolve("auto", "cpu", name) == ("bf16" if PRESETS[name].exact else "fp32"), name
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert precision.resolve("auto", "cpu", "deoldify-video") == "fp32"
    assert precision.resolve(None, "cpu", "colorizer-lite") == "fp32"
    assert precision.resolve("fp32", "cpu", "deoldify-video") == "fp32"
    assert precision.resolve("bf16", "cpu", "deoldify-video") == "bf16"


def test_what_cannot_run_is_refused_with_one_line():
    if not torch.ops.mkldnn._is_mkldnn_fp16_supported():
        with pytest.raises(InputError, match=r"^--precision fp16: this CPU has no float16 arithmetic; use bf16"):
            precision.resolve("fp16", "cpu", "colorizer-lite")
    for name in ALL_PRESETS:
        if name not in precision.INT8_PRESETS:
            with pytest.raises(InputError, match=rf"^--precision int8: not offered for {name} \(") as e:
                precision.resolve("int8", "cpu", name)
            assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="unknown; use auto, fp32, bf16, fp16, int8"):
        precision.resolve("fp8", "cpu", "colorizer-lite")


def test_the_command_line_choice_wins_over_the_environment(monkeypatch):
    from deeperfour import settings
    from deeperfour.cli import build_parser

    monkeypatch.setenv("DEEPERFOUR_PRECISION", "fp32")
    assert settings.load().precision == "fp32"
    assert settings.load(PRECISION="bf16").precision == "bf16"
    assert settings.load(PRECISION=None).precision == "fp32"
    args = build_parser().parse_args(["modernize", "in.mp4", "-o", "out.mp4", "--precision", "int8"])
    assert args.precision == "int8"


def test_a_stage_is_built_in_the_resolved_precision_and_says_so(monkeypatch):
    from deeperfour.pipeline.stages import build_stage

    monkeypatch.setenv("DEEPERFOUR_PRECISION", "bf16")
    stage = build_stage("stabilize")
    assert stage.model.precision == stage.options["precision"] == "bf16"
    assert build_stage("stabilize", precision="fp32").options["precision"] == "fp32"
    with pytest.raises(InputError, match="--precision int8: not offered for stabilizer-lite"):
        build_stage("stabilize", precision="int8")
    # the lite colorizer keeps its encoder float32 in reduced precision (models/mobileunet.py says why)
    assert build_stage("colorize", precision="bf16").model.float32_encoder
    assert not build_stage("colorize", precision="fp32").model.float32_encoder


@pytest.fixture(scope="module")
def film() -> torch.Tensor:
    if not FILM.exists():
        pytest.skip(f"{FILM} is absent (../shared/data is not checked out here)")
    from deeperfour.pipeline.frames import frames_to_tensor
    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe

    return frames_to_tensor([np.array(f) for f in islice(read_frames(str(FILM), probe(FILM)), 0, 96, 32)])


# (stage, preset, frame size or None for the film's own, options): the exact presets at a small working size
CASES = [
    ("colorize", "colorizer-lite", None, {}),
    ("stabilize", "stabilizer-lite", None, {}),
    ("cartoonize", "cartoonizer-lite", None, {}),
    ("colorize", "deoldify-video", (90, 160), {"render_factor": 8}),
    ("colorize", "deoldify-stable", (90, 160), {"render_factor": 8}),
    ("colorize", "deoldify-artistic", (90, 160), {"render_factor": 8}),
    ("stabilize", "lai2018", (90, 160), {}),
    ("cartoonize", "cartoongan", (90, 160), {"long_side": 160}),
]
assert sorted(c[1] for c in CASES) == sorted(ALL_PRESETS), "every preset has its fidelity case"


@pytest.mark.parametrize("stage_name, preset, size, opts", CASES, ids=[c[1] for c in CASES])
def test_bf16_output_is_within_40_db_of_fp32_on_real_frames(film, stage_name, preset, size, opts):
    import torch.nn.functional as F

    from deeperfour.pipeline.stages import build_stage

    source = F.interpolate(film[:2], size, mode="area") if size else film  # exact presets: two small frames
    frames = source
    if stage_name == "stabilize":  # the stabilizer smooths a colorized film: give it one, made in float32
        frames, _ = build_stage("colorize", precision="fp32")(source, source, None)
    stage = build_stage(stage_name, preset=preset, allow_random=True, precision="fp32")
    stage.options.update(opts)
    outputs = {}
    for p in ("fp32", "bf16"):
        precision.prepare(stage.model, p)  # what build_stage(precision=p) does, without building the model again
        outputs[p], _ = stage(frames, source, None)
    fidelity = psnr(outputs["bf16"], outputs["fp32"])
    assert fidelity >= 40
    # the network changes the frames by far more (10 dB) than bf16 changes its output: the comparison measures its
    # numbers, not frames it left alone
    assert psnr(outputs["fp32"], frames) < fidelity - 10
