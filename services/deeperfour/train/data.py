"""Training data from ../shared/data: photos, colour-clip frames, and short sequences with camera motion.

Everything is decoded once into memory at a reduced size (uint8), so a training step only crops and augments.
The validation split of ../shared/data/train (train/split.py) is never read, nor clips named in a config's
`holdout` list.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from deeperfour.errors import DeeperFourError

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_EXT = {".mp4", ".mkv", ".webm", ".mov", ".avi"}


def _files(root: Path, patterns: list[str], exts: set[str], folders: bool = False) -> list[Path]:
    """Files (and with `folders`, directories) matching the patterns, the validation split left out."""
    from deeperfour.train.split import is_validation

    out: list[Path] = []
    for pat in patterns:
        out += [
            p
            for p in sorted(root.glob(pat))
            if (p.suffix.lower() in exts or (folders and p.is_dir())) and not is_validation(p)
        ]
    return out


def resize_short(img: np.ndarray, short: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = short / min(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def load_images(root, patterns: list[str], short_side: int, limit: int | None = None) -> list[np.ndarray]:
    """RGB uint8 images matching the glob patterns under root, short side reduced to `short_side`."""
    files = _files(Path(root), patterns, IMAGE_EXT)[:limit]
    if not files:
        raise DeeperFourError(f"no images match {patterns} under {root}; set data_root in the config")
    return load_paths(files, short_side)


def load_paths(files: list[Path], short_side: int) -> list[np.ndarray]:
    """The readable images among `files`, RGB uint8, short side reduced to `short_side`."""
    images = []
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(resize_short(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), short_side))
    return images


def load_clips(root, patterns: list[str], short_side: int, max_frames: int | None, holdout=()) -> list[np.ndarray]:
    """Each clip as (T, H, W, 3) uint8 (its first `max_frames` frames), skipping held-out names."""
    return [
        load_clip(p, short_side, max_frames)
        for p in _files(Path(root), patterns, VIDEO_EXT, folders=True)
        if p.name not in set(holdout)
    ]


def load_clip(path: Path, short_side: int, max_frames: int | None = None) -> np.ndarray:
    """(T, H, W, 3) uint8: the first `max_frames` frames of a video file, or of a folder of numbered images (what
    tools/gpu_data.py packs for a machine without ffmpeg), short side reduced to `short_side`."""
    path = Path(path)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXT)[:max_frames]
        frames = iter(load_paths(images, 10**6))
    else:
        from deeperfour.video.io import read_frames
        from deeperfour.video.probe import probe

        frames = islice(read_frames(str(path), probe(path)), max_frames)
    return np.stack([resize_short(np.array(f), short_side) for f in frames])


def at_least(img: np.ndarray, size: int) -> np.ndarray:
    """The image enlarged (aspect kept) so its short side is at least `size` px; unchanged when it already is."""
    h, w = img.shape[:2]
    if min(h, w) >= size:
        return img
    s = size / min(h, w)
    return cv2.resize(img, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_CUBIC)


def camera_motion(
    img: np.ndarray, frames: int, size: int, rng: np.random.Generator, max_shift=4.0, max_zoom=0.01, max_rot=0.4
) -> np.ndarray:
    """(frames, size, size, 3): a photo seen by a slowly moving camera (pan, zoom, roll at random constant
    rates per frame, plus a little shake), so consecutive frames differ by a smooth, known-to-be-real motion."""
    h, w = img.shape[:2]
    span = size * 1.6  # room around the window so the motion never leaves the photo
    if min(h, w) < span:
        s = span / min(h, w)
        img = cv2.resize(img, (round(w * s) + 1, round(h * s) + 1), interpolation=cv2.INTER_LINEAR)
        h, w = img.shape[:2]
    cx = rng.uniform(span / 2, w - span / 2)
    cy = rng.uniform(span / 2, h - span / 2)
    v = rng.uniform(-max_shift, max_shift, 2)
    dz, dr = rng.uniform(-max_zoom, max_zoom), rng.uniform(-max_rot, max_rot)
    out = []
    for t in range(frames):
        shake = rng.normal(0, 0.3, 2)
        m = cv2.getRotationMatrix2D((cx + v[0] * t + shake[0], cy + v[1] * t + shake[1]), dr * t, 1 + dz * t)
        m[:, 2] += np.array([size / 2, size / 2]) - np.array([cx + v[0] * t, cy + v[1] * t])
        out.append(cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def clip_window(clip: np.ndarray, frames: int, size: int, rng: np.random.Generator, max_stride: int = 2) -> np.ndarray:
    """(frames, size, size, 3): consecutive frames (stride 1..max_stride) of a clip, same crop in every frame."""
    stride = int(rng.integers(1, max_stride + 1))
    n = clip.shape[0]
    span = (frames - 1) * stride + 1
    if n < span:
        stride, span = 1, frames
    t0 = int(rng.integers(0, n - span + 1))
    seq = clip[t0 : t0 + span : stride]
    h, w = seq.shape[1:3]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    seq = seq[:, y : y + size, x : x + size]
    return seq[:, :, ::-1] if rng.random() < 0.5 else seq


def to_grey3(img: np.ndarray) -> np.ndarray:
    """Grey version of RGB uint8 (..., 3) (BT.601 luma), repeated on three channels."""
    y = img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
    return np.repeat(np.clip(np.round(y), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
