"""The film-stock grey of the colorizer's training input (train/degrade.py)."""

import numpy as np
import torch

from deeperfour.models.colorspace import luma
from deeperfour.train import degrade


def test_film_stock_is_luma_unless_asked():
    rgb = torch.rand(4, 3, 8, 8)
    assert torch.equal(degrade.film_stock(rgb, np.random.default_rng(0)), luma(rgb))


def test_an_orthochromatic_stock_darkens_red_lightens_blue_and_keeps_white():
    n = 200
    red, blue, white = (
        torch.tensor(c).view(1, 3, 1, 1).expand(n, 3, 2, 2) for c in ([1.0, 0, 0], [0, 0, 1.0], [1.0] * 3)
    )
    grey = [degrade.film_stock(c, np.random.default_rng(1), p=1.0) for c in (red, blue, white)]
    assert grey[0].max() <= 0.299 + 1e-6 and grey[0].min() < 0.03  # from luma's red down to nearly black
    assert grey[1].min() >= 0.114 - 1e-6 and grey[1].max() > 0.55  # from luma's blue up to a light grey
    assert torch.allclose(grey[2], torch.ones_like(grey[2]))
    half = degrade.film_stock(red, np.random.default_rng(2), p=0.5)
    assert 0.3 < (half >= 0.299 - 1e-6).float().mean() < 0.7  # about half the pictures keep plain luma
