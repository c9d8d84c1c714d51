"""Temporal consistency metrics: E_warp (Lai et al. 2018) and CDC (flow-free flicker).

Definitions are fixed by DESIGN.md §7 so that numbers stay comparable:

E_warp, for one pair of consecutive frames (t-1, t) of the *evaluated* video V, with optical flow computed on
the *input* film frames I:

    fw  = DIS flow from I_{t-1} to I_t   (for a pixel x of frame t-1, x + fw(x) is where it is in frame t)
    bw  = DIS flow from I_t   to I_{t-1}
    bw~ = bw sampled at x + fw(x)        (the backward flow brought back to frame t-1's grid)
    occluded(x) = |fw + bw~|² > 0.01 (|fw|² + |bw~|²) + 0.5                 (forward-backward check)
                ∪ |∂x fw|² + |∂y fw|² > 0.01 |fw|² + 0.002                  (motion boundary)
                ∪ x + fw(x) falls outside the frame                        (no content to compare with)
    warp(V_t)(x) = V_t(x + fw(x))       (V_t warped back onto frame t-1, bilinear)
    M = not occluded, the same mask on the three channels
    E_pair = Σ M (warp(V_t) − V_{t-1})² / Σ M          (V in [0,1] RGB; the sum runs over pixels and channels,
                                                         so this is the mean squared error per channel value)

E_warp of a video is the mean of E_pair over every pair (t-1, t) that lies within one shot (no pair straddles a
cut). Flow runs on grey uint8 input frames with cv2.DISOpticalFlow_create(DISOPTICAL_FLOW_PRESET_MEDIUM).
Flow derivatives ∂x, ∂y are central differences (numpy.gradient), summed over both flow components.

CDC: per-channel 256-bin histograms of the evaluated frames (normalised to sum 1); Jensen–Shannon divergence
(log base 2, so each value is in [0, 1]) between frames t and t+d, averaged over R, G, B; CDC = Σ_d (1/3) ·
mean_t JSD(t, t+d) for d in {1, 2, 4}, again only over pairs within one shot.
"""

from __future__ import annotations

import cv2
import numpy as np

CDC_OFFSETS = (1, 2, 4)


def grey(frame_u8: np.ndarray) -> np.ndarray:
    """RGB uint8 (H,W,3) -> grey uint8 (H,W), the input of DIS."""
    return cv2.cvtColor(np.ascontiguousarray(frame_u8), cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """OpenCV DIS optical flow with the fixed MEDIUM preset (one instance per thread)."""

    def __init__(self):
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, a_grey: np.ndarray, b_grey: np.ndarray) -> np.ndarray:
        """Flow (H,W,2) float32 from a to b: pixel x of a moves to x + flow(x) in b."""
        return self._dis.calc(a_grey, b_grey, None)


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at x + flow(x) (bilinear, border replicated): brings frame t onto frame t-1's grid
    when `flow` is the forward flow t-1 -> t."""
    map_x, map_y = _sample_grid(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlusion_mask(fw: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Boolean (H,W), True where frame t-1's pixel has no reliable match in frame t (see module docstring)."""
    h, w = fw.shape[:2]
    bw_t = warp(bw, fw)
    fb_sum = ((fw + bw_t) ** 2).sum(-1)
    fb_mag = (fw**2).sum(-1) + (bw_t**2).sum(-1)
    inconsistent = fb_sum > 0.01 * fb_mag + 0.5
    du_dy, du_dx = np.gradient(fw[..., 0])
    dv_dy, dv_dx = np.gradient(fw[..., 1])
    grad = du_dx**2 + dv_dx**2 + du_dy**2 + dv_dy**2
    boundary = grad > 0.01 * (fw**2).sum(-1) + 0.002
    map_x, map_y = _sample_grid(fw)
    outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
    return inconsistent | boundary | outside


def warp_error_pair(prev_out: np.ndarray, out: np.ndarray, fw: np.ndarray, bw: np.ndarray) -> float | None:
    """E_pair for output frames V_{t-1}, V_t (float32 [0,1] (H,W,3)) and input flows fw (t-1->t), bw (t->t-1).

    None when every pixel is occluded (the pair does not count)."""
    keep = ~occlusion_mask(fw, bw)
    n = int(keep.sum())
    if n == 0:
        return None
    diff = warp(out, fw) - prev_out
    return float((diff[keep] ** 2).sum() / (3 * n))


