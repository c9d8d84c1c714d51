"""Metrics: synthetic sequences whose answer is known, then a real clip through the CLI functions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeperfour.metrics.quality import colorfulness, desaturate, psnr, ssim
from deeperfour.metrics.temporal import cdc, e_warp, jsd, occlusion_mask, warp

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CLIP = DATA / "color_video" / "stanley_cup_riot_scene_cuts.mp4"
N_FRAMES = 12  # hand-held street footage; a dissolve through a flash starts at frame 13


def textured(h=120, w=160, seed=0) -> np.ndarray:
    """A smooth random colour texture (DIS needs texture to find the motion)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2.0)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def brightness_flicker(frames, seed=1, amount=40):
    rng = np.random.default_rng(seed)
    return [np.clip(f.astype(int) + int(rng.integers(-amount, amount + 1)), 0, 255).astype(np.uint8) for f in frames]


def test_static_video_has_no_warp_error_and_no_flicker():
    frames = [textured()] * 6
    assert e_warp(frames, frames) == pytest.approx(0.0, abs=1e-9)
    assert cdc(frames) == pytest.approx(0.0, abs=1e-12)


def test_random_brightness_flicker_scores_clearly_worse():
    frames = [textured()] * 8
    flickering = brightness_flicker(frames)
    steady = e_warp(frames, frames)
    assert e_warp(frames, flickering) > 1e-3 > 1000 * steady  # flow on the steady input, flicker in the output
    assert cdc(flickering) > 0.05 > cdc(frames)


def test_translation_with_consistent_colours_is_stable_and_shuffled_colours_are_not():
    base = textured(seed=2)
    moving = [np.roll(base, 3 * t, axis=1) for t in range(8)]
    consistent = e_warp(moving, moving)
    rng = np.random.default_rng(3)
    shuffled = [f[..., rng.permutation(3)] for f in moving]
    inconsistent = e_warp(moving, shuffled)
    assert consistent < 1e-4
    assert inconsistent > 100 * consistent and inconsistent > 1e-3


def test_warp_direction_brings_frame_t_onto_frame_t_minus_1():
    base = textured(seed=4).astype(np.float32) / 255
    nxt = np.roll(base, 5, axis=1)  # content moves 5 px right between t-1 and t
    fw = np.zeros(base.shape[:2] + (2,), np.float32)
    fw[..., 0] = 5  # pixel x of t-1 is at x+5 in t
    back = warp(nxt, fw)
    assert np.abs(back[:, :-5] - base[:, :-5]).max() < 1e-5
    # the last 5 columns map outside frame t: they are masked as occluded, the rest is not
    mask = occlusion_mask(fw, -fw)
    assert mask[:, -5:].all() and not mask[:, :-6].any()


def test_shot_cuts_are_never_paired():
    a, b = textured(seed=5), textured(seed=6)
    frames = [a] * 4 + [b] * 4
    assert cdc(frames, shot_starts=[4]) == pytest.approx(0.0, abs=1e-12)
    assert e_warp(frames, frames, shot_starts=[4]) == pytest.approx(0.0, abs=1e-9)
    assert cdc(frames) > 0  # without the cut, the pair (3, 4) counts


def test_jsd_bounds():
    p = np.zeros((3, 256))
    p[:, 0] = 1
    q = np.zeros((3, 256))
    q[:, 255] = 1
    assert jsd(p, p) == 0.0
    assert jsd(p, q) == pytest.approx(1.0)


def test_colorfulness_of_grey_is_zero_and_of_colour_is_not():
    img = textured(seed=7)
    assert colorfulness(desaturate(img)) == pytest.approx(0.0, abs=1e-9)
    assert colorfulness(np.full((8, 8, 3), 128, np.uint8)) == 0.0
    assert colorfulness(img) > 20
    # pure red on the 0..255 scale: σ = 0, μ_rg = 255, μ_yb = 127.5 -> 0.3 * hypot(255, 127.5)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert colorfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))


