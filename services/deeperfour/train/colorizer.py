"""Train the colorizer (DeOldify-family U-Net) from grey to colour on photos and colour-clip frames.

The training view is the inference view of deeperfour.models.colorizer.colorize: a frame stretched to a
(16·render_factor)² square, made grey (BT.601 luma), ImageNet-normalised; the net's output, denormalised, gives
the chroma (YUV U, V) that inference merges onto the source's own luminance. So the losses look at chroma:

- L_chroma: L1 (or L2) on (U, V), each pixel optionally weighted by 1 + |uv_gt| / tau. A plain L1/L2 on chroma
  is minimised by the washed-out, sepia-like average colour, because saturated colours are rare.
- L_colourful: CF(pred) against CF(gt), CF the Hasler–Süsstrunk colourfulness (the metric `eval` reports) of the
  prediction's chroma over the true luminance. It asks for the true amount of colour without saying where each
  colour goes, which the average colour cannot satisfy. Two forms:
  * match, |CF(pred) − CF(gt)| / 100 (no `colourful_floor`), used with tau = 0.05 in the first CPU run: the
    colorizer came out as colourful as the truth (ratio 1.0-1.4 on held-out clips) but with colours in the wrong
    places, 2-6 dB of PSNR *below* the grey input;
  * hinge, max(0, f·CF(gt) − CF(pred)) / 100 with `colourful_floor: f` (the shipped configs): with an L2 chroma
    loss this is "maximise PSNR subject to at least f of the true colourfulness": the L2 term pulls every
    uncertain colour towards the PSNR-optimal mean, the hinge only stops the whole image from going grey.
    `colourful_ceiling: c` adds the other side, max(0, CF(pred) − c·CF(gt)) / 100: in practice the small net
    trained for minutes on this CPU stayed *over*-saturated under L2 (train ratio ~1.25, held-out ~2.5), so the
    shipped config keeps its colourfulness in a band below the truth.
- L_rgb: a small L1 on RGB, so the render's luminance (discarded at inference) stays in gamut and U, V are not
  distorted by clamping.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deeperfour.train import data
from deeperfour.train.common import DATA_ROOT, adam
from deeperfour.train.loop import Trainer

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def luma(x: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) RGB -> (B,1,H,W) BT.601 Y (as OpenCV and PIL 'L')."""
    return 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def chroma(x: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) RGB -> (B,2,H,W) U, V without offsets (OpenCV's float RGB->YUV)."""
    y = luma(x)
    return torch.cat([0.492 * (x[:, 2:3] - y), 0.877 * (x[:, :1] - y)], dim=1)


def yuv_to_rgb(y: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    u, v = uv[:, :1], uv[:, 1:]
    r = y + v / 0.877
    b = y + u / 0.492
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.cat([r, g, b], dim=1)


def colourfulness(x: torch.Tensor) -> torch.Tensor:
    """Differentiable Hasler–Süsstrunk colourfulness per image of (B,3,H,W) RGB [0,1], on the 0..255 scale."""
    x = x * 255
    rg = (x[:, 0] - x[:, 1]).flatten(1)
    yb = (0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]).flatten(1)
    std = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False) + 1e-6)
    mean = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2 + 1e-6)
    return std + 0.3 * mean


def model_input(grey_rgb: torch.Tensor) -> torch.Tensor:
    return (grey_rgb - IMAGENET_MEAN.to(grey_rgb)) / IMAGENET_STD.to(grey_rgb)


def model_output(y: torch.Tensor) -> torch.Tensor:
    return (y * IMAGENET_STD.to(y) + IMAGENET_MEAN.to(y)).clamp(0, 1)


