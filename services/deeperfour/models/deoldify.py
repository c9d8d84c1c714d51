"""DeOldify generators in plain PyTorch: DynamicUnetWide and DynamicUnetDeep.

Same module tree and state_dict keys as the published checkpoints (jantic/DeOldify, fastai 1.0), so
ColorizeVideo_gen.pth (wide, ResNet-101, nf_factor 2) and ColorizeArtistic_gen.pth (deep, ResNet-34,
nf_factor 1.5) load with strict=True. Architectural facts: ../shared/specs/README.md §1-2.

    layers.0   ResNet body (conv1 bn1 relu maxpool layer1..4), skips from children 2, 4, 5, 6
    layers.1-2 BN + ReLU on the body output
    layers.3   middle: ConvUnit(ni, 2ni), ConvUnit(2ni, ni)
    layers.4-7 decoder blocks (pixel-shuffle up, nearest size fix, cat with BN(skip), conv units);
               self-attention in layers.5
    layers.8   weight-norm pixel-shuffle up to the input resolution
    layers.9   cat with the network input
    layers.10  residual pair of spectral 3x3 convs
    layers.11  spectral 1x1 conv to 3 channels
    layers.12  sigmoid range (y_range)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


@dataclass(frozen=True)
class UnetConfig:
    backbone: str = "resnet101"  # torchvision builder name
    decoder: str = "wide"  # "wide" (ColorizeVideo / ColorizeStable) or "deep" (ColorizeArtistic)
    nf_factor: float = 2.0  # decoder width multiplier
    self_attention: bool = True  # in the second decoder block
    y_range: tuple[float, float] = (-3.0, 3.0)


def resnet_body(name: str) -> nn.Sequential:
    """A torchvision ResNet without avgpool/fc, children renamed 0..7; never downloads weights."""
    import torchvision  # here: the lite presets share this module's blocks and need no torchvision (1 s at start)

    net = getattr(torchvision.models, name)(weights=None)
    return nn.Sequential(*list(net.children())[:8])


SKIP_CHILDREN = (2, 4, 5, 6)  # relu (/2), layer1 (/4), layer2 (/8), layer3 (/16); layer4 (/32) is the bottom


def spectral_conv(ni: int, nf: int, ks: int = 3, bias: bool = False) -> nn.Module:
    return spectral_norm(nn.Conv2d(ni, nf, ks, padding=ks // 2, bias=bias))


def weight_norm_conv(ni: int, nf: int, ks: int = 1) -> nn.Module:
    with warnings.catch_warnings():  # the old API is deprecated, but its keys (weight_g/_v) are the checkpoint's
        warnings.simplefilter("ignore", FutureWarning)
        return torch.nn.utils.weight_norm(nn.Conv2d(ni, nf, ks, padding=ks // 2))


class SelfAttention(nn.Module):
    """SAGAN self-attention on (B, C, H, W): out = gamma * (h @ softmax(f^T g, dim=1)) + x."""

    def __init__(self, n: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.query = spectral_norm(nn.Conv1d(n, n // 8, 1, bias=False))
        self.key = spectral_norm(nn.Conv1d(n, n // 8, 1, bias=False))
        self.value = spectral_norm(nn.Conv1d(n, n, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        x = x.view(B, C, H * W)
        f, g, h = self.query(x), self.key(x), self.value(x)  # (B, C/8, N), (B, C/8, N), (B, C, N)
        beta = F.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)  # (B, N, N)
        out = self.gamma * torch.bmm(h, beta) + x
        return out.view(B, C, H, W)


class ConvUnit(nn.Sequential):
    """DeOldify's custom conv: spectral 3x3 conv (no bias) -> ReLU -> BN (after the ReLU) [-> self-attention]."""

    def __init__(self, ni: int, nf: int, self_attention: bool = False):
        layers = [spectral_conv(ni, nf), nn.ReLU(), nn.BatchNorm2d(nf)]
        if self_attention:
            layers.append(SelfAttention(nf))
        super().__init__(*layers)


class PixelShuffleUp(nn.Module):
    """x2 upsample: 1x1 conv to 4*nf [+ BN], ReLU, pixel shuffle, blur (replication pad + 2x2 mean, stride 1).

    norm="spectral": spectral conv without bias, then BN (decoder blocks);
    norm="weight": weight-norm conv with bias, no BN (the final upsample, layers.8).
    """

    def __init__(self, ni: int, nf: int, norm: str = "spectral"):
        super().__init__()
        if norm == "spectral":
            self.conv = nn.Sequential(spectral_conv(ni, nf * 4, ks=1), nn.BatchNorm2d(nf * 4))
        else:
            self.conv = nn.Sequential(weight_norm_conv(ni, nf * 4))
        self.shuf = nn.PixelShuffle(2)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shuf(F.relu(self.conv(x)))  # (B, nf, 2H, 2W)
        return self.blur(self.pad(x))


