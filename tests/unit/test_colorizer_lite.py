"""The lite colorizer: CIELAB bins, the merge onto the source's luma, its training targets, and the shipped weights on
real black-and-white films (black bars and frame edges stay neutral)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deeperfour.models.colorspace import chroma, chroma_at_luma, grey_lightness, lab_to_rgb, luma, rgb_to_lab
from deeperfour.models.mobileunet import ab_grid, render_size
from deeperfour.train.colorizer import colour_prior, rebalancing_weights, soft_targets

FILMS = Path(__file__).resolve().parents[3] / "shared" / "data" / "bw_film"


def test_lab_matches_opencv_and_round_trips():
    rgb = torch.rand(3, 20, 30, generator=torch.Generator().manual_seed(1))
    lab = rgb_to_lab(rgb)
    ref = cv2.cvtColor(rgb.permute(1, 2, 0).numpy(), cv2.COLOR_RGB2Lab)
    assert np.abs(lab.permute(1, 2, 0).numpy() - ref).max() < 0.5
    assert (lab_to_rgb(lab) - rgb).abs().max() < 1e-4


def test_every_srgb_colour_has_its_four_grid_neighbours_among_the_bins():
    bins, index = ab_grid()
    assert 250 < len(bins) < 400
    rgb = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(2))
    b, w = soft_targets(rgb_to_lab(rgb)[None, 1:], index)
    assert torch.allclose(w.sum(1), torch.ones(1))
    expected = (w[:, :, None] * bins[b].permute(0, 1, 4, 2, 3)).sum(1)  # the weighted bin centres: the colour itself
    assert (expected - rgb_to_lab(rgb)[None, 1:]).abs().max() < 1e-3


def test_rebalancing_favours_rare_colours():
    bins, index = ab_grid()
    rng = torch.Generator().manual_seed(3)
    ab = torch.randn(1, 2, 32, 32, generator=rng) * 4  # mostly near grey, a few stronger colours
    ab[..., :4] += torch.tensor([40.0, 40.0]).view(1, 2, 1, 1)
    prior = colour_prior([soft_targets(ab, index)], index)
    w = rebalancing_weights(prior, 0.5)
    grey, orange = int(index[11, 11]), int(index[15, 15])  # (a, b) = (0, 0) and (40, 40)
    assert torch.isclose((prior * w).sum(), torch.tensor(1.0))
    assert w[orange] > 2 * w[grey]


def test_merge_keeps_the_source_luma_and_reaches_the_colour():
    rgb = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(4)) * 0.8 + 0.1
    y, ab = luma(rgb), rgb_to_lab(rgb)[:, 1:]
    uv = chroma_at_luma(y, ab)
    assert (uv - chroma(rgb)).abs().mean() < 2e-3  # the colour that has this (a, b) and this luma: the original


def test_grey_lightness_is_the_lightness_of_the_grey():
    y = torch.linspace(-0.1, 1.1, 1201).view(1, 1, 1, -1)  # out of range too: clamped as rgb_to_lab clamps
    expected = rgb_to_lab(y.expand(1, 3, 1, -1))[:, :1]
    assert (grey_lightness(y) - expected).abs().max() < 1e-4


def test_render_size_keeps_the_aspect_and_the_area():
    h, w = render_size(360, 640, 12)
    assert (h % 16, w % 16) == (0, 0) and abs(w / h - 16 / 9) < 0.1 and abs(h * w - 192**2) / 192**2 < 0.1
    assert render_size(1, 1, 12) == (192, 192) and min(render_size(10, 4000, 12)) >= 32


def test_near_black_stays_grey_and_the_rest_keeps_its_colour():
    from deeperfour.pipeline.stages import build_stage

    stage = build_stage("colorize")
    rng = np.random.default_rng(5)
    frame = np.clip(rng.normal(120, 40, (96, 160, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
    frame[:, :40] = rng.integers(0, 10, (96, 40, 1))  # below the black toe
    out = stage(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255, None, None)[0][0]
    assert torch.equal(out[0, :, :40], out[1, :, :40]) and torch.equal(out[1, :, :40], out[2, :, :40])
    assert (out[:, :, 60:].amax(0) - out[:, :, 60:].amin(0)).mean() > 0.01  # the picture beside it is coloured


def film_frames(name: str, count: int, step: int) -> list[np.ndarray]:
    from itertools import islice

    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe

    return [np.array(f) for f in islice(read_frames(str(FILMS / name), probe(FILMS / name)), 0, count * step, step)]


@pytest.mark.skipif(not FILMS.is_dir(), reason="../shared/data/bw_film is absent")
@pytest.mark.parametrize(
    "film",
    [
        "a_bomb_blast_effects_1952_part.mp4",
        "winter_scenes_in_holland.mp4",
        "film_leader_countdown_with_speech.mp4",
    ],
)
def test_black_bars_and_frame_edges_stay_neutral(film):
    """Real films letterboxed and pillarboxed with bars as a scan has them (near black, with grain): the shipped
    colorizer leaves the bars grey (chroma near zero), and the picture's outer rows and columns get no more colour
    than the picture as a whole."""
    from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
    from deeperfour.pipeline.stages import build_stage

    stage = build_stage("colorize")
    frames = film_frames(film, 3, 40)
    h, w = frames[0].shape[:2]
    bar_h, bar_w = h // 8, w // 8
    rng = np.random.default_rng(0)
    boxed = []
    for f in frames:
        bar = np.clip(rng.normal(14, 3, (h + 2 * bar_h, w + 2 * bar_w, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
        bar[bar_h : bar_h + h, bar_w : bar_w + w] = f
        boxed.append(bar)
    out, _ = stage(frames_to_tensor(boxed), frames_to_tensor(boxed), None)
    # the colour is predicted on a grid of cells of 2 render pixels and upsampled: within a few cells of the picture
    # the bars blend with it
    big_h, big_w = boxed[0].shape[:2]
    m = round(3 * 2 * big_h / render_size(big_h, big_w, stage.options["render_factor"])[0])
    for frame in tensor_to_frames(out):
        lab = cv2.cvtColor(frame.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
        c = np.hypot(lab[..., 1], lab[..., 2])
        bars = np.ones(c.shape, bool)  # farther than three colour cells from the picture
        bars[bar_h - m : bar_h + h + m, bar_w - m : bar_w + w + m] = False
        assert c[bars].mean() < 1.0 and np.percentile(c[bars], 99) < 3.0
        picture = c[bar_h : bar_h + h, bar_w : bar_w + w]
        edge = np.concatenate(
            [picture[:4].ravel(), picture[-4:].ravel(), picture[:, :4].ravel(), picture[:, -4:].ravel()]
        )
        assert edge.mean() < 1.5 * picture.mean() + 2.0
