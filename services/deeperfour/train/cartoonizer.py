"""Train the cartoonizer (CartoonGAN generator) with CartoonGAN's objective (Chen et al. 2018).

    L(G, D) = L_adv(G, D) + ω L_con(G)
    L_adv   = E[log D(c)] + E[log(1 − D(e))] + E[log(1 − D(G(p)))]
              c: cartoon images, e: the same cartoons with their edges smoothed (extra negatives, so D learns that
              clear edges are what makes a cartoon), p: photos
    L_con   = ||Φ(G(p)) − Φ(p)||₁ + w_colour ||B(G(p)) − B(p)||₁
              Φ: the ImageNet MobileNetV2 at stride 8 (train/features.py; the paper's VGG conv4_4 is not to be had),
              B: 8x8 block means. Φ barely sees colour (a 0.06 colour cast costs it 1/16 of what flattening a photo
              into a cartoon costs), so B keeps the photo's palette without holding on to its texture.
    warm-up: the first `warmup_steps` train G on L_con alone (the paper's reconstruction initialisation).

Images go through the generator as deeperfour.models.cartoonizer does at inference: BGR in [-1, 1].
The discriminator is the paper's (flat convs, two stride-2 stages, instance norm, 3x3 patch output), with its
width a config option.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deeperfour.train import data
from deeperfour.train.common import DATA_ROOT, adam
from deeperfour.train.features import feature_network
from deeperfour.train.loop import Trainer


class Discriminator(nn.Module):
    """CartoonGAN's D: (B,3,H,W) in [-1,1] -> (B,1,H/4,W/4) logits."""

    def __init__(self, nf: int = 32):
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2, inplace=True)
        self.net = nn.Sequential(
            nn.Conv2d(3, nf, 3, 1, 1),
            lrelu(),
            nn.Conv2d(nf, nf * 2, 3, 2, 1),
            lrelu(),
            nn.Conv2d(nf * 2, nf * 4, 3, 1, 1),
            nn.InstanceNorm2d(nf * 4, affine=True),
            lrelu(),
            nn.Conv2d(nf * 4, nf * 4, 3, 2, 1),
            lrelu(),
            nn.Conv2d(nf * 4, nf * 8, 3, 1, 1),
            nn.InstanceNorm2d(nf * 8, affine=True),
            lrelu(),
            nn.Conv2d(nf * 8, nf * 8, 3, 1, 1),
            nn.InstanceNorm2d(nf * 8, affine=True),
            lrelu(),
            nn.Conv2d(nf * 8, 1, 3, 1, 1),
        )

    def forward(self, x):
        return self.net(x)


def smooth_edges(img: np.ndarray, kernel: int = 5) -> np.ndarray:
    """CartoonGAN's edge-smoothed negative: Canny edges, dilated, replaced by their Gaussian blur."""
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.dilate(cv2.Canny(grey, 100, 200), np.ones((kernel, kernel), np.uint8))
    blurred = cv2.GaussianBlur(img, (kernel, kernel), 0)
    out = img.copy()
    out[edges > 0] = blurred[edges > 0]
    return out


def to_model(batch_u8: np.ndarray) -> torch.Tensor:
    """(B,H,W,3) RGB uint8 -> (B,3,H,W) BGR in [-1,1], the generator's input space."""
    x = torch.from_numpy(np.ascontiguousarray(batch_u8[..., ::-1])).permute(0, 3, 1, 2).float() / 255
    return x * 2 - 1


