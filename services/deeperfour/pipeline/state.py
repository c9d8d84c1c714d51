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
    shot continued by another process or machine gives the same frames as a single pass.
    """

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return st_save({k: v.detach().to("cpu", torch.float32).contiguous() for k, v in self.tensors.items()})

    @classmethod
    def from_bytes(cls, data: bytes) -> ShotState:
        return cls(dict(st_load(data)))

    def get(self, name: str) -> torch.Tensor | None:
        return self.tensors.get(name)
