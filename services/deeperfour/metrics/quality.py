"""Per-frame quality metrics: colourfulness (Hasler & Süsstrunk 2003), PSNR and SSIM (Wang et al. 2004).

Frames are uint8 RGB (H,W,3) or float arrays in [0,1]; a video's value is the mean over its frames.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _unit(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float64)


def colorfulness(frame: np.ndarray) -> float:
    """Hasler–Süsstrunk M on the 0..255 scale: rg = R−G, yb = (R+G)/2 − B,
    M = sqrt(σ_rg² + σ_yb²) + 0.3 sqrt(μ_rg² + μ_yb²). 0 for any grey image."""
    f = _unit(frame) * 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all RGB values in [0,1]."""
    return float(((_unit(a) - _unit(b)) ** 2).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over all RGB values in [0,1]; inf when identical."""
    m = mse(a, b)
    return math.inf if m == 0 else 10.0 * math.log10(1.0 / m)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with the standard 11×11 Gaussian window (σ 1.5), K1 0.01, K2 0.03, data range 1, computed per RGB
    channel over the valid region and averaged; 1.0 when identical."""
    x, y = _unit(a), _unit(b)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = 0.01**2, 0.03**2
    win = cv2.getGaussianKernel(11, 1.5)
    win = win @ win.T

    m = 5 if min(x.shape[:2]) > 10 else 0  # the valid region; tiny images keep the reflected border

    def filt(img):
        out = cv2.filter2D(img, -1, win, borderType=cv2.BORDER_REFLECT)
        return out[m : out.shape[0] - m, m : out.shape[1] - m]

    values = []
    for c in range(x.shape[-1]):
        xc, yc = x[..., c], y[..., c]
        mx, my = filt(xc), filt(yc)
        sxx = filt(xc * xc) - mx * mx
        syy = filt(yc * yc) - my * my
        sxy = filt(xc * yc) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        values.append(s.mean())
    return float(np.mean(values))


def desaturate(frame_u8: np.ndarray) -> np.ndarray:
    """The grey version of a colour frame (ITU-R BT.601 luma, as cv2), repeated on three channels."""
    g = cv2.cvtColor(np.ascontiguousarray(frame_u8), cv2.COLOR_RGB2GRAY)
    return np.repeat(g[..., None], 3, axis=-1)


def lab(frame: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an RGB frame as float32 (H, W, 3): L in [0, 100], a and b about ±110."""
    return cv2.cvtColor(_unit(frame).astype(np.float32), cv2.COLOR_RGB2Lab)


class ColourAgreement:
    """How an output's colours agree with the truth's, accumulated over frames (CIELAB):

    - hue_accuracy: of the truth's clearly coloured pixels (chroma > 15), the share the output colours too
      (chroma > 5) with a hue within 45° of the truth's, counted per 60° sector of the truth's hue and averaged
      over the sectors holding at least 0.5 % of the coloured pixels, so that each colour family counts alike
      (pooled over all pixels, warm scenes dominate: a constant sepia tint would score high);
    - hue_accuracy_pooled: the same share over all coloured pixels;
    - ab_rmse: root mean squared distance in the (a, b) plane over all pixels; ab_rmse_grey is the same for a
      grey picture (a = b = 0), the error of not colorizing at all.
    """

    SECTORS = 6

    def __init__(self):
        self.hits = np.zeros(self.SECTORS)
        self.counts = np.zeros(self.SECTORS)
        self.sq_err = self.sq_grey = 0.0
        self.pixels = 0

    def push(self, output: np.ndarray, truth: np.ndarray) -> None:
        o, t = lab(output)[..., 1:].reshape(-1, 2), lab(truth)[..., 1:].reshape(-1, 2)
        self.sq_err += float(((o - t) ** 2).sum())
        self.sq_grey += float((t**2).sum())
        self.pixels += len(t)
        coloured = np.hypot(t[:, 0], t[:, 1]) > 15
        o, t = o[coloured], t[coloured]
        hue_t = np.degrees(np.arctan2(t[:, 1], t[:, 0])) % 360
        hue_o = np.degrees(np.arctan2(o[:, 1], o[:, 0])) % 360
        diff = np.abs((hue_o - hue_t + 180) % 360 - 180)
        hit = (np.hypot(o[:, 0], o[:, 1]) > 5) & (diff <= 45)
        sector = (hue_t // (360 / self.SECTORS)).astype(int) % self.SECTORS
        self.counts += np.bincount(sector, minlength=self.SECTORS)
        self.hits += np.bincount(sector, weights=hit, minlength=self.SECTORS)

    def merge(self, other: ColourAgreement) -> ColourAgreement:
        out = ColourAgreement()
        for name in ("hits", "counts", "sq_err", "sq_grey", "pixels"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out

    def summary(self) -> dict:
        total = self.counts.sum()
        kept = self.counts >= 0.005 * total if total else np.zeros(self.SECTORS, bool)
        share = np.divide(self.hits, self.counts, out=np.zeros(self.SECTORS), where=self.counts > 0)
        rmse = math.sqrt(self.sq_err / max(self.pixels, 1))
        grey = math.sqrt(self.sq_grey / max(self.pixels, 1))
        return {
            "hue_accuracy": float(share[kept].mean()) if kept.any() else math.nan,
            "hue_accuracy_pooled": float(self.hits.sum() / total) if total else math.nan,
            "ab_rmse": rmse,
            "ab_rmse_grey": grey,
            "ab_rmse_ratio": rmse / grey if grey else math.nan,
        }
