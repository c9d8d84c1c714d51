"""Train the lite colorizer (models/mobileunet.py): classification over quantized CIELAB (a, b) bins.

A training sample is a colour crop (photo or clip frame, the validation split left out: train/split.py) with film
edges put on it (black bars and rough gate edges, so they stay neutral), its luminance degraded to look like old
film (train/degrade.py) as the input, and its true (a, b) at half the crop size as the target. Each target colour
is spread over its four neighbouring bins (bilinear weights), and the loss is their cross-entropy with the
predicted distribution, weighted per pixel by how rare the pixel's colour is in the training data (Zhang et al.
2016's class rebalancing: w ∝ 1 / ((1 − λ) p̃ + λ / Q), p̃ the smoothed colour prior, normalised so E_p̃[w] = 1).
Without rebalancing the loss is dominated by the many desaturated pixels of sky, walls and roads, and the net
learns to hedge towards grey-brown.

The encoder starts from the ImageNet MobileNetV2 (`backbone`: the .tflite file, or the .safetensors that
`deeperfour weights import FILE --model mobilenet_v2-imagenet` writes);
`freeze_encoder` trains the decoder alone (DeOldify's order: decoder first, then everything at a lower rate for
the encoder, `encoder_lr`).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from deeperfour.models.colorspace import rgb_to_lab
from deeperfour.models.mobileunet import AB_RANGE, AB_STEP
from deeperfour.train import data, degrade
from deeperfour.train.common import DATA_ROOT
from deeperfour.train.features import mobilenet_weights
from deeperfour.train.loop import Trainer


class ColorizerData:
    """Square crops (0.55-1 of the short side, resized to `train_size`) of photos and clip frames; the validation
    split (train/split.py) is never read."""

    def __init__(self, cfg: dict, rng: np.random.Generator):
        root = cfg.get("data_root", DATA_ROOT)
        short = int(cfg.get("load_short_side", 256))
        self.images = data.load_images(root, cfg.get("photos", ["train/photos/*/*"]), short)
        stride = int(cfg.get("clip_stride", 3))
        for clip in data.load_clips(root, cfg.get("clips", ["train/video/davis2016/*"]), short, None):
            self.images += list(clip[::stride])
        self.size = int(cfg.get("train_size", 176))
        self.batch = int(cfg.get("batch_size", 16))
        self.scale = tuple(cfg.get("crop_scale", (0.55, 1.0)))
        self.rng = rng

    def sample(self, batch: int | None = None) -> torch.Tensor:
        """(B, 3, S, S) float RGB [0, 1]."""
        out = []
        for _ in range(batch or self.batch):
            img = self.images[self.rng.integers(len(self.images))]
            h, w = img.shape[:2]
            side = int(min(h, w) * self.rng.uniform(*self.scale))
            y, x = self.rng.integers(0, h - side + 1), self.rng.integers(0, w - side + 1)
            crop = cv2.resize(img[y : y + side, x : x + side], (self.size, self.size), interpolation=cv2.INTER_AREA)
            out.append(crop[:, ::-1] if self.rng.random() < 0.5 else crop)
        return torch.from_numpy(np.ascontiguousarray(np.stack(out))).permute(0, 3, 1, 2).float() / 255


def soft_targets(ab: torch.Tensor, grid_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2, h, w) true (a, b) -> (bins (B, 4, h, w), weights (B, 4, h, w)): the four neighbouring grid bins and
    their bilinear weights (summing to 1)."""
    n = grid_index.shape[0]
    g = ((ab + AB_RANGE) / AB_STEP).clamp(0, n - 1 - 1e-4)
    i0 = g.floor().long()
    f = g - i0
    fa, fb = f[:, 0], f[:, 1]
    ia, ib = i0[:, 0], i0[:, 1]
    bins = torch.stack(
        [grid_index[ia, ib], grid_index[ia + 1, ib], grid_index[ia, ib + 1], grid_index[ia + 1, ib + 1]], 1
    )
    weights = torch.stack([(1 - fa) * (1 - fb), fa * (1 - fb), (1 - fa) * fb, fa * fb], 1)
    weights = torch.where(bins >= 0, weights, torch.zeros_like(weights))  # out-of-gamut neighbours (rare)
    return bins.clamp_min(0), weights / weights.sum(1, keepdim=True).clamp_min(1e-6)