def _cat_skip(up: torch.Tensor, skip_bn: torch.Tensor) -> torch.Tensor:
    if up.shape[-2:] != skip_bn.shape[-2:]:  # odd sizes: the up path is one pixel larger
        up = F.interpolate(up, skip_bn.shape[-2:], mode="nearest")
    return F.relu(torch.cat([up, skip_bn], dim=1))


class UnetBlockWide(nn.Module):
    """Up (up_in -> n_out/2), cat BN(skip), one conv unit to n_out/2."""

    def __init__(self, up_in: int, skip_in: int, n_out: int, self_attention: bool):
        super().__init__()
        half = n_out // 2
        self.shuf = PixelShuffleUp(up_in, half)
        self.bn = nn.BatchNorm2d(skip_in)
        self.conv = ConvUnit(half + skip_in, half, self_attention)
        self.out_channels = half

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(_cat_skip(self.shuf(x), self.bn(skip)))


class UnetBlockDeep(nn.Module):
    """Up (up_in -> up_in/2), cat BN(skip) (ni channels), two conv units to nf = int(ni*f) (final: int(ni//2*f))."""

    def __init__(self, up_in: int, skip_in: int, nf_factor: float, final: bool, self_attention: bool):
        super().__init__()
        self.shuf = PixelShuffleUp(up_in, up_in // 2)
        self.bn = nn.BatchNorm2d(skip_in)
        ni = up_in // 2 + skip_in
        nf = int((ni // 2 if final else ni) * nf_factor)
        self.conv1 = ConvUnit(ni, nf)
        self.conv2 = ConvUnit(nf, nf, self_attention)
        self.out_channels = nf

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(_cat_skip(self.shuf(x), self.bn(skip))))


class ResBlock(nn.Module):
    """x + unit2(unit1(x)), each unit a spectral 3x3 conv with bias then ReLU (no BN)."""

    def __init__(self, n: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Sequential(spectral_conv(n, n, bias=True), nn.ReLU()) for _ in range(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers[1](self.layers[0](x))


class CatInput(nn.Module):
    """layers.9: dense merge with the network input."""

    def forward(self, x: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, img], dim=1)


class SigmoidRange(nn.Module):
    def __init__(self, low: float, high: float):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low


class DynamicUnet(nn.Module):
    """DeOldify generator: (B, 3, H, W) ImageNet-normalised grey image -> (B, 3, H, W) in y_range.

    H and W should be multiples of 16 (DeOldify renders at 16 * render_factor).
    """

    def __init__(self, config: UnetConfig):
        super().__init__()
        assert config.decoder in ("wide", "deep"), config.decoder
        self.config = config
        body = resnet_body(config.backbone)
        skip_ch, ni = self._channels(body)  # skips from shallow to deep, bottom width
        middle = nn.Sequential(ConvUnit(ni, ni * 2), ConvUnit(ni * 2, ni))

        blocks, x = [], ni
        nf = int(512 * config.nf_factor)
        for i, s in enumerate(reversed(skip_ch)):
            final = i == len(skip_ch) - 1
            sa = config.self_attention and i == 1
            if config.decoder == "wide":
                block = UnetBlockWide(x, s, nf // 2 if final else nf, sa)
            else:
                block = UnetBlockDeep(x, s, config.nf_factor, final, sa)
            blocks.append(block)
            x = block.out_channels

        self.layers = nn.ModuleList(
            [
                body,  # 0
                nn.BatchNorm2d(ni),  # 1
                nn.ReLU(),  # 2
                middle,  # 3
                *blocks,  # 4..7
                PixelShuffleUp(x, x, norm="weight"),  # 8
                CatInput(),  # 9
                ResBlock(x + 3),  # 10
                nn.Sequential(spectral_conv(x + 3, 3, ks=1, bias=True)),  # 11
                SigmoidRange(*config.y_range),  # 12
            ]
        )

    @staticmethod
    @torch.no_grad()
    def _channels(body: nn.Sequential) -> tuple[list[int], int]:
        was_training = body.training
        x, skips = torch.zeros(1, 3, 64, 64), []
        body.eval()
        for i, m in enumerate(body):
            x = m(x)
            if i in SKIP_CHILDREN:
                skips.append(x.shape[1])
        body.train(was_training)
        return skips, x.shape[1]

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        L = self.layers
        x, skips = img, []
        for i, m in enumerate(L[0]):
            x = m(x)
            if i in SKIP_CHILDREN:
                skips.append(x)
        x = L[3](L[2](L[1](x)))  # (B, ni, H/32, W/32)
        for block, skip in zip(L[4:8], reversed(skips)):
            x = block(x, skip)  # up to H/2
        x = L[8](x)  # (B, c, H, W)
        x = L[10](L[9](x, img))  # (B, c+3, H, W)
        return L[12](L[11](x))  # (B, 3, H, W)
