"""Model presets: exact ports of the published models, and lite ones for CPUs (same classes, smaller configs).

    get_preset("colorize", "lite")            -> PRESETS["colorizer-lite"]
    build_model("lai2018")                    -> seeded random TransformNet, eval, float32, CPU

The weights of a preset are found and loaded by models/weights.py (`load_model`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deeperfour.errors import DeeperFourError
from deeperfour.models.cartoongan import CartoonGAN, CartoonGANConfig
from deeperfour.models.deoldify import DynamicUnet, UnetConfig
from deeperfour.models.lai import TransformNet, TransformNetConfig
from deeperfour.models.mobileunet import MobileUnet, MobileUnetConfig
from deeperfour.pipeline.table import STAGES as STAGE_TABLE

STAGES = {s.verb: s.component for s in STAGE_TABLE}  # stage verb -> component noun


@dataclass(frozen=True)
class Preset:
    name: str
    stage: str  # 'colorize' | 'stabilize' | 'cartoonize'
    exact: bool  # True: the published architecture (its checkpoints import with strict key/shape checks)
    spec: str | None  # folder under ../shared/specs with its reference vectors
    options: dict = field(default_factory=dict)  # adapter defaults, e.g. render_factor, long_side
    config: Any = field(default=None, repr=False, compare=False)  # the model's config dataclass


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("deoldify-video", "colorize", True, "deoldify_video", {"render_factor": 21}, UnetConfig()),
        # DeOldify's "stable" weights: the video preset's architecture (ColorizeStable_gen), its image default render
        Preset("deoldify-stable", "colorize", True, "deoldify_video", {"render_factor": 35}, UnetConfig()),
        Preset(
            "deoldify-artistic",
            "colorize",
            True,
            "deoldify_artistic",
            {"render_factor": 35},
            UnetConfig(backbone="resnet34", decoder="deep", nf_factor=1.5),
        ),
        # DeOldify's U-Net decoder on an ImageNet MobileNetV2 (models/mobileunet.py): renders at the frame's aspect
        # with the area of a 192 px square and predicts a distribution over (a, b) colours; their annealed mean goes
        # under the source's own full-resolution lightness.
        Preset(
            "colorizer-lite", "colorize", False, None, {"render_factor": 12, "temperature": 0.6}, MobileUnetConfig()
        ),
        Preset("lai2018", "stabilize", True, "lai_transformnet", {}, TransformNetConfig()),
        # Runs at 1/4 of the frame size; its residual is upsampled onto the full-size frame.
        Preset(
            "stabilizer-lite",
            "stabilize",
            False,
            None,
            {},
            TransformNetConfig(nf=16, blocks=2, lstm=32, work_scale=0.25),
        ),
        Preset("cartoongan", "cartoonize", True, "cartoongan", {"long_side": 450}, CartoonGANConfig()),
        Preset("cartoonizer-lite", "cartoonize", False, None, {"long_side": 360}, CartoonGANConfig(nf=16, blocks=4)),
    ]
}

_FAMILIES = {
    UnetConfig: DynamicUnet,
    TransformNetConfig: TransformNet,
    CartoonGANConfig: CartoonGAN,
    MobileUnetConfig: MobileUnet,
}


def get_preset(stage: str, name: str) -> Preset:
    """The preset `name` of `stage`; 'lite' means '<noun>-lite'. Unknown names raise one readable line."""
    if stage not in STAGES:
        raise DeeperFourError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGES)}")
    valid = [p.name for p in PRESETS.values() if p.stage == stage]
    if name == "lite":
        name = f"{STAGES[stage]}-lite"
    preset = PRESETS.get(name)
    if preset is None or preset.stage != stage:
        raise DeeperFourError(f"unknown {stage} preset {name!r}; valid: lite, {', '.join(valid)}")
    return preset


def _as_preset(preset: Preset | str) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise DeeperFourError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[preset]


@torch.no_grad()
def settle_spectral_norm(model: nn.Module, iterations: int = 10) -> None:
    """Run power iterations on every spectral-norm (u, v) pair, as training-mode forwards would.

    Freshly initialised u, v are random, so eval-mode sigma = u.W v is a random tiny scalar and the
    effective weights explode; a few iterations give the real largest singular value.
    """
    for module in model.modules():
        if hasattr(module, "weight_orig") and hasattr(module, "weight_u"):
            W = module.weight_orig
            if isinstance(module, nn.ConvTranspose2d):
                W = W.transpose(0, 1)
            W = W.reshape(W.shape[0], -1)
            u, v = module.weight_u, module.weight_v
            for _ in range(iterations):
                v.copy_(nn.functional.normalize(W.t() @ u, dim=0, eps=1e-12))
                u.copy_(nn.functional.normalize(W @ v, dim=0, eps=1e-12))


def fold_spectral_norm(model: nn.Module) -> None:
    """For inference: each spectral-norm weight becomes the plain weight W / sigma it stands for (the stored u, v;
    the same tensor, bit for bit), which an eval-mode call would otherwise recompute every time."""
    for module in model.modules():
        if hasattr(module, "weight_orig") and hasattr(module, "weight_u"):
            nn.utils.remove_spectral_norm(module)


def build_model(preset: Preset | str) -> nn.Module:
    """A deterministic (seeded) random model of the preset: eval mode, float32, CPU."""
    preset = _as_preset(preset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = _FAMILIES[type(preset.config)](preset.config)
        settle_spectral_norm(model)
    return model.float().eval()


def model_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`x` on the model's device, channels-last: oneDNN's convolutions take a faster path on this CPU."""
    return x.to(next(model.parameters()).device, memory_format=torch.channels_last)


def forward(model: nn.Module, x: torch.Tensor, *rest):
    """The one place a network runs: `x` through model_input, then the model in its precision (`model.precision`,
    set by pipeline/stages.py; float32 when unset), under no_grad. Floating-point outputs come back float32, so
    what the frame adapters do next (colour spaces, resizes, the chroma put on the source's luma) stays float32."""
    from deeperfour.models.precision import autocast

    x = model_input(model, x)
    with torch.no_grad(), autocast(getattr(model, "precision", "fp32"), x.device):
        return _float32(model(x, *rest))


def _float32(out):
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (tuple, list)):
        return type(out)(_float32(o) for o in out)
    return out
