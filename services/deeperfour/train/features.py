"""The feature network of the perceptual and content losses.

No pretrained VGG can be downloaded here, so the default is torchvision's VGG16 architecture with its own init
(Kaiming normal, fan-out) under a fixed seed, cut after relu3_3 and frozen. Random conv features still respond to
edges, texture and colour layout, so a distance between them is a structure-aware loss; it is not the ImageNet
VGG of the papers, and a config can swap it for a plain L1 (`features: none`) to measure what it changes.
A file of real VGG16 weights (torchvision key names, safetensors) can be given as `features_weights`.

What it changes, measured on four 192 px Kodak crops (loss between the crop and its distorted copy):

    distortion                       L1       relu2_2    relu3_3    relu4_3
    uniform colour shift 0.05 (R)    0.0167   2.22e-4    1.07e-4    4.84e-5
    Gaussian noise sd 0.03           0.024    4.28e-4    2.74e-4    1.26e-4
    Gaussian blur sd 1.5 px          0.0279   1.81e-3    1.60e-3    8.63e-4
    shift by 1 px                    0.0302   9.78e-4    3.41e-4    1.23e-4

Per unit of L1, the random-VGG distance is ~5x (relu2_2), ~9x (relu3_3) and ~11x (relu4_3) more sensitive
to lost detail (blur) than to a uniform colour shift: as a fidelity term for the stabilizer it guards structure
and leaves room for colour corrections, which is what Lai et al. use the perceptual loss for. How its scale
compares with an ImageNet VGG's is unknown here (no pretrained weights to compare with), so loss weights from
papers are recalibrated by measurement (see train/stabilizer.py).
"""

from __future__ import annotations

import torch
import torchvision
from safetensors.torch import load_file
from torch import nn

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
LAYERS = {"relu1_2": 4, "relu2_2": 9, "relu3_3": 16, "relu4_3": 23}  # index after the ReLU in vgg16().features


class VGGFeatures(nn.Module):
    """RGB [0,1] (B,3,H,W) -> VGG16 activations at `layer`; parameters frozen."""

    def __init__(self, layer: str = "relu3_3", seed: int = 0, weights: str | None = None):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            vgg = torchvision.models.vgg16(weights=None)
        if weights:
            vgg.load_state_dict(load_file(weights), strict=False)
        self.net = vgg.features[: LAYERS[layer]].eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):  # always eval: no dropout/BN here, but keep it explicit
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - IMAGENET_MEAN.to(x)) / IMAGENET_STD.to(x))


BACKBONE = "train/backbones/mobilenet_v2_imagenet/tf2_mobilenet_v2_1.0_224_ptq.tflite"  # under data_root
MOBILENET_LAYERS = {"stride2": 1, "stride4": 2, "stride8": 3, "stride16": 4}  # how many MobileNetV2 taps


def mobilenet_weights(spec: str | None = None, data_root=None) -> dict:
    """The ImageNet MobileNetV2's state_dict: from a .tflite file (relative paths under data_root; default the one
    in ../shared/data/train) or a .safetensors file written by `deeperfour weights import`."""
    from pathlib import Path

    from deeperfour.models.mobilenet import read_tflite
    from deeperfour.train.common import DATA_ROOT

    path = Path(spec or BACKBONE)
    if not path.is_absolute() and not path.exists():
        path = Path(data_root or DATA_ROOT) / path
    return read_tflite(path) if path.suffix == ".tflite" else load_file(str(path))


class MobileNetFeatures(nn.Module):
    """RGB [0,1] (B,3,H,W) -> the ImageNet MobileNetV2's activations at `layer` (see MOBILENET_LAYERS); frozen."""

    def __init__(self, layer: str = "stride8", weights: str | None = None, data_root=None):
        super().__init__()
        from deeperfour.models.mobilenet import MobileNetV2

        self.net = MobileNetV2(classes=0)
        sd = {k: v for k, v in mobilenet_weights(weights, data_root).items() if not k.startswith("classifier.")}
        self.net.load_state_dict(sd, strict=True)
        self.depth = MOBILENET_LAYERS[layer]
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from deeperfour.models.mobilenet import to_input

        return self.net.features(to_input(x), depth=self.depth)[-1]


def feature_network(kind: str, layer: str, weights: str | None = None, data_root=None) -> nn.Module | None:
    """'mobilenet_v2' (ImageNet-pretrained), 'vgg16-random' (random init, fixed seed) or 'none'."""
    if kind == "none":
        return None
    if kind == "mobilenet_v2":
        return MobileNetFeatures(layer, weights, data_root)
    return VGGFeatures(layer, weights=weights)


class PerceptualLoss(nn.Module):
    """Mean squared distance of a feature network's activations (Johnson et al.), or mean L1 on pixels with
    `features: none`."""

    def __init__(self, kind: str = "mobilenet_v2", layer: str = "stride8", weights: str | None = None, data_root=None):
        super().__init__()
        self.kind = kind
        self.features = feature_network(kind, layer, weights, data_root)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.features is None:
            return (a - b).abs().mean()
        return nn.functional.mse_loss(self.features(a), self.features(b))