def test_psnr_and_ssim_known_values():
    img = textured(seed=8)
    assert psnr(img, img) == math.inf
    assert ssim(img, img) == pytest.approx(1.0)
    a = np.zeros((16, 16, 3), np.float32)
    b = np.full((16, 16, 3), 0.1, np.float32)
    assert psnr(a, b) == pytest.approx(20.0)  # MSE 0.01 -> 10 log10(1/0.01)
    noisy = np.clip(img.astype(int) + np.random.default_rng(9).integers(-30, 31, img.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim(img, noisy) < 0.9
    assert ssim(img, desaturate(img)) < ssim(img, img)


# --- a real clip through the CLI functions ---------------------------------------------------------------------


def _write(path, frames, info, audio_from=None):
    from dataclasses import replace

    from deeperfour.video.io import Encoder

    enc = Encoder(str(path), replace(info, frame_count=len(frames)), audio_from=audio_from)
    for f in frames:
        enc.write(f)
    enc.close()


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory):
    if not CLIP.exists():
        pytest.skip(f"{CLIP} is absent (../shared/data is not checked out here)")
    from itertools import islice

    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe

    info = probe(CLIP)
    colour = [np.array(f) for f in islice(read_frames(str(CLIP), info), N_FRAMES)]
    d = tmp_path_factory.mktemp("clips")
    paths = {"colour": d / "colour.mp4", "grey": d / "grey.mp4", "flicker": d / "flicker.mp4"}
    _write(paths["colour"], colour, info)
    _write(paths["grey"], [desaturate(f) for f in colour], info)
    _write(paths["flicker"], brightness_flicker(colour, amount=25), info)
    return paths


def test_eval_cli_on_a_real_clip(real_clips, tmp_path, capsys):
    from deeperfour.metrics.cli import main

    out_json = tmp_path / "m.json"
    rc = main(
        [
            "eval",
            str(real_clips["colour"]),
            "--input",
            str(real_clips["grey"]),
            "--reference",
            str(real_clips["colour"]),
            "--json",
            str(out_json),
        ]
    )
    assert rc == 0
    table = capsys.readouterr().out
    assert "e_warp" in table and "output" in table
    m = json.loads(out_json.read_text())
    assert m["frames"] == N_FRAMES
    assert m["output"]["psnr"] == "inf" and m["output"]["ssim"] == pytest.approx(1.0)
    assert m["input"]["colorfulness"] < 1.0 < m["output"]["colorfulness"]
    assert 20 < m["input"]["psnr"] < 40  # grey vs colour: worse than identical, better than noise
    assert 0 < m["output"]["e_warp"] < 0.01

    flick_json = tmp_path / "f.json"
    main(["eval", str(real_clips["flicker"]), "--input", str(real_clips["grey"]), "--json", str(flick_json)])
    f = json.loads(flick_json.read_text())
    assert f["output"]["e_warp"] > 2 * m["output"]["e_warp"]
    assert f["output"]["cdc"] > 2 * m["output"]["cdc"]


def test_eval_rejects_videos_of_different_lengths(real_clips, tmp_path):
    from deeperfour.errors import InputError
    from deeperfour.metrics.evaluate import evaluate

    with pytest.raises(InputError, match="frame counts differ"):
        evaluate(real_clips["colour"], CLIP)


def test_compare_writes_side_by_side_video_and_plot(real_clips, tmp_path, capsys):
    from deeperfour.metrics.cli import main
    from deeperfour.video.probe import probe

    out = tmp_path / "compare.mp4"
    rc = main(
        [
            "compare",
            str(real_clips["flicker"]),
            str(real_clips["colour"]),
            "-o",
            str(out),
            "--input",
            str(real_clips["grey"]),
        ]
    )
    assert rc == 0
    info = probe(out)
    src = probe(real_clips["colour"])
    assert (info.width, info.height, info.frame_count) == (2 * src.width, src.height, N_FRAMES)
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "A:" in capsys.readouterr().out


def test_video_psnr_is_that_of_the_mean_mse_so_one_identical_frame_does_not_make_it_infinite():
    from deeperfour.metrics.evaluate import _VideoStats

    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 255 // 10, np.uint8)  # MSE (25.5/255)^2 ≈ 0.01 against a
    stats = _VideoStats(with_reference=True)
    stats.push(a, True, None, a)  # a shot's first frame, passed through unchanged
    stats.push(b, False, None, a)
    expected = 10 * math.log10(1 / (((25 / 255) ** 2) / 2))
    assert stats.summary()["psnr"] == pytest.approx(expected)
