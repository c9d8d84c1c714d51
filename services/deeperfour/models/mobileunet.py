"""The lite colorizer: DeOldify's U-Net decoder over an ImageNet-pretrained MobileNetV2 encoder, predicting a
distribution over quantized CIELAB (a, b) colours per pixel (Zhang et al. 2016) instead of one colour.

    encoder   MobileNetV2 (models/mobilenet.py), taps at strides 2, 4, 8, 16 and its 1280-wide head at 32
    middle    1x1 reduction of the head, then one DeOldify conv unit
    decoder   DeOldify's wide U-Net blocks (pixel-shuffle up with blur, BN on the skip, spectral conv unit),
              self-attention in the second block, from stride 32 up to stride 2
    head      1x1 conv to one logit per (a, b) bin, at half the render size

A regression to one colour per pixel is pulled to the average of the colours a grey value could have: brown-grey.
A distribution keeps the alternatives apart, and its annealed mean (softmax of logits / T, T < 1) picks a vivid,
likely colour; T trades saturation against the risk of a confidently wrong colour (see colors()).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deeperfour.models.deoldify import ConvUnit, UnetBlockWide, spectral_conv
from deeperfour.models.mobilenet import TAP_CHANNELS, MobileNetV2, to_input

AB_STEP = 10.0  # grid spacing of the (a, b) bins, as Zhang et al.
AB_RANGE = 110.0  # grid from -110 to 110: covers the sRGB gamut


@dataclass(frozen=True)
class MobileUnetConfig:
    widths: tuple[int, ...] = (128, 96, 64, 32)  # decoder outputs at strides 16, 8, 4, 2
    middle: int = 256
    self_attention: bool = True  # in the second decoder block (stride 8)


def ab_grid() -> tuple[torch.Tensor, torch.Tensor]:
    """(bins (Q, 2) a, b centres; index (G, G) grid cell -> bin index or -1).

    A grid point is a bin when some sRGB colour lies within one step of it in a and b, so every in-gamut colour
    has all four of its bilinear neighbours among the bins."""
    from deeperfour.models.colorspace import rgb_to_lab

    levels = torch.linspace(0, 1, 33)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1, 1)
    ab = rgb_to_lab(rgb)[1:].reshape(2, -1).T  # (N, 2)
    n = int(2 * AB_RANGE / AB_STEP) + 1
    centres = torch.arange(n) * AB_STEP - AB_RANGE
    near_a = (ab[:, None, 0] - centres[None]).abs() < AB_STEP  # (N, G)
    near_b = (ab[:, None, 1] - centres[None]).abs() < AB_STEP
    used = (near_a.float().T @ near_b.float()) > 0  # (G, G): a index, b index
    index = torch.full((n, n), -1, dtype=torch.long)
    index[used] = torch.arange(int(used.sum()))
    ia, ib = used.nonzero(as_tuple=True)
    return torch.stack([centres[ia], centres[ib]], 1), index


class MobileUnet(nn.Module):
    """(B, 1, H, W) luminance in [0, 1] -> (B, Q, H/2, W/2) logits over the (a, b) bins."""

    def __init__(self, config: MobileUnetConfig):
        super().__init__()
        self.config = config
        self.encoder = MobileNetV2(classes=0)
        *skips, bottom = TAP_CHANNELS
        self.middle = nn.Sequential(
            spectral_conv(bottom, config.middle, ks=1),
            nn.ReLU(),
            nn.BatchNorm2d(config.middle),
            ConvUnit(config.middle, config.middle),
        )
        blocks, x = [], config.middle
        for i, (skip, width) in enumerate(zip(reversed(skips), config.widths)):
            blocks.append(UnetBlockWide(x, skip, 2 * width, config.self_attention and i == 1))
            x = width
        self.decoder = nn.ModuleList(blocks)
        bins, index = ab_grid()
        self.register_buffer("bins", bins, persistent=False)
        self.register_buffer("grid_index", index, persistent=False)
        self.head = nn.Conv2d(x, len(bins), 1)

    # Inference in reduced precision (models/precision.py sets it) keeps the encoder float32: in bf16 it gave
    # near-black letterbox bars a trace of colour (99th-percentile chroma 3.3 instead of 2.9 on a real film), and it
    # is a small share of the work. Training's autocast (train/loop.py) is left as it is.
    float32_encoder = False

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        keep = torch.autocast(grey.device.type, enabled=False) if self.float32_encoder else contextlib.nullcontext()
        with keep:
            taps = self.encoder.features(to_input(grey.float().expand(-1, 3, -1, -1)))
        x = self.middle(taps.pop())
        for block, skip in zip(self.decoder, reversed(taps)):
            x = block(x, skip)
        return self.head(x)

    def colors(self, logits: torch.Tensor, temperature: float, block: int = 512) -> torch.Tensor:
        """(B, Q, h, w) logits -> (B, 2, h, w) (a, b): the annealed mean of the predicted distribution, `block`
        pixels at a time, so that their probabilities stay in the CPU's cache (the same numbers as all at once)."""
        b, q, h, w = logits.shape
        x = logits.float().permute(0, 2, 3, 1).reshape(-1, q)  # bins last: a plain matmul below
        bins, out = self.bins.to(x), x.new_empty(len(x), 2)
        for s in range(0, len(x), block):
            torch.mm(F.softmax(x[s : s + block] / temperature, dim=-1), bins, out=out[s : s + block])
        return out.view(b, h, w, 2).permute(0, 3, 1, 2)


def render_size(h: int, w: int, render_factor: int) -> tuple[int, int]:
    """The colorizer's working size for an (h, w) frame: the frame's aspect, the area of a (16·render_factor)²
    square, each side a multiple of 16 (at least 32)."""
    area = (16 * render_factor) ** 2
    scale = float(np.sqrt(area / (h * w)))
    return max(32, 16 * round(h * scale / 16)), max(32, 16 * round(w * scale / 16))
