"""colorize(): DeOldify's full-frame path around a colorizer model (../shared/specs/README.md §5a).

Per frame: uint8 RGB -> PIL BILINEAR stretch to a (16*render_factor)^2 square -> grey ('LA' -> 'RGB')
-> ImageNet normalisation -> model (batched) -> denormalise, clamp, uint8 (truncating) -> PIL BILINEAR
back to (W, H) -> OpenCV YUV: keep the source's Y, take U and V from the render.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from deeperfour.models import registry
from deeperfour.models.colorspace import chroma_at_luma, luma, yuv_to_rgb
from deeperfour.models.mobileunet import MobileUnet, render_size

BAND_ROWS = 256  # rows per step of the full-resolution colour work (a 4K frame's 100 MB of temporaries become 12)
# Near-black luma (CIELAB L below about 3 to 11) fades to grey: scan bars, crushed shadows and gate edges carry no
# colour a viewer could see in the source, and the net's colour bleeds into them from the picture beside them. It is
# judged on the pixel and on its colour cell's mean luma, so film grain in a black bar stays grey too.
BLACK_TOE = (0.04, 0.12)

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def frames_to_u8(frames: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float [0, 1] -> (B, H, W, 3) uint8, rounded."""
    u8 = frames.mul(255).round_().clamp_(0, 255).to(torch.uint8)
    return u8.permute(0, 2, 3, 1).contiguous().numpy()  # contiguous: PIL and OpenCV copy strided arrays


def u8_to_frames(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float32 [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().float().div_(255)


def model_input(rgb: np.ndarray, size: int) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, size, size) normalised grey, as DeOldify feeds its generator."""
    img = Image.fromarray(rgb).resize((size, size), Image.BILINEAR).convert("LA").convert("RGB")
    x = torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) / 255
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def model_output_to_u8(y: torch.Tensor) -> np.ndarray:
    """(3, S, S) model output -> (S, S, 3) uint8: denormalise once, clamp, truncate."""
    x = (y * IMAGENET_STD + IMAGENET_MEAN).clamp(0, 1)
    return (x * 255).permute(1, 2, 0).numpy().astype(np.uint8)


def merge_chroma(orig: np.ndarray, render: np.ndarray) -> np.ndarray:
    """Resize the (S, S, 3) render to the source's size and keep the source's luminance (OpenCV YUV)."""
    h, w = orig.shape[:2]
    color = np.asarray(Image.fromarray(render).resize((w, h), Image.BILINEAR))
    yuv = cv2.cvtColor(orig, cv2.COLOR_RGB2YUV)
    yuv[..., 1:] = cv2.cvtColor(color, cv2.COLOR_RGB2YUV)[..., 1:]
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


def colorize(model: nn.Module, frames: torch.Tensor, render_factor: int, temperature: float = 0.6) -> torch.Tensor:
    """(B, 3, H, W) float32 RGB [0, 1] on CPU -> colorized frames, same shape, float32 [0, 1] on CPU (8-bit levels)."""
    if isinstance(model, MobileUnet):
        return colorize_lab(model, frames, render_factor, temperature)
    size = 16 * render_factor
    src = frames_to_u8(frames)  # (B, H, W, 3)
    x = torch.stack([model_input(f, size) for f in src])  # (B, 3, S, S)
    y = registry.forward(model, x).cpu()
    return u8_to_frames(np.stack([merge_chroma(f, model_output_to_u8(r)) for f, r in zip(src, y)]))


def black_toe(y: torch.Tensor) -> torch.Tensor:
    """Weight of the colour at luma y: 0 up to BLACK_TOE[0], 1 from BLACK_TOE[1], smooth between."""
    t = ((y - BLACK_TOE[0]) / (BLACK_TOE[1] - BLACK_TOE[0])).clamp(0, 1)
    return t * t * (3 - 2 * t)


def colorize_lab(model: MobileUnet, frames: torch.Tensor, render_factor: int, temperature: float) -> torch.Tensor:
    """The lite colorizer's path: the frame's grey, resized to the render size (aspect kept), gives a distribution
    over (a, b) per colour cell (a pixel at half that size); its annealed mean becomes YUV chroma at the cell's luma
    (colorspace.chroma_at_luma), which is upsampled and put onto the source's full-resolution luma. Both the cell's
    and the pixel's luma pass the black toe."""
    H, W = frames.shape[-2:]
    grey = F.interpolate(luma(frames), render_size(H, W, render_factor), mode="bilinear", antialias=True)
    ab = model.colors(registry.forward(model, grey), temperature).cpu()
    cell_luma = F.adaptive_avg_pool2d(grey, ab.shape[-2:])
    uv = chroma_at_luma(cell_luma, ab) * black_toe(cell_luma)
    out = torch.empty_like(frames)
    for k in range(len(frames)):  # full-size work one frame, and a band of rows, at a time: memory stays small
        uv_full = F.interpolate(uv[k : k + 1], (H, W), mode="bilinear")[0]
        for top in range(0, H, BAND_ROWS):
            rows = slice(top, top + BAND_ROWS)
            y = luma(frames[k, :, rows])
            out[k, :, rows] = yuv_to_rgb(y, uv_full[:, rows] * black_toe(y))
    return out.mul_(255).round_().div_(255)
