"""Memory bounded by design (issue 17): chunks of large frames hold few bytes, and the colour work in row bands gives
the same pixels as in one piece."""

import numpy as np
import torch

from deeperfour.models import colorizer
from deeperfour.models.mobileunet import MobileUnet, MobileUnetConfig
from deeperfour.pipeline.chunks import CHUNK_BYTES, chunks, frames_per_chunk


def test_a_chunk_of_large_frames_stays_under_the_byte_bound():
    assert frames_per_chunk(640, 360, 16) == 16
    assert frames_per_chunk(1920, 1080, 16) * 1920 * 1080 * 12 <= CHUNK_BYTES
    assert frames_per_chunk(3840, 2160, 16) == 1  # one frame at least, even over the bound
    frames = [np.full((1080, 1920, 3), 128, np.uint8)] * 7
    sizes = [len(c.frames) for c in chunks(frames, 24.0, 16)]
    assert sum(sizes) == 7 and max(sizes) == frames_per_chunk(1920, 1080, 16)


def test_row_bands_give_the_same_pixels(monkeypatch):
    torch.manual_seed(0)
    model = MobileUnet(MobileUnetConfig()).eval()
    frames = torch.rand(1, 3, 300, 200)
    with torch.inference_mode():
        banded = colorizer.colorize(model, frames, 4)
        monkeypatch.setattr(colorizer, "BAND_ROWS", 10_000)
        whole = colorizer.colorize(model, frames, 4)
    assert torch.equal(banded, whole)
