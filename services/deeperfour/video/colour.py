"""Is a film already in colour? A black-and-white film, toned or not (sepia, a tint, split toning), has one chroma
per lightness; a colour film has different colours at the same lightness. So frames sampled across the film are
split into lightness bands, and the share of pixels whose chroma is far from their band's median chroma decides.

Measured: the black-and-white films of ../shared/data 0.000; sepia and split-toned versions of them and sepia test
patterns 0.000-0.010; its colour films 0.13-0.49; colour faded to a quarter of its saturation 0.029-0.048.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from deeperfour.errors import InputError
from deeperfour.video.probe import VideoInfo

SAMPLES = 12
WIDTH = 160  # px, samples are scaled down to this width (averaging areas)
FAR = 8.0  # chroma distance, in 8-bit levels, from the median chroma of the pixel's lightness band (16 levels)
COLOUR_SHARE = 0.02  # share of far pixels above which a film counts as colour


class AlreadyInColour(InputError):
    """Colorize was the only stage asked for, and the input is already in colour."""


def colour_share(info: VideoInfo) -> float:
    """The share of sampled pixels whose colour differs from the film's grey tone at their lightness (0: none)."""
    return share(_samples(info))


def still_colour_share(rgb: np.ndarray) -> float:
    """colour_share of one still image: uint8 or uint16 (H, W, 3) RGB."""
    if rgb.dtype == np.uint16:
        rgb = (rgb >> 8).astype(np.uint8)
    h, w = rgb.shape[:2]
    width = max(1, min(WIDTH, w // 2))
    height = max(1, round(width * h / w))
    small = cv2.resize(rgb, (2 * width, 2 * height), interpolation=cv2.INTER_AREA)
    ycc = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    ycc = ycc.reshape(height, 2, width, 2, 3).mean(axis=(1, 3))
    # full-range YCbCr -> the limited-range chroma a film's 4:2:0 planes hold, as _samples reads them
    chroma = (ycc[..., 1:] - 128) * (224 / 255)
    return share([(ycc[..., 0], np.moveaxis(chroma, -1, 0))])


def share(samples: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Share of pixels, over (luma, chroma centred on 0) samples, far from their lightness band's median chroma."""
    if not samples:
        return 0.0
    y = np.concatenate([s[0].ravel() for s in samples])
    uv = np.concatenate([s[1].reshape(2, -1).T for s in samples])
    band = np.minimum(y // 16, 15).astype(int)
    far = np.zeros(len(y), bool)
    for k in np.unique(band):
        sel = band == k
        far[sel] = np.linalg.norm(uv[sel] - np.median(uv[sel], axis=0), axis=1) > FAR
    return float(far.mean())


def _samples(info: VideoInfo) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to SAMPLES frames spread over the film (the first frame after each seek point) as (luma, chroma) on the
    chroma's grid: scaled to 4:2:0 at twice the sample size, luma averaged over each 2x2 block, so both describe
    the same pixels and no chroma is interpolated between differently lit ones."""
    width = max(1, min(WIDTH, info.width // 2))
    height = max(1, round(width * info.height / info.width))
    out = []
    try:
        with av.open(info.path) as c:
            stream = next(s for s in c.streams.video if s.index == info.stream)
            tb = stream.time_base
            start = stream.start_time or 0
            for k in range(SAMPLES):
                if tb:
                    c.seek(start + int(info.duration * (k + 0.5) / SAMPLES / tb), stream=stream)
                frame = next(c.decode(stream), None)
                if frame is not None:
                    out.append(_planes(frame.reformat(2 * width, 2 * height, "yuv420p", interpolation="AREA")))
    except (av.error.FFmpegError, OSError, ValueError):
        pass  # a film that cannot be sampled counts as black and white; decoding it will say what is wrong
    return out


def _planes(frame) -> tuple[np.ndarray, np.ndarray]:
    """A yuv420p frame -> luma (h, w) averaged over 2x2 blocks and chroma (2, h, w) centred on 0, float32."""
    h, w = frame.height // 2, frame.width // 2

    def plane(i: int, rows: int, cols: int) -> np.ndarray:
        p = frame.planes[i]
        return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:rows, :cols].astype(np.float32)

    y = plane(0, 2 * h, 2 * w).reshape(h, 2, w, 2).mean(axis=(1, 3))
    return y, np.stack([plane(1, h, w), plane(2, h, w)]) - 128
