"""Photos: 8- and 16-bit, EXIF orientation, alpha, every format in and out, the still's render factor, colour photos,
and bad input in one line."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from deeperfour.errors import DeeperFourError
from deeperfour.pipeline.embedded import modernize
from deeperfour.video import images

FAST = dict(quiet=True)


def scene(w: int, h: int) -> np.ndarray:
    """A grey picture with a gradient, a bright disc and a dark bar: float in [0, 1], (h, w)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    grey = 0.15 + 0.5 * x / w + 0.1 * y / h
    grey[(x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (h / 5) ** 2] = 0.9
    grey[int(h * 0.7) : int(h * 0.8), : w // 2] = 0.05
    return grey


def luma16(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_a_16_bit_tiff_stays_16_bit_with_its_full_lightness(tmp_path):
    grey = (scene(96, 64) * 65535).round().astype(np.uint16)
    src = tmp_path / "scan.tif"
    assert cv2.imwrite(str(src), np.dstack([grey] * 3))
    out = tmp_path / "scan_colour.tif"
    summary = modernize(src, out, **FAST)
    assert summary["kind"] == "photo" and summary["render_factor"] == 24 and summary["presets"] == ["colorizer-lite"]
    result = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert result.dtype == np.uint16 and result.shape == (64, 96, 3)
    assert np.abs(result[..., 0].astype(int) - result[..., 2]).mean() > 256  # colorized
    lightness = luma16(result[..., ::-1])
    # the source's 16-bit lightness is kept (clipped colours aside): rounded to 256 levels, the median error of this
    # gradient would be about 64
    assert len(np.unique(grey)) > 1000
    assert np.median(np.abs(lightness - grey)) < 8


def test_a_rotated_jpeg_is_read_as_displayed(tmp_path):
    stored = (scene(80, 48) * 255).astype(np.uint8)
    src = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[images.ORIENTATION] = 6  # stored landscape, shown turned a quarter clockwise
    Image.fromarray(stored).convert("RGB").save(src, exif=exif, quality=95)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(src)))
    assert shown.shape[:2] == (80, 48)
    np.testing.assert_array_equal(images.read(src).rgb, shown)
    out = tmp_path / "portrait_colour.jpg"
    modernize(src, out, **FAST)
    with Image.open(out) as result:
        assert result.format == "JPEG" and result.size == (48, 80)  # upright, no orientation tag left to apply
        assert result.getexif().get(images.ORIENTATION, 1) == 1
        rgb = np.asarray(result.convert("RGB")).astype(int)
    assert np.abs(luma16(rgb) - shown[..., 0]).mean() < 6  # the picture itself, the right way up


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation, tmp_path):
    stored = np.arange(5 * 3 * 3, dtype=np.uint8).reshape(5, 3, 3) * 5
    src = tmp_path / f"o{orientation}.png"
    exif = Image.Exif()
    exif[images.ORIENTATION] = orientation
    Image.fromarray(stored).save(src, exif=exif)
    np.testing.assert_array_equal(images.read(src).rgb, np.asarray(ImageOps.exif_transpose(Image.open(src))))


def test_formats_alpha_and_a_format_change(tmp_path):
    grey = (scene(64, 48) * 255).astype(np.uint8)
    alpha = np.full((48, 64), 255, np.uint8)
    alpha[:, :16] = 0
    png = tmp_path / "cut_out.png"
    assert cv2.imwrite(str(png), np.dstack([grey, grey, grey, alpha]))
    modernize(png, tmp_path / "cut_out_colour.png", **FAST)
    result = cv2.imread(str(tmp_path / "cut_out_colour.png"), cv2.IMREAD_UNCHANGED)
    assert result.shape == (48, 64, 4)
    np.testing.assert_array_equal(result[..., 3], alpha)  # transparency kept
    summary = modernize(png, tmp_path / "flat.jpg", **FAST)  # the output's extension decides the format
    assert any("alpha channel was dropped" in n for n in summary["notes"])
    with Image.open(tmp_path / "flat.jpg") as img:
        assert img.format == "JPEG" and img.mode == "RGB"
    webp = tmp_path / "scan.webp"
    Image.fromarray(grey).save(webp, quality=95)
    modernize(webp, tmp_path / "scan_colour.webp", **FAST)
    with Image.open(tmp_path / "scan_colour.webp") as img:
        assert img.format == "WEBP" and img.size == (64, 48)


def test_stages_render_factor_and_colour_photos(tmp_path):
    src = tmp_path / "scan.png"
    assert cv2.imwrite(str(src), (scene(64, 48) * 255).astype(np.uint8))
    summary = modernize(src, tmp_path / "toon.png", stages="colorize,stabilize,cartoonize,stabilize", **FAST)
    assert summary["presets"] == ["colorizer-lite", "cartoonizer-lite"]  # the temporal stage does not apply
    assert modernize(src, tmp_path / "rf.png", render_factor=10, **FAST)["render_factor"] == 10
    with pytest.raises(DeeperFourError, match="a photo has no motion to stabilize"):
        modernize(src, tmp_path / "x.png", stages="stabilize", **FAST)
    colour = tmp_path / "colour.png"
    hsv = np.zeros((48, 64, 3), np.uint8)  # every hue across, darker to lighter down
    hsv[..., 0], hsv[..., 1] = np.linspace(0, 179, 64)[None, :], 200
    hsv[..., 2] = np.linspace(80, 250, 48)[:, None]
    assert cv2.imwrite(str(colour), cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR))
    with pytest.raises(DeeperFourError, match="already in colour"):
        modernize(colour, tmp_path / "y.png", stages="colorize", **FAST)
    assert modernize(colour, tmp_path / "y.png", stages="colorize", recolor=True, **FAST)["presets"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "x", "y"))) == ["y.png"]


def huge_png(path) -> None:
    """A PNG of a few bytes whose header claims 100000 x 100000 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


@pytest.mark.parametrize(
    "kind,words",
    [
        ("garbage", "not a readable image"),
        ("gif_out", "unsupported image format"),
        ("same", "is the input"),
        ("truncated_jpeg", "truncated"),
        ("truncated_png", "truncated"),
        ("huge", "over 2^30 pixels"),
    ],
)
def test_bad_photos_are_one_line(kind, words, tmp_path):
    src = tmp_path / ("in.jpg" if kind == "truncated_jpeg" else "in.png")
    out = tmp_path / "out.png"
    if kind == "garbage":
        src.write_text("no pixels here")
    elif kind == "huge":
        huge_png(src)
    else:
        assert cv2.imwrite(str(src), (scene(320, 240) * 255).astype(np.uint8))
    if kind.startswith("truncated"):  # cut in the middle of the picture data
        src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    if kind == "gif_out":
        out = tmp_path / "out.gif"
    if kind == "same":
        out = src
    r = subprocess.run(
        [sys.executable, "-m", "deeperfour", "modernize", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]
