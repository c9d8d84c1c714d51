"""The number format the networks run in: `--precision auto|fp32|bf16|fp16|int8` (or DEEPERFOUR_PRECISION).

    resolve("auto", "cpu", "deoldify-video") -> "bf16" on a CPU with native bfloat16 (AVX-512 BF16 or AMX), else "fp32"
    resolve("auto", "cpu", "colorizer-lite") -> "fp32": the lite presets are faster in float32 on a CPU (below)
    resolve("auto", "cuda", ...)             -> "bf16" where the GPU has it, else "fp16"

On a CPU, auto takes bf16 for the published (exact) presets only: big convolution-bound networks, 1.4-1.7x faster
in bf16. The lite presets are small networks called on one frame at a time, where the conversions to and from bf16
at every call cost more than its convolutions save: 0.61-0.87x of their float32 speed on one and on two threads
(tests/bench/bench_models.py, docs/performance.md).

Only the networks' own layers run in reduced precision: registry.forward runs each model call under torch.autocast
and hands float32 back. The frame adapters' resizes and colour-space conversions, and the final step that puts the
predicted chroma onto the source's own luma, stay float32 (tests/unit/test_precision.py checks the fidelity).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from deeperfour.errors import InputError
from deeperfour.models.registry import PRESETS
from deeperfour.pipeline.options import PRECISIONS

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Presets offered in int8: those whose int8 output stays within 35 dB PSNR of their float32 output. None yet. Dynamic
# int8 quantizes only linear and LSTM layers, which these convolutional networks hardly have (no gain); static int8
# through torch.ao's FX graph mode does not trace them (their "same" padding depends on the input's size), and the
# export-based route needs torch.compile's C++ toolchain on the user's machine. So int8 is refused, preset by preset.
INT8_PRESETS: frozenset[str] = frozenset()
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16_cpu() -> bool:
    return any(flag in cpu_flags() for flag in CPU_BF16_FLAGS)


def resolve(precision: str | None, device: str, preset: str) -> str:
    """The concrete precision (fp32, bf16, fp16 or int8) for `preset` on `device`; one line for what cannot run."""
    precision = (precision or "auto").strip().lower()
    if precision not in PRECISIONS:
        raise InputError(f"--precision {precision}: unknown; use {', '.join(PRECISIONS)}")
    cuda = device.startswith("cuda")
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if native_bf16_cpu() and PRESETS[preset].exact else "fp32"
    if precision == "fp16" and not cuda and not torch.ops.mkldnn._is_mkldnn_fp16_supported():
        raise InputError("--precision fp16: this CPU has no float16 arithmetic; use bf16 or fp32 (or auto)")
    if precision == "int8" and preset not in INT8_PRESETS:
        raise InputError(
            f"--precision int8: not offered for {preset} (no int8 version of it keeps the output within 35 dB "
            "of float32); use bf16 or fp32 (or auto)"
        )
    return precision


def prepare(model: torch.nn.Module, precision: str) -> None:
    """Set the precision registry.forward runs `model` in. In bf16 or fp16 the weights are converted once, here:
    autocast would otherwise convert every weight at every call (a fifth of deoldify-video's time in bf16). Convert
    a float32 model only: weights converted down do not come back.

    The lite colorizer keeps float32 weights and autocast only: its encoder stays float32 (models/mobileunet.py says
    why), and with bf16 weights its decoder's normalisations gave black bars a trace of colour too."""
    model.precision = precision
    if hasattr(model, "float32_encoder"):
        model.float32_encoder = precision != "fp32"
    else:
        model.to(DTYPES.get(precision, torch.float32))


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a network call runs in: torch.autocast for bf16/fp16, nothing for fp32."""
    dtype = DTYPES.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