def histograms(frame_u8: np.ndarray) -> np.ndarray:
    """(3, 256) per-channel histograms, each normalised to sum 1."""
    flat = frame_u8.reshape(-1, 3)
    h = np.stack([np.bincount(flat[:, c], minlength=256) for c in range(3)]).astype(np.float64)
    return h / h.sum(axis=1, keepdims=True)


def jsd(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (log2) between rows of p and q, averaged over the rows (channels)."""
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return np.where(nz, a * np.log2(np.where(nz, a, 1) / np.where(nz, b, 1)), 0).sum(axis=-1)

    return float((0.5 * kl(p, m) + 0.5 * kl(q, m)).mean())


class InputFlow:
    """Streams input frames and returns the flows (fw, bw) between each frame and its predecessor in the shot."""

    def __init__(self):
        self.flow = FlowEstimator()
        self._prev = None

    def push(self, input_u8: np.ndarray, new_shot: bool, size: tuple[int, int] | None = None):
        """size (w, h): the evaluated video's frame size, when it differs from the input's."""
        if size is not None and (input_u8.shape[1], input_u8.shape[0]) != tuple(size):
            input_u8 = cv2.resize(input_u8, tuple(size), interpolation=cv2.INTER_AREA)
        g = grey(input_u8)
        prev, self._prev = self._prev, g
        if new_shot or prev is None:
            return None
        return self.flow(prev, g), self.flow(g, prev)


class TemporalAccumulator:
    """Accumulates E_warp and CDC of one evaluated video, frame by frame, within shots.

    push(output_u8, new_shot, flows) for each frame in order; `new_shot` is True at the first frame of every
    shot (ShotDetector on the input frames); `flows` = InputFlow.push(...) for the same frame (None skips
    E_warp). `per_frame_ewarp` / `per_frame_jsd` keep, per frame, E_pair and JSD with the previous frame
    (None at shot starts), for plots.
    """

    def __init__(self):
        self.pair_errors: list[float] = []
        self.cdc_sums = {d: [0.0, 0] for d in CDC_OFFSETS}
        self.per_frame_ewarp: list[float | None] = []
        self.per_frame_jsd: list[float | None] = []
        self._prev_out = None
        self._hists: list[np.ndarray] = []  # histograms of the current shot's last max(d) frames

    def push(self, output_u8: np.ndarray, new_shot: bool, flows=None) -> None:
        out = output_u8.astype(np.float32) / 255.0
        hist = histograms(output_u8)
        if new_shot:
            self._hists = []
            self.per_frame_ewarp.append(None)
            self.per_frame_jsd.append(None)
        else:
            e = warp_error_pair(self._prev_out, out, *flows) if flows is not None else None
            if e is not None:
                self.pair_errors.append(e)
            self.per_frame_ewarp.append(e)
            self.per_frame_jsd.append(jsd(self._hists[-1], hist))
        for d in CDC_OFFSETS:
            if len(self._hists) >= d:
                self.cdc_sums[d][0] += jsd(self._hists[-d], hist)
                self.cdc_sums[d][1] += 1
        self._hists = (self._hists + [hist])[-max(CDC_OFFSETS) :]
        self._prev_out = out

    @property
    def e_warp(self) -> float | None:
        return float(np.mean(self.pair_errors)) if self.pair_errors else None

    @property
    def cdc(self) -> float | None:
        """Σ_d (1/3) · mean JSD at offset d (an offset longer than every shot contributes 0)."""
        if self.cdc_sums[1][1] == 0:
            return None
        return float(sum((s / n if n else 0.0) for s, n in self.cdc_sums.values()) / len(CDC_OFFSETS))


def _starts(shot_starts) -> set[int]:
    return set(shot_starts or []) | {0}


def e_warp(inputs, outputs, shot_starts=None) -> float | None:
    """E_warp of a whole sequence (uint8 RGB frames); shot_starts: indices of frames that start a shot."""
    flow, acc, starts = InputFlow(), TemporalAccumulator(), _starts(shot_starts)
    for i, (a, b) in enumerate(zip(inputs, outputs, strict=True)):
        new = i in starts
        acc.push(b, new, flow.push(a, new, (b.shape[1], b.shape[0])))
    return acc.e_warp


def cdc(frames, shot_starts=None) -> float | None:
    """CDC of a sequence of uint8 RGB frames."""
    acc, starts = TemporalAccumulator(), _starts(shot_starts)
    for i, f in enumerate(frames):
        acc.push(f, i in starts)
    return acc.cdc
