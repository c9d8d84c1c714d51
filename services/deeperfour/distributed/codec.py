"""The chunk codec: one chunk of frames as one object, uint8 (T, H, W, 3) RGB, zlib-compressed, lossless.

Layout: b"DFCK" | version u8 | T, H, W, C as u32 little-endian | zlib(frames.tobytes()).
Stage outputs are quantized to 8-bit levels, so storing them as uint8 loses nothing.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

MAGIC = b"DFCK"
VERSION = 1
_HEADER = struct.Struct("<4sB4I")


class ChunkFormatError(ValueError):
    """The bytes are not a chunk written by `encode`."""


def encode(frames: np.ndarray, level: int = 1) -> bytes:
    """frames: uint8 (T, H, W, 3) → bytes. Level 1: the chunk is written once and read once or twice."""
    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(f"expected uint8 (T, H, W, C) frames, got {frames.dtype} {frames.shape}")
    header = _HEADER.pack(MAGIC, VERSION, *frames.shape)
    return header + zlib.compress(np.ascontiguousarray(frames).tobytes(), level)


def decode(data: bytes) -> np.ndarray:
    """bytes → uint8 (T, H, W, C) frames (a writable array)."""
    if len(data) < _HEADER.size:
        raise ChunkFormatError("chunk object is truncated")
    magic, version, t, h, w, c = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise ChunkFormatError("object is not a DeeperFour chunk")
    try:
        raw = zlib.decompress(data[_HEADER.size :])
    except zlib.error as e:
        raise ChunkFormatError(f"chunk object is corrupt: {e}") from None
    if len(raw) != t * h * w * c:
        raise ChunkFormatError(f"chunk holds {len(raw)} bytes, header says {t}x{h}x{w}x{c}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(t, h, w, c).copy()
