"""Frames between uint8 pictures (T, H, W, 3) and the float32 tensors (T, 3, H, W) in [0, 1] that stages exchange.

Stage outputs are quantized to 8-bit levels, so a chunk stored as uint8 between stages (distributed mode) is exactly
what the next stage would have seen in-process (embedded mode).
"""

from __future__ import annotations

import numpy as np
import torch


def frames_to_tensor(frames) -> torch.Tensor:
    """uint8 (T, H, W, 3) RGB (array or list of arrays) -> float32 (T, 3, H, W) in [0, 1], contiguous.

    Always the same memory layout: convolutions pick kernels by strides, and their float results differ with them,
    so a layout that depended on where the frames came from would break embedded/distributed parity.
    """
    arr = np.stack(frames) if isinstance(frames, (list, tuple)) else np.asarray(frames)
    planes = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
    return torch.empty(planes.shape, dtype=torch.float32).copy_(planes).div_(255.0)  # one pass less than .contiguous()


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """float32 (T, 3, H, W) in [0, 1] -> uint8 (T, H, W, 3); exact for tensors on 8-bit levels."""
    levels = x.mul(255).round_().clamp_(0, 255)  # the same bytes as clamping first, one pass less
    return levels.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def planes(frames) -> torch.Tensor:
    """uint8 (T, H, W, 3) RGB (array or list of arrays) -> uint8 (T, 3, H, W): a chunk as it waits between stages,
    a quarter of its float32 size; from_planes gives frames_to_tensor's result, bit for bit."""
    arr = np.stack(frames) if isinstance(frames, (list, tuple)) else np.asarray(frames)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def to_planes(x: torch.Tensor) -> torch.Tensor:
    """float32 (T, 3, H, W) on 8-bit levels -> uint8 (T, 3, H, W), exactly."""
    return x.mul(255).round_().clamp_(0, 255).to(torch.uint8)


def from_planes(planes: torch.Tensor) -> torch.Tensor:
    """uint8 (T, 3, H, W) -> float32 (T, 3, H, W) in [0, 1], contiguous."""
    return planes.float().div_(255.0)


def quantize_(x: torch.Tensor) -> torch.Tensor:
    """In place: clamp to [0, 1] and round to 8-bit levels."""
    return x.clamp_(0, 1).mul_(255).round_().div_(255)