def colorizer_losses(pred: torch.Tensor, gt: torch.Tensor, cfg: dict) -> dict:
    """pred, gt: (B,3,S,S) RGB [0,1]. Returns the weighted terms and their sum under 'loss'."""
    uv_p, uv_g = chroma(pred), chroma(gt)
    tau = float(cfg.get("tau") or 0)
    w = 1 + uv_g.norm(dim=1, keepdim=True) / tau if tau > 0 else 1.0
    err = (uv_p - uv_g).abs()
    l_chroma = (w * (err**2 if cfg.get("chroma_loss", "l1") == "l2" else err)).mean()
    merged = yuv_to_rgb(luma(gt), uv_p).clamp(0, 1)  # what inference shows: true Y, predicted chroma
    cf_p, cf_g = colourfulness(merged), colourfulness(gt)
    floor = cfg.get("colourful_floor")
    if floor is None:  # match the true colourfulness
        l_colour = ((cf_p - cf_g).abs() / 100).mean()
    else:  # only resist falling below floor × the true colourfulness; above it, the chroma loss decides
        l_colour = (F.relu(float(floor) * cf_g - cf_p) / 100).mean()
    ceiling = cfg.get("colourful_ceiling")
    if ceiling is not None:  # and, optionally, rising above ceiling × the true colourfulness
        l_colour = l_colour + (F.relu(cf_p - float(ceiling) * cf_g) / 100).mean()
    l_rgb = (pred - gt).abs().mean()
    terms = {
        "chroma": float(cfg.get("w_chroma", 1.0)) * l_chroma,
        "colourful": float(cfg.get("w_colourful", 0.5)) * l_colour,
        "rgb": float(cfg.get("w_rgb", 0.1)) * l_rgb,
    }
    terms["loss"] = sum(terms.values())
    return terms


class ColorizerData:
    """Random crops (aspect 0.75..1.8, stretched to a square as inference does) of photos and clip frames."""

    def __init__(self, cfg: dict, rng: np.random.Generator):
        root = cfg.get("data_root", DATA_ROOT)
        short = int(cfg.get("load_short_side", 256))
        self.images = data.load_images(root, cfg.get("photos", ["photos/*/*"]), short, cfg.get("max_photos"))
        for clip in data.load_clips(root, cfg.get("clips", []), short, int(cfg.get("clip_frames", 200)),
                                    cfg.get("holdout", ())):
            self.images += list(clip[:: int(cfg.get("clip_stride", 10))])
        # inference renders at 16·render_factor; a smaller train_size trades scale fidelity for steps on a CPU
        self.size = int(cfg.get("train_size") or 16 * int(cfg.get("render_factor", 8)))
        self.batch = int(cfg.get("batch_size", 16))
        self.rng = rng

    def sample(self) -> torch.Tensor:
        """(B,3,S,S) float RGB [0,1]."""
        import cv2

        out = []
        for _ in range(self.batch):
            img = self.images[self.rng.integers(len(self.images))]
            h, w = img.shape[:2]
            aspect = self.rng.uniform(0.75, 1.8)
            scale = self.rng.uniform(0.5, 1.0)
            ch = int(min(h, w / aspect) * scale)
            cw = int(ch * aspect)
            y, x = self.rng.integers(0, h - ch + 1), self.rng.integers(0, w - cw + 1)
            crop = cv2.resize(img[y : y + ch, x : x + cw], (self.size, self.size), interpolation=cv2.INTER_AREA)
            out.append(crop[:, ::-1] if self.rng.random() < 0.5 else crop)
        return torch.from_numpy(np.ascontiguousarray(np.stack(out))).permute(0, 3, 1, 2).float() / 255


class ColorizerTrainer(Trainer):
    stage = "colorize"

    def __init__(self, cfg: dict, out_dir, *, quiet: bool = False):
        super().__init__(cfg, out_dir, quiet=quiet)
        self.nets = {"model": self.model}
        self.opts = {"model": adam(self.model.parameters(), cfg)}
        self.data = ColorizerData({"render_factor": self.preset.options["render_factor"], **cfg},
                                  self.rng)

    def step(self, i: int) -> dict:
        gt = self.data.sample().to(self.device)
        grey = luma(gt).expand(-1, 3, -1, -1)
        pred = model_output(self.model(model_input(grey)))
        terms = colorizer_losses(pred, gt, self.cfg)
        opt = self.opts["model"]
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        with torch.no_grad():
            terms["cf_ratio"] = (colourfulness(yuv_to_rgb(luma(gt), chroma(pred)).clamp(0, 1)).mean()
                                 / colourfulness(gt).mean().clamp_min(1e-6))
            terms["psnr_gain"] = _psnr(yuv_to_rgb(luma(gt), chroma(pred)).clamp(0, 1), gt) - _psnr(grey, gt)
        return {k: v.item() for k, v in terms.items()}


def _psnr(a, b):
    return 10 * torch.log10(1 / F.mse_loss(a, b).clamp_min(1e-10))
