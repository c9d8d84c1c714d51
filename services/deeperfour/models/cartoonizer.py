"""cartoonize(): CartoonGAN's test.py path around a cartoonizer model (../shared/specs/README.md §5b).

Per frame: uint8 RGB -> long side to `long_side` (the other side int()-truncated), PIL BICUBIC -> BGR
-> [-1, 1] -> model (batched) -> crop to the resized size -> RGB uint8 (x*0.5+0.5, round half up, as
torchvision's save_image) -> PIL BICUBIC back to the source size.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from deeperfour.models import registry
from deeperfour.models.colorizer import frames_to_u8, u8_to_frames


def resized_size(w: int, h: int, long_side: int) -> tuple[int, int]:
    """(W, H) with the long side set to long_side; int() truncates the other, as test.py does."""
    ratio = w / h
    return (long_side, int(long_side / ratio)) if ratio > 1 else (int(long_side * ratio), long_side)


def model_input(rgb: np.ndarray, long_side: int) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, h, w) BGR in [-1, 1]."""
    img = Image.fromarray(rgb)
    img = img.resize(resized_size(*img.size, long_side), Image.BICUBIC)
    bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
    x = torch.from_numpy(bgr).permute(2, 0, 1).float().div(255)
    return -1 + 2 * x


def model_output_to_u8(y: torch.Tensor) -> np.ndarray:
    """(3, h, w) BGR in [-1, 1] -> (h, w, 3) uint8 RGB, rounded as save_image does."""
    rgb = y[[2, 1, 0]] * 0.5 + 0.5
    return rgb.mul(255).add(0.5).clamp(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


def cartoonize(model: nn.Module, frames: torch.Tensor, long_side: int) -> torch.Tensor:
    """(B, 3, H, W) float32 RGB [0, 1] on CPU -> cartoonized frames, same shape, float32 [0, 1] on CPU."""
    B, _, H, W = frames.shape
    x = torch.stack([model_input(f, long_side) for f in frames_to_u8(frames)])  # (B, 3, h, w)
    h, w = x.shape[-2:]
    y = registry.forward(model, x).cpu()[:, :, :h, :w]  # the net pads up to multiples of 4
    out = [model_output_to_u8(r) for r in y]
    if (h, w) != (H, W):
        out = [np.asarray(Image.fromarray(o).resize((W, H), Image.BICUBIC)) for o in out]
    return u8_to_frames(np.stack(out))
