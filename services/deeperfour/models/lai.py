"""Lai et al. 2018, "Learning Blind Video Temporal Consistency": TransformNet + ConvLSTM in plain PyTorch.

Same module tree and state_dict keys as phoenix104104/fast_blind_video_consistency (nf 32, 5 blocks,
norm 'IN', 12-channel input), so its checkpoint loads with strict=True. Facts: ../shared/specs/README.md §3.

Input X_t = cat(P_t, O_{t-1}, I_t, I_{t-1}) (B, 12, H, W), H and W multiples of 4; output Y_t = tanh(...),
and the caller forms O_t = P_t + Y_t. Branch a sees (P_t, O_{t-1}), branch b sees (I_t, I_{t-1}).

The original's normalisation never runs (its guard `norm in ["BN" or "IN"]` means `in ["BN"]`), but its
InstanceNorm buffers are in the checkpoint, so every ConvLayer keeps an unused `norm_layer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (B, lstm, H/4, W/4)


@dataclass(frozen=True)
class TransformNetConfig:
    nf: int = 32  # width of the first encoder stage; stages are nf, 2nf, 4nf
    blocks: int = 5  # residual blocks at 1/4 resolution
    lstm: int = 128  # ConvLSTM hidden channels (the original: 4 * nf)
    work_scale: float = 1.0  # the frame adapter runs the net at this fraction of the frame size


class ConvLayer(nn.Module):
    """Reflection pad k//2, conv with bias. `norm_layer` only carries the checkpoint's unused IN buffers."""

    def __init__(self, ni: int, nf: int, ks: int, stride: int = 1, norm_buffers: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d(ks // 2)
        self.conv2d = nn.Conv2d(ni, nf, ks, stride)
        if norm_buffers:  # never applied, see the module docstring
            self.norm_layer = nn.InstanceNorm2d(nf, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.pad(x))


class UpConvLayer(ConvLayer):
    """Nearest x2 upsample, then ConvLayer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResidualBlock(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.conv1 = ConvLayer(n, n, 3)
        self.conv2 = ConvLayer(n, n, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class ConvLSTM(nn.Module):
    """One 3x3 conv on cat(x, h) gives the (in, remember, out, cell) gates; zero state when none is given."""

    def __init__(self, ni: int, hidden: int, ks: int = 3):
        super().__init__()
        self.hidden = hidden
        self.Gates = nn.Conv2d(ni + hidden, 4 * hidden, ks, padding=ks // 2)

    def forward(self, x: torch.Tensor, state: State | None = None) -> State:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (zeros, zeros)
        h_prev, c_prev = state
        i, r, o, g = self.Gates(torch.cat([x, h_prev], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(r) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class TransformNet(nn.Module):
    def __init__(self, config: TransformNetConfig = TransformNetConfig()):
        super().__init__()
        self.config = config
        nf = config.nf
        self.conv1a = ConvLayer(6, nf, 7)
        self.conv1b = ConvLayer(6, nf, 7)
        self.conv2a = ConvLayer(nf, nf * 2, 3, 2)
        self.conv2b = ConvLayer(nf, nf * 2, 3, 2)
        self.conv3 = ConvLayer(nf * 4, nf * 4, 3, 2)
        self.ResBlocks = nn.ModuleList(ResidualBlock(nf * 4) for _ in range(config.blocks))
        self.convlstm = ConvLSTM(nf * 4, config.lstm)
        self.deconv1 = UpConvLayer(config.lstm, nf * 2, 3)
        self.deconv2 = UpConvLayer(nf * 4, nf, 3)
        self.deconv3 = ConvLayer(nf * 2, 3, 7, norm_buffers=False)  # the output conv has no norm

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, 12, H, W) -> Y (B, 3, H, W) in (-1, 1), new (h, c)."""
        act = lambda t: F.leaky_relu(t, 0.2)
        e1a = act(self.conv1a(x[:, :6]))  # (B, nf, H, W)
        e1b = act(self.conv1b(x[:, 6:]))
        e2a = act(self.conv2a(e1a))  # (B, 2nf, H/2, W/2)
        e2b = act(self.conv2b(e1b))
        r = act(self.conv3(torch.cat([e2a, e2b], dim=1)))  # (B, 4nf, H/4, W/4)
        for block in self.ResBlocks:
            r = block(r)
        state = self.convlstm(r, state)  # h, c: (B, lstm, H/4, W/4)
        d2 = act(self.deconv1(state[0]))  # (B, 2nf, H/2, W/2)
        d1 = act(self.deconv2(torch.cat([d2, e2a], dim=1)))  # (B, nf, H, W)
        y = torch.tanh(self.deconv3(torch.cat([d1, e1a], dim=1)))  # (B, 3, H, W)
        return y, state
