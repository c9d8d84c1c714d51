"""The ImageNet MobileNetV2 imported from TensorFlow Lite: `deeperfour weights import FILE --model mobilenet_v2-imagenet`."""

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from deeperfour.models.mobilenet import MobileNetV2, read_tflite, to_input
from deeperfour.models.weights_cli import add_weights_command

SHARED = Path(__file__).resolve().parents[3] / "shared"
BACKBONE = SHARED / "data" / "train" / "backbones" / "mobilenet_v2_imagenet"
TFLITE = BACKBONE / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
SAMPLES = SHARED / "data" / "train" / "photos" / "imagenet_samples"
needs_backbone = pytest.mark.skipif(not TFLITE.exists(), reason="../shared/data/train/backbones is absent")


def cli(*argv) -> int:
    parser = argparse.ArgumentParser(prog="deeperfour")
    add_weights_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def class_index(files) -> list[int]:
    """ImageNet label index of each sample (file name 'nXXXXXXXX_class_name'); labels.txt line 0 is background.
    A name that two classes share (crane, maillot, cardigan) goes by synset order, which is the label order."""
    labels = [
        line.split(",")[0].strip().lower().replace(" ", "_") for line in (BACKBONE / "imagenet_labels.txt").open()
    ]
    names = [f.stem.split("_", 1)[1].lower() for f in files]
    taken: dict[str, int] = {}
    out = []
    for name in names:  # files are sorted by synset id
        matches = [i for i, label in enumerate(labels) if label == name]
        out.append(matches[taken.get(name, 0)] if matches else -1)
        taken[name] = taken.get(name, 0) + 1
    return out


def centre_crop(path) -> torch.Tensor:
    img = Image.open(path).convert("RGB")
    s = 256 / min(img.size)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.BILINEAR)
    left, top = (img.width - 224) // 2, (img.height - 224) // 2
    return torch.from_numpy(np.asarray(img.crop((left, top, left + 224, top + 224)), np.float32) / 255).permute(2, 0, 1)


@needs_backbone
@pytest.mark.slow
def test_imported_backbone_classifies_imagenet_samples(tmp_path, capsys):
    assert cli("weights", "import", str(TFLITE), "--model", "mobilenet_v2-imagenet", "--store", str(tmp_path)) == 0
    model = MobileNetV2()
    model.load_state_dict(load_file(str(tmp_path / "mobilenet_v2-imagenet.safetensors")), strict=True)
    model.eval()
    files = sorted(SAMPLES.glob("*.jpg"))
    truth = class_index(files)
    assert sum(t < 0 for t in truth) <= 3  # a couple of names are spelt differently in the label file
    hits = n = 0
    with torch.no_grad():
        for i in range(0, len(files), 64):
            x = torch.stack([centre_crop(f) for f in files[i : i + 64]])
            pred = model(to_input(x)).argmax(1).tolist()
            for p, t in zip(pred, truth[i : i + 64]):
                if t >= 0:
                    hits, n = hits + (p == t), n + 1
    top1 = hits / n
    print(f"top-1 {top1:.3f} on {n} ImageNet samples")
    assert top1 >= 0.6


@needs_backbone
def test_conversion_is_plain_dequantization():
    """Every convolution's weights are int8 levels times its per-channel scale: the converted weights of one output
    channel are a multiple of one step, and batch norm is folded in (every conv has a bias, no BN keys)."""
    sd = read_tflite(TFLITE)
    assert not any("bn" in k or "running" in k for k in sd)
    assert all(f"{k[: -len('weight')]}bias" in sd for k in sd if k.endswith("weight"))
    w = sd["blocks.3.project.conv.weight"][0].flatten()
    step = w.abs().max() / 127
    assert torch.allclose(w / step, (w / step).round(), atol=1e-3)


def test_stride_two_pads_like_tensorflow():
    """SAME padding: on an even size a stride-2 3x3 conv pads one pixel after and none before, so output pixel 0
    sees input pixels 0-2 (symmetric padding would centre it on pixel 0)."""
    model = MobileNetV2(classes=0)
    conv = model.stem.conv
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 0, 0] = 1  # picks the top-left input pixel of each window
        conv.bias.zero_()
        x = torch.zeros(1, 3, 8, 8)
        x[0, :, 0, 0] = 1
        y = model.stem(x)
    assert y.shape[-2:] == (4, 4)
    assert y[0, 0, 0, 0] > 0  # window 0 starts at pixel 0: no padding before


def test_not_a_tflite_file_is_one_error(tmp_path, capsys):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(Exception) as e:
        cli("weights", "import", str(bad), "--model", "mobilenet_v2-imagenet", "--store", str(tmp_path / "store"))
    assert "TensorFlow Lite" in str(e.value)
    assert not (tmp_path / "store" / "mobilenet_v2-imagenet.safetensors").exists()
