"""Make clean training photos look like what users feed the colorizer: old film.

frame_edges(rgb) puts what a film frame has around its picture onto the colour truth itself (black letterbox or
pillarbox bars, a rough dark gate edge), so the net learns that they stay neutral. film_stock(rgb) records the colour
as a film stock would: BT.601 luma, or on some pictures a stock nearer orthochromatic. old_film(grey) degrades only the
grey input: tone (gamma, contrast, lifted blacks, brightness), softness, grain, vertical scratches, dust and
vignetting. Each effect is drawn per image with its own probability and strength.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deeperfour.models.colorspace import luma


def frame_edges(
    rgb: torch.Tensor, rng: np.random.Generator, p_bars: float = 0.25, p_gate: float = 0.15
) -> torch.Tensor:
    """(B, 3, H, W) colour truth with black bars or a rough gate edge on some images (in place)."""
    B, _, H, W = rgb.shape
    for k in range(B):
        u = rng.random()
        if u < p_bars:  # letterbox (top and bottom) or pillarbox (left and right), or a bar on one side only
            side = int(rng.integers(3))
            frac = rng.uniform(0.04, 0.22)
            if side == 0:
                n = max(1, int(H * frac))
                rgb[k, :, :n] = 0
                rgb[k, :, H - n - int(rng.integers(0, 3)) :] = 0
            elif side == 1:
                n = max(1, int(W * frac))
                rgb[k, :, :, :n] = 0
                rgb[k, :, :, W - n - int(rng.integers(0, 3)) :] = 0
            else:
                n = max(1, int(H * frac))
                rgb[k, :, :n] = 0
        elif u < p_bars + p_gate:  # a dark, wavy edge a few pixels wide on one to four sides
            for edge in rng.permutation(4)[: int(rng.integers(1, 5))]:
                length = W if edge < 2 else H
                depth = rng.uniform(1, 0.06 * min(H, W)) + np.cumsum(rng.normal(0, 0.4, length))
                depth = torch.from_numpy(np.clip(depth, 0, 0.12 * min(H, W))).float()
                pos = torch.arange(H if edge < 2 else W).float()
                if edge in (1, 3):
                    pos = pos.flip(0)
                mask = pos[:, None] < depth[None, :]  # (across, along)
                if edge >= 2:
                    mask = mask.T
                rgb[k, :, mask] = rgb[k, :, mask] * float(rng.uniform(0, 0.15))
    return rgb


ORTHOCHROMATIC = (0.0, 0.4, 0.6)  # blind to red (stocks before about 1925): blue skies white, red lips dark


def film_stock(rgb: torch.Tensor, rng: np.random.Generator, p: float = 0.0) -> torch.Tensor:
    """(B, 3, H, W) colour -> (B, 1, H, W) grey: BT.601 luma, or with probability p per picture the grey of a stock
    somewhere between panchromatic and orthochromatic (the weights always sum to 1: white stays white)."""
    if p <= 0:
        return luma(rgb)
    B = rgb.shape[0]
    t = torch.from_numpy(rng.uniform(0, 1, B) * (rng.random(B) < p)).float().view(B, 1, 1, 1)
    ortho = (rgb * torch.tensor(ORTHOCHROMATIC).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return (1 - t) * luma(rgb) + t * ortho


def old_film(grey: torch.Tensor, rng: np.random.Generator, strength: float = 1.0) -> torch.Tensor:
    """(B, 1, H, W) grey in [0, 1] -> a degraded copy, clamped to [0, 1]."""
    B, _, H, W = grey.shape
    s = strength

    def per_image(lo, hi):
        return torch.from_numpy(rng.uniform(lo, hi, B)).float().view(B, 1, 1, 1)

    def chance(p):
        return torch.from_numpy(rng.random(B) < p * s).float().view(B, 1, 1, 1)

    x = grey.clamp(0, 1) ** per_image(1 - 0.35 * s, 1 + 0.45 * s)  # gamma
    x = (x - 0.5) * per_image(1 - 0.35 * s, 1 + 0.25 * s) + 0.5 + per_image(-0.08 * s, 0.08 * s)  # contrast, level
    lift = per_image(0, 0.12 * s) * chance(0.4)  # faded blacks
    x = lift + (1 - lift) * x

    sigma = rng.uniform(0, 1.4 * s, B) * (rng.random(B) < 0.6)  # softness
    x = _blur(x, sigma)

    grain = torch.from_numpy(rng.standard_normal((B, 1, H, W)).astype(np.float32))
    coarse = F.interpolate(
        torch.from_numpy(rng.standard_normal((B, 1, H // 2, W // 2)).astype(np.float32)),
        (H, W),
        mode="bilinear",
        align_corners=False,
    )
    mix = per_image(0, 1)
    x = x + per_image(0, 0.06 * s) * (mix * grain + (1 - mix) * coarse * 1.4)

    for k in np.nonzero(rng.random(B) < 0.3 * s)[0]:  # vertical scratches
        for _ in range(int(rng.integers(1, 4))):
            col = int(rng.integers(0, W))
            width = int(rng.integers(1, 3))
            x[k, :, :, col : col + width] += float(rng.choice([-1, 1]) * rng.uniform(0.15, 0.4))
    for k in np.nonzero(rng.random(B) < 0.3 * s)[0]:  # dust: small dark or bright specks
        for _ in range(int(rng.integers(1, 8))):
            r = int(rng.integers(1, 4))
            cy, cx = int(rng.integers(0, H)), int(rng.integers(0, W))
            x[k, :, max(0, cy - r) : cy + r, max(0, cx - r) : cx + r] = float(rng.choice([0.02, 0.97]))

    ys = torch.linspace(-1, 1, H).view(1, 1, H, 1)
    xs = torch.linspace(-1, 1, W).view(1, 1, 1, W)
    vignette = 1 - per_image(0, 0.35 * s) * chance(0.3) * ((xs**2 + ys**2) / 2)
    return (x * vignette).clamp(0, 1)


def _blur(x: torch.Tensor, sigma: np.ndarray) -> torch.Tensor:
    """Gaussian blur with a per-image sigma (0: unchanged), separable, 7 taps."""
    B = x.shape[0]
    t = torch.arange(-3, 4).float()
    s = torch.from_numpy(np.maximum(sigma, 1e-3)).float().view(B, 1)
    k = torch.exp(-(t[None] ** 2) / (2 * s**2))
    k = k / k.sum(1, keepdim=True)  # (B, 7); sigma ~0 gives a delta
    y = x.transpose(0, 1)  # (1, B, H, W): one group per image
    y = F.conv2d(F.pad(y, (3, 3, 0, 0), mode="replicate"), k.view(B, 1, 1, 7), groups=B)
    y = F.conv2d(F.pad(y, (0, 0, 3, 3), mode="replicate"), k.view(B, 1, 7, 1), groups=B)
    return y.transpose(0, 1)
