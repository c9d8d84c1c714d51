"""Keeping freed memory in the process, for services that handle one chunk after another.

glibc gives memory back to the kernel as soon as a large block at the top of its heap is freed; the next chunk then
takes every page of it again, one page fault at a time. Measured on the colorizer's model server (320x240, chunks of
16 frames): about 8,000 page faults and 8-19 ms of kernel time per frame, as much as a third of the stage's own CPU
time. The embedded mode is spared this by its threads, whose allocations come from separate arenas.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit: blocks below it come from the heap, and are reused


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse; False where the C library is not glibc (nothing to do)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