def colour_prior(targets: list[tuple[torch.Tensor, torch.Tensor]], grid_index: torch.Tensor, sigma: float = 0.5):
    """The empirical distribution of the bins (soft counts), smoothed by a Gaussian of `sigma` grid steps."""
    q = int(grid_index.max()) + 1
    counts = torch.zeros(q)
    for bins, weights in targets:
        counts.index_add_(0, bins.flatten(), weights.flatten())
    n = grid_index.shape[0]
    grid = torch.zeros(n, n)
    grid[grid_index >= 0] = counts
    t = torch.arange(-3, 4).float()
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, 7)
    grid = F.conv2d(F.conv2d(grid[None, None], k, padding=(0, 3)), k.transpose(2, 3), padding=(3, 0))[0, 0]
    prior = grid[grid_index >= 0]
    return prior / prior.sum()


def rebalancing_weights(prior: torch.Tensor, lam: float) -> torch.Tensor:
    w = 1 / ((1 - lam) * prior + lam / len(prior))
    return w / (prior * w).sum()


def classification_loss(
    logits: torch.Tensor, bins: torch.Tensor, weights: torch.Tensor, rebalance: torch.Tensor | None
) -> torch.Tensor:
    logp = F.log_softmax(logits.float(), dim=1)
    ce = -(weights * logp.gather(1, bins)).sum(1)  # (B, h, w)
    if rebalance is not None:
        nearest = bins.gather(1, weights.argmax(1, keepdim=True))[:, 0]
        ce = ce * rebalance[nearest]
    return ce.mean()


class ColorizerTrainer(Trainer):
    stage = "colorize"

    def __init__(self, cfg: dict, out_dir, *, quiet: bool = False):
        super().__init__(cfg, out_dir, quiet=quiet)
        if cfg.get("backbone") and not cfg.get("init_weights"):
            sd = mobilenet_weights(cfg["backbone"], cfg.get("data_root"))
            self.model.encoder.load_state_dict({k: v for k, v in sd.items() if not k.startswith("classifier.")})
        self.freeze = bool(cfg.get("freeze_encoder", False))
        encoder = list(self.model.encoder.parameters())
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        for p in encoder:
            p.requires_grad_(not self.freeze)
        lr = float(cfg.get("lr", 3e-4))
        groups = [{"params": rest, "lr": lr}]
        if not self.freeze:
            groups.append({"params": encoder, "lr": float(cfg.get("encoder_lr", lr / 10))})
        self.nets = {"model": self.model}
        self.opts = {"model": torch.optim.Adam(groups, betas=tuple(cfg.get("betas", (0.9, 0.99))))}
        self.data = ColorizerData(cfg, self.rng)
        self.degrade_strength = float(cfg.get("degrade", 1.0))
        self.film_stock = float(cfg.get("film_stock", 0.0))  # share of inputs from a stock nearer orthochromatic
        lam = cfg.get("rebalance_lambda")
        self.rebalance = None
        if lam is not None:
            prior_rng = np.random.default_rng(int(cfg.get("seed", 0)) + 1)  # independent of resumes
            sampler = ColorizerData.__new__(ColorizerData)
            sampler.__dict__.update(self.data.__dict__, rng=prior_rng, batch=32)
            targets = [
                soft_targets(self._ab_target(sampler.sample()), self.model.grid_index)
                for _ in range(int(cfg.get("prior_batches", 40)))
            ]
            self.rebalance = rebalancing_weights(colour_prior(targets, self.model.grid_index), float(lam))

    def _ab_target(self, rgb: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(rgb_to_lab(rgb)[:, 1:], 2)  # the head predicts at half the render size

    def step(self, i: int) -> dict:
        gt = degrade.frame_edges(self.data.sample(), self.rng)
        grey = degrade.old_film(degrade.film_stock(gt, self.rng, self.film_stock), self.rng, self.degrade_strength)
        bins, weights = soft_targets(self._ab_target(gt), self.model.grid_index)
        gt, grey, bins, weights = (t.to(self.device) for t in (gt, grey, bins, weights))
        with self.autocast():
            logits = self.model(grey.contiguous(memory_format=torch.channels_last))
        rebalance = self.rebalance.to(self.device) if self.rebalance is not None else None
        loss = classification_loss(logits, bins, weights, rebalance)
        opt = self.opts["model"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            ab = F.interpolate(self.model.colors(logits.detach(), 0.38), scale_factor=2, mode="bilinear")
            true_ab = rgb_to_lab(gt)[:, 1:]
            err = ((ab - true_ab) ** 2).sum(1).mean().sqrt() / (true_ab**2).sum(1).mean().sqrt().clamp_min(1e-6)
        return {"loss": loss.item(), "ab_rmse_vs_grey": err.item()}
