"""Per-frame 'processed' versions of clips, for training the blind stabilizer.

Each processor maps a sequence to P_t = f(frame_t; θ_t) with one random base setting θ for the sequence and a
small independent jolt per frame, which is the flicker a per-frame method produces. Several unrelated processors
(the project's colorizer, colour jitter, tone curves, a posterizing stylization, tinting of grey) keep the network
blind to the task, as in Lai et al.
"""

from __future__ import annotations

import cv2
import numpy as np

from deeperfour.train.data import to_grey3


def _hsv_jitter(frame: np.ndarray, hue: float, sat: float, val: float) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + hue) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * val, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def colour_jitter(colour: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    base = np.array([rng.uniform(-20, 20), rng.uniform(0.6, 1.6), rng.uniform(0.8, 1.2)])
    sd = strength * np.array([6.0, 0.15, 0.08])
    return np.stack([_hsv_jitter(f, *(base + rng.normal(0, sd))) for f in colour])


def tone_curves(colour: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    base = rng.uniform(0.6, 1.6, 3)
    out = []
    for f in colour:
        gamma = np.clip(base * np.exp(rng.normal(0, 0.12 * strength, 3)), 0.3, 3)
        lut = np.stack([np.clip(255 * (np.arange(256) / 255) ** g, 0, 255) for g in gamma]).astype(np.uint8)
        out.append(np.stack([lut[c][f[..., c]] for c in range(3)], axis=-1))
    return np.stack(out)


def stylize(colour: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Posterize after an edge-preserving blur; the quantisation thresholds and a colour cast move per frame."""
    levels = int(rng.integers(4, 9))
    step = 256 / levels
    cast = rng.uniform(-25, 25, 3)
    out = []
    for f in colour:
        smooth = cv2.bilateralFilter(f, 5, 40, 5).astype(np.float32)
        offset = rng.uniform(-0.5, 0.5) * step * strength
        q = (np.floor((smooth + offset) / step) + 0.5) * step
        out.append(np.clip(q + cast + rng.normal(0, 6 * strength, 3), 0, 255).astype(np.uint8))
    return np.stack(out)


def tint(grey: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Colour a grey sequence with a two-tone map (shadows / highlights colours), jolted per frame."""
    lo, hi = rng.uniform(0, 120, 3), rng.uniform(140, 255, 3)
    out = []
    for f in grey:
        y = f[..., :1].astype(np.float32) / 255
        a, b = lo + rng.normal(0, 10 * strength, 3), hi + rng.normal(0, 10 * strength, 3)
        out.append(np.clip(a + (b - a) * y, 0, 255).astype(np.uint8))
    return np.stack(out)


class ColorizerProcessor:
    """The project's colorizer (deeperfour.models.colorizer.colorize), frame by frame, on grey frames."""

    def __init__(self, weights: str | None, preset: str = "lite"):
        from deeperfour.models.weights import load_model

        self.model, self.preset = load_model("colorize", preset, weights, allow_random=weights is None)

    def __call__(self, grey: np.ndarray) -> np.ndarray:
        from deeperfour.models.colorizer import colorize
        from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames

        o = self.preset.options
        return tensor_to_frames(
            colorize(self.model, frames_to_tensor(grey), int(o["render_factor"]), float(o.get("temperature", 0.6)))
        )


def make_pair(
    colour: np.ndarray, kind: str, rng: np.random.Generator, strength: float, colorizer=None, grey_input_p: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(input frames I, processed frames P), both (T, H, W, 3) uint8, from a colour sequence."""
    grey = to_grey3(colour)
    if kind == "colorizer":
        return grey, colorizer(grey)
    if kind == "tint":
        return grey, tint(grey, rng, strength)
    fn = {"jitter": colour_jitter, "tone": tone_curves, "stylize": stylize}[kind]
    inp = grey if rng.random() < grey_input_p else colour
    return inp, fn(colour, rng, strength)
