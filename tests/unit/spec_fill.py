"""Test support: read a specs folder (keys.tsv) and build its state_dict with the `deeperfour-fill-v1` rule.

The rule is defined in ../shared/specs/README.md §0; this is an implementation of that text.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"

# DeOldify's filled checkpoints hold the spectral-norm vectors after one power iteration.
POWER_ITERATIONS = {"deoldify_video": 1, "deoldify_artistic": 1, "lai_transformnet": 0, "cartoongan": 0}


def spec_dir(name: str) -> Path:
    """The spec folder, or skip the calling test when the shared specs are not on this machine."""
    path = SPECS / name
    if not path.is_dir():
        pytest.skip(f"reference vectors not found at {path}")
    return path


def read_keys(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        rows.append((key, tuple(int(s) for s in shape.split(",")) if shape else (), dtype))
    return rows


def _draw(key: str, shape: tuple[int, ...], dtype: str, g: torch.Generator) -> torch.Tensor:
    leaf, nd = key.rsplit(".", 1)[-1], len(shape)
    if dtype == "int64":
        return torch.zeros(shape, dtype=torch.int64)
    if leaf == "running_mean":
        return torch.randn(shape, generator=g) * 0.1
    if leaf == "running_var":
        return 1.0 + 0.5 * torch.rand(shape, generator=g)
    if leaf == "gamma":
        return torch.full(shape, 0.5)
    if leaf == "weight_u" or (leaf == "weight_v" and nd == 1):
        t = torch.randn(shape, generator=g)
        return t / t.norm()
    if leaf in ("weight", "weight_orig", "weight_v") and nd >= 2:
        return torch.randn(shape, generator=g) * (1.0 / math.sqrt(math.prod(shape[1:])))
    if leaf == "weight_g" or (leaf in ("weight", "scale") and nd == 1):
        return 1.0 + 0.1 * torch.randn(shape, generator=g)
    if leaf in ("bias", "shift") and nd == 1:
        return 0.1 * torch.randn(shape, generator=g)
    raise ValueError("no fill rule for " + key)


def fill(rows, power_iterations: int) -> dict[str, torch.Tensor]:
    sd = {}
    for i, (key, shape, dtype) in enumerate(rows):
        sd[key] = _draw(key, shape, dtype, torch.Generator().manual_seed(1000 + i))
    for _ in range(power_iterations):
        for key in list(sd):
            if key.endswith(".weight_orig"):
                prefix = key[: -len("weight_orig")]
                W = sd[key].reshape(sd[key].shape[0], -1)
                v = F.normalize(W.t() @ sd[prefix + "weight_u"], dim=0, eps=1e-12)
                u = F.normalize(W @ v, dim=0, eps=1e-12)
                sd[prefix + "weight_u"], sd[prefix + "weight_v"] = u, v
    return sd


def filled_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The fill-v1 state_dict of specs/<name> (skips when absent)."""
    return fill(read_keys(spec_dir(name) / "keys.tsv"), POWER_ITERATIONS[name])


def load_vectors(name: str) -> dict:
    return torch.load(spec_dir(name) / "vectors.pt", weights_only=True)