class CartoonizerTrainer(Trainer):
    stage = "cartoonize"

    def __init__(self, cfg: dict, out_dir, *, quiet: bool = False):
        super().__init__(cfg, out_dir, quiet=quiet)
        self.disc = Discriminator(int(cfg.get("disc_nf", 32))).to(self.device)
        self.nets = {"model": self.model, "disc": self.disc}
        self.opts = {"model": adam(self.model.parameters(), cfg), "disc": adam(self.disc.parameters(), cfg)}
        self.features = feature_network(
            cfg.get("features", "mobilenet_v2"),
            cfg.get("feature_layer", "stride8"),
            cfg.get("features_weights"),
            cfg.get("data_root"),
        )
        if self.features is not None:
            self.features = self.features.to(self.device)
        self.w_colour = float(cfg.get("w_colour", 0.0))
        root = cfg.get("data_root", DATA_ROOT)
        short = int(cfg.get("load_short_side", 256))
        self.size, self.batch = int(cfg.get("crop", 128)), int(cfg.get("batch_size", 4))
        photos = data.load_images(root, cfg.get("photos", ["train/photos/*/*"]), short, cfg.get("max_photos"))
        cartoons = data.load_images(
            root,
            cfg.get("cartoons", ["cartoon_style/*_frames/*", "cartoon_style/*.jpg"]),
            short,
            cfg.get("max_cartoons"),
        )
        self.photos = [data.at_least(p, self.size) for p in photos]  # a few photos are smaller than a crop
        self.cartoons = [data.at_least(c, self.size) for c in cartoons]
        self.smoothed = [smooth_edges(c) for c in self.cartoons]
        self.omega = float(cfg.get("omega", 10.0))
        self.warmup = int(cfg.get("warmup_steps", 100))

    def _crops(self, images: list, twins: list | None = None):
        a, b = [], []
        for _ in range(self.batch):
            k = int(self.rng.integers(len(images)))
            h, w = images[k].shape[:2]
            y, x = self.rng.integers(0, h - self.size + 1), self.rng.integers(0, w - self.size + 1)
            a.append(images[k][y : y + self.size, x : x + self.size])
            if twins is not None:
                b.append(twins[k][y : y + self.size, x : x + self.size])
        return np.stack(a), (np.stack(b) if twins is not None else None)

    def _content(self, fake, photo):
        """L1 between the feature network's activations (RGB [0,1]; the generator works in BGR [-1,1]), plus
        `w_colour` × L1 between 8x8-block mean colours: ImageNet features barely see colour, so without it the
        palette drifts; block means leave edges and texture free to change."""
        rgb = lambda x: (x[:, [2, 1, 0]] + 1) / 2
        a, b = rgb(fake), rgb(photo)
        loss = F.l1_loss(self.features(a), self.features(b)) if self.features is not None else F.l1_loss(a, b)
        if self.w_colour:
            loss = loss + self.w_colour * F.l1_loss(F.avg_pool2d(a, 8), F.avg_pool2d(b, 8))
        return loss

    def step(self, i: int) -> dict:
        photo = to_model(self._crops(self.photos)[0]).to(self.device)
        g_opt, d_opt = self.opts["model"], self.opts["disc"]
        if i <= self.warmup:  # reconstruction initialisation: content loss only
            with self.autocast():
                l_con = self._content(self.model(photo), photo).float()
            g_opt.zero_grad(set_to_none=True)
            (self.omega * l_con).backward()
            g_opt.step()
            return {"con": l_con.item()}
        cartoon, smooth = (to_model(x).to(self.device) for x in self._crops(self.cartoons, self.smoothed))
        bce = nn.functional.binary_cross_entropy_with_logits
        with self.autocast():
            fake = self.model(photo)
            d_real, d_edge, d_fake = (
                d.float() for d in (self.disc(cartoon), self.disc(smooth), self.disc(fake.detach()))
            )
        l_d = (
            bce(d_real, torch.ones_like(d_real))
            + bce(d_edge, torch.zeros_like(d_edge))
            + bce(d_fake, torch.zeros_like(d_fake))
        )
        d_opt.zero_grad(set_to_none=True)
        l_d.backward()
        d_opt.step()
        with self.autocast():
            d_gen = self.disc(fake).float()
            l_con = self._content(fake, photo).float()
        l_adv = bce(d_gen, torch.ones_like(d_gen))
        g_opt.zero_grad(set_to_none=True)
        (l_adv + self.omega * l_con).backward()
        g_opt.step()
        return {"d": l_d.item(), "adv": l_adv.item(), "con": l_con.item()}
