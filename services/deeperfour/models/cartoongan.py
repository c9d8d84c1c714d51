"""CartoonGAN generator ("Transformer") in plain PyTorch.

Same flat state_dict keys as Yijunmaverick/CartoonGAN-Test-Pytorch-Torch (conv01_1, in01_1, ..., deconv03_1),
so its Hayao / Hosoda / Paprika / Shinkai checkpoints load with strict=True. Facts: ../shared/specs/README.md §4.

Works in BGR, [-1, 1]. Output size is 4*ceil(ceil(H/2)/2) x 4*ceil(ceil(W/2)/2) (the caller crops).

    stage 01   reflect pad 3, 7x7 conv 3->nf, IN, ReLU
    stage 02   3x3 stride-2 conv nf->2nf, 3x3 conv, IN, ReLU
    stage 03   3x3 stride-2 conv 2nf->4nf, 3x3 conv, IN, ReLU
    04..       `blocks` residual blocks: x + IN(conv(pad(ReLU(IN(conv(pad(x)))))))
    up 1, 2    ConvTranspose2d(k3, s2, p1, op1), 3x3 conv, IN, ReLU
    out        reflect pad 3, 7x7 conv to 3, tanh
Module names follow the original numbering: residual block k is conv{3+k}_1/_2, in{3+k}_1/_2; the two up
stages' norms are in{4+blocks}_1 and in{5+blocks}_1 (in12_1, in13_1 for 8 blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

STYLES = ("hayao", "hosoda", "paprika", "shinkai")  # the four published CartoonGAN checkpoints


@dataclass(frozen=True)
class CartoonGANConfig:
    nf: int = 64  # first-stage width; stages are nf, 2nf, 4nf
    blocks: int = 8  # residual blocks at 1/4 resolution


class InstanceNormalization(nn.Module):
    """(x - mean_hw) / sqrt(var_hw (biased) + eps) * scale + shift, with the original's eps of 1e-9."""

    def __init__(self, n: int, eps: float = 1e-9):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n))
        self.shift = nn.Parameter(torch.zeros(n))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One pass for the statistics (float32 whatever x is) and one for the affine map: the plain formula above
        # took five passes over the picture, most of the lite cartoonizer's time on a CPU.
        var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
        gain = self.scale[:, None, None] / torch.sqrt(var + self.eps)
        bias = self.shift[:, None, None] - mean * gain
        return torch.addcmul(bias.to(x.dtype), x, gain.to(x.dtype))


class CartoonGAN(nn.Module):
    def __init__(self, config: CartoonGANConfig = CartoonGANConfig()):
        super().__init__()
        self.config = config
        nf, n = config.nf, config.blocks
        self.conv01_1 = nn.Conv2d(3, nf, 7)
        self.in01_1 = InstanceNormalization(nf)
        self.conv02_1 = nn.Conv2d(nf, nf * 2, 3, 2, 1)
        self.conv02_2 = nn.Conv2d(nf * 2, nf * 2, 3, 1, 1)
        self.in02_1 = InstanceNormalization(nf * 2)
        self.conv03_1 = nn.Conv2d(nf * 2, nf * 4, 3, 2, 1)
        self.conv03_2 = nn.Conv2d(nf * 4, nf * 4, 3, 1, 1)
        self.in03_1 = InstanceNormalization(nf * 4)
        for k in range(4, 4 + n):  # residual blocks, named as in the original
            for j in (1, 2):
                self.add_module(f"conv{k:02d}_{j}", nn.Conv2d(nf * 4, nf * 4, 3))
                self.add_module(f"in{k:02d}_{j}", InstanceNormalization(nf * 4))
        self.deconv01_1 = nn.ConvTranspose2d(nf * 4, nf * 2, 3, 2, 1, 1)
        self.deconv01_2 = nn.Conv2d(nf * 2, nf * 2, 3, 1, 1)
        self.add_module(f"in{4 + n:02d}_1", InstanceNormalization(nf * 2))
        self.deconv02_1 = nn.ConvTranspose2d(nf * 2, nf, 3, 2, 1, 1)
        self.deconv02_2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.add_module(f"in{5 + n:02d}_1", InstanceNormalization(nf))
        self.deconv03_1 = nn.Conv2d(nf, 3, 7)

    def _m(self, name: str) -> nn.Module:
        return getattr(self, name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) BGR in [-1, 1] -> (B, 3, 4*ceil(H/4), 4*ceil(W/4)) BGR in (-1, 1)."""
        n = self.config.blocks
        x = F.relu(self.in01_1(self.conv01_1(F.pad(x, (3, 3, 3, 3), mode="reflect"))))  # (B, nf, H, W)
        x = F.relu(self.in02_1(self.conv02_2(self.conv02_1(x))))  # (B, 2nf, H/2, W/2)
        x = F.relu(self.in03_1(self.conv03_2(self.conv03_1(x))))  # (B, 4nf, H/4, W/4)
        for k in range(4, 4 + n):
            y = F.pad(x, (1, 1, 1, 1), mode="reflect")
            y = F.relu(self._m(f"in{k:02d}_1")(self._m(f"conv{k:02d}_1")(y)))
            y = F.pad(y, (1, 1, 1, 1), mode="reflect")
            x = x + self._m(f"in{k:02d}_2")(self._m(f"conv{k:02d}_2")(y))
        x = F.relu(self._m(f"in{4 + n:02d}_1")(self.deconv01_2(self.deconv01_1(x))))  # (B, 2nf, H/2, W/2)
        x = F.relu(self._m(f"in{5 + n:02d}_1")(self.deconv02_2(self.deconv02_1(x))))  # (B, nf, H, W)
        x = self.deconv03_1(F.pad(x, (3, 3, 3, 3), mode="reflect"))  # (B, 3, H, W)
        return torch.tanh(x)
