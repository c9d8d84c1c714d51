"""Temporal state a stateful stage carries from one chunk of a shot to the next."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save


@dataclass
class ShotState:
    """Named tensors, e.g. the stabilizer's last_input, last_output (raw float, unclipped), h and c.

    `None` in place of a ShotState means "first frame of a shot". Serialized losslessly (float32 safetensors) so a
    shot continued by another process or machine gives the same frames as a single pass; a tensor that holds only
    8-bit levels (last_input: source frames) is stored as those levels, a quarter of the bytes, and read back bit for
    bit.
    """

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return st_save({k: _compact(v.detach().to("cpu", torch.float32).contiguous()) for k, v in self.tensors.items()})

    @classmethod
    def from_bytes(cls, data: bytes) -> ShotState:
        return cls({k: v.float().div_(255.0) if v.dtype == torch.uint8 else v for k, v in st_load(data).items()})

    def get(self, name: str) -> torch.Tensor | None:
        return self.tensors.get(name)


def _compact(x: torch.Tensor) -> torch.Tensor:
    """x as uint8 levels when levels / 255 gives back exactly its bits (as frames_to_tensor makes them), else x."""
    levels = x.mul(255).round_()
    if not levels.numel() or not (levels.min() >= 0 and levels.max() <= 255):  # also false for NaN
        return x
    packed = levels.to(torch.uint8)
    return packed if torch.equal(packed.float().div_(255.0).view(torch.int32), x.view(torch.int32)) else x
