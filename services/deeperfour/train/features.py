"""The feature network of the perceptual and content losses: the ImageNet-pretrained MobileNetV2 (models/mobilenet.py),
the only pretrained image network that can be had here, frozen, cut at one of its taps.

Lai et al. and CartoonGAN use an ImageNet VGG (relu4_3, conv4_4); MobileNetV2 is smaller and was trained for the
same task, so its stride-8 tap stands in for VGG's stride-8 relu4_3. What it changes, measured on four 192 px
Kodak crops (mean squared feature distance between the crop and its distorted copy):

    distortion                       L1       stride2    stride4    stride8    stride16
    uniform colour shift 0.05 (R)    0.0163   1.37e-2    5.80e-2    6.09e-2    2.47e-2
    Gaussian noise sd 0.03           0.0237   2.38       5.49       5.02       1.99
    Gaussian blur sd 1.5 px          0.0413   14.4       17.4       14.6       4.78
    shift by 1 px                    0.0464   22.9       7.37       3.24       1.06

An ImageNet classifier's features barely see colour: per unit of pixel error a blur costs ~200x more than a colour
shift at stride 8. As the stabilizer's fidelity term that is what Lai et al. want (structure kept, colour free to be
made steady); the cartoonizer adds a colour term of its own (train/cartoonizer.py).
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file
from torch import nn

from deeperfour.errors import DeeperFourError

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
    """'mobilenet_v2' (ImageNet-pretrained) or 'none' (the losses fall back to pixels)."""
    if kind == "none":
        return None
    if kind != "mobilenet_v2":
        raise DeeperFourError(f"unknown feature network {kind!r}; valid: mobilenet_v2, none")
    return MobileNetFeatures(layer, weights, data_root)


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
