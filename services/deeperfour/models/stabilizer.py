"""stabilize_step(): one recurrent step of Lai et al.'s blind temporal consistency (../shared/specs §3).

X_t = cat(P_t, O_{t-1}, I_t, I_{t-1}); Y_t, state = net(X_t, state); O_t = P_t + Y_t.
The net runs at `model.config.work_scale` of the frame size, rounded up to multiples of 4 (bilinear
resize, as the original's test script does for sizes that are not multiples of 4); its residual Y is
resized back to the frame size, so O_t = P_t + up(Y_t) at full resolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deeperfour.models import registry

State = tuple[torch.Tensor, torch.Tensor]


def working_size(h: int, w: int, scale: float) -> tuple[int, int]:
    """The net's input size for an (h, w) frame: scaled, then rounded up to multiples of 4."""
    return 4 * math.ceil(round(h * scale) / 4), 4 * math.ceil(round(w * scale) / 4)


def stabilize_step(
    model: nn.Module,
    p: torch.Tensor,
    o_prev: torch.Tensor,
    i: torch.Tensor,
    i_prev: torch.Tensor,
    state: State | None,
) -> tuple[torch.Tensor, State]:
    """p, o_prev, i, i_prev: (B, 3, H, W) float32 on CPU; state None at a shot's start.

    Returns O_t (not clipped; feed it back raw as o_prev) and the new detached (h, c), on CPU.
    """
    H, W = p.shape[-2:]
    size = working_size(H, W, model.config.work_scale)
    frames = [p, o_prev, i, i_prev]
    if size != (H, W):  # resize before the cat: a full-size 12-channel copy costs as much as the resize
        frames = [F.interpolate(f, size, mode="bilinear", align_corners=False, antialias=True) for f in frames]
    x = torch.cat(frames, dim=1)  # (B, 12, h, w)
    if state is not None:  # one layout whether the state stayed in memory or came back from bytes
        state = (registry.model_input(model, state[0]), registry.model_input(model, state[1]))
    y, (h, c) = registry.forward(model, x, state)
    y = y.cpu().contiguous()
    if size != (H, W):
        y = F.interpolate(y, (H, W), mode="bilinear", align_corners=False)
    return p + y, (h.detach().cpu().contiguous(), c.detach().cpu().contiguous())
