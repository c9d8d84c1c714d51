"""Still images in and out: JPEG, PNG, TIFF (8 and 16 bits per channel) and WebP, read as displayed (the EXIF
orientation applied) and written without an orientation tag.

OpenCV reads and writes the pixels at their own depth (Pillow has no 16-bit RGB); Pillow reads the EXIF orientation.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deeperfour.errors import InputError, OutputError
from deeperfour.video import io

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WebP"}
EIGHT_BIT_ONLY = ("JPEG", "WebP")
NO_ALPHA = ("JPEG",)
ORIENTATION = 0x0112  # the EXIF tag


@dataclass
class Still:
    rgb: np.ndarray  # (H, W, 3) uint8 or uint16, as displayed
    alpha: np.ndarray | None  # (H, W), the same type, or None

    @property
    def levels(self) -> int:
        return 65535 if self.rgb.dtype == np.uint16 else 255


def is_still(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in FORMATS


def read(path: str | os.PathLike) -> Still:
    """The image at `path` as displayed; InputError in one line when it cannot be read."""
    path = str(path)
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if Path(path).is_dir():
        raise InputError(f"{path}: is a directory, not an image")
    _check_complete(path)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its decoders' log lines: ours says it
    try:
        data = cv2.imread(path, cv2.IMREAD_UNCHANGED)  # keeps 16 bits and alpha; ignores the orientation
    except cv2.error as e:  # OpenCV refuses images of over 2^30 pixels by an assertion
        reason = "over 2^30 pixels" if "MAX_IMAGE_PIXELS" in str(e) else str(e).strip().splitlines()[-1]
        raise InputError(f"{path}: not a readable image ({reason})") from None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if data is None or data.size == 0:
        raise InputError(f"{path}: not a readable image ({Path(path).suffix or 'no extension'})")
    if data.dtype == np.float32 or data.dtype == np.float64:  # floating-point TIFF: 0 to 1
        data = (np.clip(data, 0, 1) * 65535).round().astype(np.uint16)
    if data.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: {data.dtype} pixels are not supported; use 8 or 16 bits per channel")
    if data.ndim == 2:
        data = data[:, :, None]
    channels = data.shape[2]
    alpha = data[:, :, 3].copy() if channels == 4 else None
    if channels in (1, 2):
        alpha = data[:, :, 1].copy() if channels == 2 else None
        rgb = np.repeat(data[:, :, :1], 3, axis=2)
    else:
        rgb = np.ascontiguousarray(data[:, :, 2::-1])  # BGR(A) -> RGB
    turn = _orientation(path)
    rgb = np.ascontiguousarray(orient(rgb, turn))
    alpha = np.ascontiguousarray(orient(alpha, turn)) if alpha is not None else None
    return Still(rgb, alpha)


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels stored with EXIF `orientation` (1-8) -> as displayed (what Pillow's exif_transpose does)."""
    if orientation in (5, 6, 7, 8):
        pixels = np.swapaxes(pixels, 0, 1)  # transpose: 5 as it is, then 6 mirrored, 7 turned, 8 flipped
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    return pixels


def _check_complete(path: str) -> None:
    """OpenCV decodes a JPEG that ends early without a word, greying the rest: Pillow, which says so, reads it
    first. What Pillow cannot read (16-bit RGB TIFF, a huge picture) is left to OpenCV."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                img.load()
    except OSError as e:
        if "truncated" in str(e):
            raise InputError(f"{path}: truncated: the image data ends early") from None
    except Exception:
        pass


def _orientation(path: str) -> int:
    from PIL import Image

    try:
        with warnings.catch_warnings():  # a damaged EXIF block: no orientation, and no warning
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                value = img.getexif().get(ORIENTATION, 1)
    except Exception:  # Pillow cannot open every file OpenCV can (16-bit RGB TIFF): no orientation then
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def check_output(output: str | os.PathLike) -> None:
    io.check_output(output, FORMATS, "image format", "photo.png")


def write(path: str | os.PathLike, still: Still) -> list[str]:
    """Write `still` in the format of `path`'s extension; returns notes on what the format could not hold."""
    fmt = FORMATS[Path(path).suffix.lower()]
    notes = []
    rgb, alpha = still.rgb, still.alpha
    if rgb.dtype == np.uint16 and fmt in EIGHT_BIT_ONLY:
        notes.append(f"{fmt} holds 8 bits per channel: the 16-bit result was reduced; write .png or .tif to keep it")
        rgb = _to_8bit(rgb)
        alpha = _to_8bit(alpha) if alpha is not None else None
    if alpha is not None and fmt in NO_ALPHA:
        notes.append(f"{fmt} has no transparency: the alpha channel was dropped; write .png, .tif or .webp to keep it")
        alpha = None
    data = rgb[:, :, ::-1] if alpha is None else np.dstack([rgb[:, :, ::-1], alpha])
    params = {"JPEG": [cv2.IMWRITE_JPEG_QUALITY, 95], "WebP": [cv2.IMWRITE_WEBP_QUALITY, 95]}.get(fmt, [])
    try:
        ok = cv2.imwrite(str(path), np.ascontiguousarray(data), params)
    except cv2.error as e:
        raise OutputError(f"{path}: the image could not be written ({str(e).strip().splitlines()[-1]})") from None
    if not ok:
        raise OutputError(f"{path}: the image could not be written")
    return notes


def _to_8bit(x: np.ndarray) -> np.ndarray:
    return ((x.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
