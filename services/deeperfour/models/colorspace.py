"""CIELAB (D65, sRGB primaries and transfer) in torch: the colour space the lite colorizer predicts in and the
quality metrics measure in. Channels first: (..., 3, H, W); RGB in [0, 1], L in [0, 100], a and b about ±110."""

from __future__ import annotations

import torch

_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
_EPS = (6 / 29) ** 3


def _mix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,...jhw->...ihw", m.to(x), x)


def _linear(srgb: torch.Tensor) -> torch.Tensor:
    srgb = srgb.clamp(0, 1)
    return torch.where(srgb > 0.04045, ((srgb + 0.055) / 1.055) ** 2.4, srgb / 12.92)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _EPS, t.clamp_min(_EPS) ** (1 / 3), t / (3 * (6 / 29) ** 2) + 4 / 29)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    xyz = _mix(_RGB_TO_XYZ, _linear(rgb)) / _WHITE.to(rgb).view(3, 1, 1)
    fx, fy, fz = _lab_f(xyz).unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Clamped to [0, 1]: colours outside the sRGB gamut are clipped per channel."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    xyz = torch.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE.to(lab).view(3, 1, 1)
    linear = _mix(torch.linalg.inv(_RGB_TO_XYZ), xyz).clamp(0, 1)
    return torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(1e-8) ** (1 / 2.4) - 0.055, 12.92 * linear)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 Y of (..., 3, H, W) RGB as (..., 1, H, W): the grey an old film is (OpenCV's and PIL's 'L')."""
    r, g, b = rgb.unbind(-3)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def yuv_to_rgb(y: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """BT.601 luma Y (..., 1, H, W) and chroma U, V (..., 2, H, W) (OpenCV's YUV, no offsets) -> RGB, clamped."""
    u, v = uv.unbind(-3)
    y = y.squeeze(-3)
    r, b = y + v / 0.877, y + u / 0.492
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], dim=-3).clamp(0, 1)


def chroma(rgb: torch.Tensor) -> torch.Tensor:
    """OpenCV's YUV chroma U, V (no offsets) of (..., 3, H, W) RGB."""
    y = luma(rgb).squeeze(-3)
    r, _, b = rgb.unbind(-3)
    return torch.stack([0.492 * (b - y), 0.877 * (r - y)], dim=-3)


def grey_lightness(y: torch.Tensor) -> torch.Tensor:
    """CIELAB L of a grey whose R = G = B = y: rgb_to_lab's L in closed form (each row of _RGB_TO_XYZ sums to the
    white's component, so X/Xn = Y/Yn = Z/Zn = the linear grey)."""
    return 116 * _lab_f(_linear(y)) - 16


def chroma_at_luma(y: torch.Tensor, ab: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """The YUV chroma of the colour with CIELAB (a, b) = `ab` whose BT.601 luma is `y`, (..., 2, H, W).

    A black-and-white film keeps its own luma; the colour it stands for has the predicted (a, b) and whatever
    lightness gives that luma, found by a few fixed-point steps on L (each corrects L by the lightness gap between
    the wanted luma and the luma it got)."""
    target = grey_lightness(y)
    L = target
    for _ in range(iterations):
        got = luma(lab_to_rgb(torch.cat([L, ab], dim=-3)))
        L = (L + target - grey_lightness(got)).clamp(0, 100)
    return chroma(lab_to_rgb(torch.cat([L, ab], dim=-3)))
