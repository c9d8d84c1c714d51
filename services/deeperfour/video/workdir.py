"""Temporary folders beside the output (`.deeperfour-XXXX/`), and the clean-up of those a killed run left; the
locked work folder of a resumable run (`.deeperfour-resume-<output name>/`, pipeline/resume.py), which is kept.

A run holds an exclusive lock on `lock` inside its folder for as long as the folder exists; the kernel releases it
when the process dies, however it dies (SIGKILL included). So the next run writing into the same folder can tell a
live run's folder (locked) from a dead one's (unlocked, or without a lock file after a grace period) and removes only
the latter.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = ".deeperfour-"
RESUME_PREFIX = ".deeperfour-resume-"  # kept for the next run of the same output: never cleaned as stale
LOCK = "lock"
GRACE_S = 60  # a folder without a lock file younger than this may be a run between mkdtemp and taking its lock

_held: dict[str, int] = {}  # folder -> descriptor of its locked lock file


def make(parent: str | os.PathLike) -> str:
    """A new locked temporary folder in `parent`."""
    path = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    fd = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _held[path] = fd
    return path


def claim(path: str) -> bool:
    """Create the folder `path` if it is missing and hold its lock; False when another live process holds it."""
    os.makedirs(path, exist_ok=True)
    fd = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _held[path] = fd
    return True


def release(path: str) -> None:
    """Let go of a folder's lock and keep the folder."""
    fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def remove(path: str) -> None:
    """Delete a folder made by `make` or `claim`, then release its lock."""
    shutil.rmtree(path, ignore_errors=True)
    release(path)


def clean_stale(parent: str | os.PathLike) -> list[str]:
    """Remove the temporary folders in `parent` whose run is gone; returns their names."""
    removed: list[str] = []
    try:
        candidates = [
            p
            for p in Path(parent).iterdir()
            if p.name.startswith(PREFIX) and not p.name.startswith(RESUME_PREFIX) and p.is_dir()
        ]
    except OSError:
        return removed
    for folder in candidates:
        if str(folder) not in _held and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder.name)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - folder.stat().st_mtime > GRACE_S
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True  # nobody holds it: its run is gone (the lock goes with the folder when it is removed)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
