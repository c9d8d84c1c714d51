"""MobileNetV2 (Sandler et al. 2018, width 1.0) with batch norm folded into biased convolutions, and its import
from TensorFlow Lite's per-channel int8 ImageNet model: the pretrained encoder of the lite colorizer and the
feature network of the trainers' perceptual losses.

    model = MobileNetV2()                          # random init; 1001 ImageNet logits (index 0: background)
    model.load_state_dict(read_tflite(path))       # dequantized weights of tf2_mobilenet_v2_1.0_224_ptq.tflite
    taps = model.features(to_input(rgb01))          # activations at strides 2, 4, 8, 16, 32 (+ the 1280-wide head)

TensorFlow pads "SAME": a stride-2 convolution on an even size pads one pixel after, none before. PyTorch's
symmetric padding would shift every feature map by half a pixel against what the weights learnt, so stride-2
layers pad explicitly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# (expansion t, output channels c, repeats n, first stride s), the paper's Table 2
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
TAPS = (0, 2, 5, 12, 16)  # index of the last block at strides 2, 4, 8, 16, 32 (channels 16, 24, 32, 96, 320)
TAP_CHANNELS = (16, 24, 32, 96, 1280)  # what features() returns: the stride-32 tap is the 1280-wide head
CLASSES = 1001


def _same_pad(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class ConvAct(nn.Module):
    """Biased conv (batch norm folded in), TensorFlow SAME padding, optional ReLU6."""

    def __init__(self, ni: int, nf: int, k: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        pad = k // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(ni, nf, k, stride, pad, groups=groups, bias=True)
        self.k, self.stride, self.act = k, stride, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = _same_pad(x, self.k, self.stride)
        x = self.conv(x)
        return F.relu6(x) if self.act else x


class InvertedResidual(nn.Module):
    def __init__(self, ni: int, nf: int, stride: int, t: int):
        super().__init__()
        hidden = ni * t
        self.expand = ConvAct(ni, hidden) if t != 1 else None
        self.depthwise = ConvAct(hidden, hidden, 3, stride, groups=hidden)
        self.project = ConvAct(hidden, nf, act=False)
        self.residual = stride == 1 and ni == nf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """(B, 3, H, W) in TensorFlow's [-1, 1] input range -> (B, 1001) logits; classes=0: an encoder (features only)."""

    def __init__(self, classes: int = CLASSES):
        super().__init__()
        self.stem = ConvAct(3, 32, 3, 2)
        blocks, ni = [], 32
        for t, c, n, s in BLOCKS:
            for i in range(n):
                blocks.append(InvertedResidual(ni, c, s if i == 0 else 1, t))
                ni = c
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvAct(ni, 1280)
        self.classifier = nn.Conv2d(1280, classes, 1) if classes else None

    def features(self, x: torch.Tensor, depth: int = len(TAPS)) -> list[torch.Tensor]:
        """The first `depth` taps (strides 2, 4, 8, 16, 32); computes no more of the network than they need."""
        x, taps = self.stem(x), []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in TAPS[:depth]:
                taps.append(x)
            if len(taps) == depth:
                break
        if depth == len(TAPS):
            taps[-1] = self.head(taps[-1])
        return taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.classifier is not None, "an encoder has no classifier"
        x = self.features(x)[-1].mean((2, 3), keepdim=True)
        return self.classifier(x).flatten(1)


def to_input(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> the TFLite model's input range: uint8 levels with scale 1/127.5 and zero point 127."""
    return (rgb * 255 - 127) * (1 / 127.5)


# ---- TensorFlow Lite import --------------------------------------------------------------------------------------


def read_tflite(path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict of MobileNetV2 from a TFLite MobileNetV2 1.0 file (float or per-channel int8 weights).

    Walks the graph's convolutions in order and checks each against the architecture (kind, shape, stride,
    activation); anything else raises ValueError naming the operator."""
    try:
        import tflite
    except ImportError:
        raise ImportError("reading .tflite files needs the tflite package: pip install tflite") from None
    buf = Path(path).read_bytes()
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
    except Exception as e:  # the flatbuffer reader raises assorted errors on a file of another kind
        raise ValueError(f"not a TensorFlow Lite model ({type(e).__name__})") from None
    ops = tflite.BuiltinOperator
    convs = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if kind in (ops.CONV_2D, ops.DEPTHWISE_CONV_2D):
            opts = tflite.Conv2DOptions() if kind == ops.CONV_2D else tflite.DepthwiseConv2DOptions()
            table = op.BuiltinOptions()
            opts.Init(table.Bytes, table.Pos)
            weight = _dequantize(graph.Tensors(op.Inputs(1)), buf, model)
            bias = _dequantize(graph.Tensors(op.Inputs(2)), buf, model)
            relu6 = opts.FusedActivationFunction() == tflite.ActivationFunctionType.RELU6
            if kind == ops.CONV_2D:  # (O, kh, kw, I) -> (O, I, kh, kw)
                weight = weight.transpose(0, 3, 1, 2)
            else:  # (1, kh, kw, C) -> (C, 1, kh, kw)
                weight = weight.transpose(3, 0, 1, 2)
            convs.append((i, weight, bias, opts.StrideH(), relu6))

    target = MobileNetV2()
    layers = [m for m in target.modules() if isinstance(m, ConvAct)] + [target.classifier]
    if len(convs) != len(layers):
        raise ValueError(f"{len(convs)} convolutions, MobileNetV2 1.0 has {len(layers)}")
    names = {m: n for n, m in target.named_modules()}
    sd = {}
    for (i, weight, bias, stride, relu6), layer in zip(convs, layers):
        conv = layer.conv if isinstance(layer, ConvAct) else layer
        want_act = layer.act if isinstance(layer, ConvAct) else False
        if weight.shape != tuple(conv.weight.shape) or stride != conv.stride[0] or relu6 != want_act:
            raise ValueError(
                f"operator {i}: weight {weight.shape}, stride {stride}, relu6 {relu6} does not fit "
                f"{names[layer]} ({tuple(conv.weight.shape)}, stride {conv.stride[0]}, relu6 {want_act})"
            )
        prefix = names[conv]
        sd[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32))
        sd[f"{prefix}.bias"] = torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32))
    return sd


def _dequantize(tensor, buf: bytes, model) -> np.ndarray:
    """A constant tensor as float32: scale × (q − zero point), per channel along the quantized dimension."""
    import tflite

    dtypes = {
        tflite.TensorType.INT8: np.int8,
        tflite.TensorType.UINT8: np.uint8,
        tflite.TensorType.INT32: np.int32,
        tflite.TensorType.FLOAT32: np.float32,
    }
    if tensor.Type() not in dtypes:
        raise ValueError(f"tensor {tensor.Name().decode()}: unsupported type {tensor.Type()}")
    data = model.Buffers(tensor.Buffer()).DataAsNumpy()
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy())
    q = np.frombuffer(data.tobytes(), dtype=dtypes[tensor.Type()]).reshape(shape)
    if tensor.Type() == tflite.TensorType.FLOAT32:
        return q.astype(np.float32)
    quant = tensor.Quantization()
    scale = quant.ScaleAsNumpy().astype(np.float32)
    zero = quant.ZeroPointAsNumpy().astype(np.float32)
    if scale.size > 1:  # per channel
        bshape = [1] * q.ndim
        bshape[quant.QuantizedDimension()] = scale.size
        scale, zero = scale.reshape(bshape), zero.reshape(bshape)
    return (q.astype(np.float32) - zero) * scale
