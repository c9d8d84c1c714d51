"""Resumable runs: a film killed (SIGKILL, a power cut) or interrupted (Ctrl-C, SIGTERM) continues after its last
finished segment when the same command runs again, and gives the film an uninterrupted run gives, frame for frame.

A film is encoded in segments (video/segments.py). After each one, the shot state of every stage that carries one is
saved next to it, in one hidden work folder beside the output:

    .deeperfour-resume-<output name>/
        lock                  held while a run works here (video/workdir.py); the kernel lets go when it dies
        progress.json         the run's key (input, options, weights, versions) and the finished segments
        state-000003-1.bin    stage 1's shot state after segment 3 (pipeline/state.py's lossless bytes)
        seg-000000.mp4 …      the finished segments, encoded

Its size is that of the encoded film so far plus one shot state; decoded frames are never stored. A resumed run
decodes the finished part again to find the same shots (no model runs there), starts the stages from the saved
state and the encoder at the next segment. A run whose key differs (another input, options, weights, DeeperFour,
ffmpeg or thread count) starts afresh. The folder is removed when the film is published or the run fails, and by
--no-resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deeperfour.errors import OutputError
from deeperfour.pipeline.state import ShotState
from deeperfour.video import segments, workdir

PROGRESS = "progress.json"


def folder_for(output: str | os.PathLike) -> Path:
    output = Path(output)
    return output.parent / (workdir.RESUME_PREFIX + output.name)


def input_identity(path: str) -> dict:
    st = os.stat(path)
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def discard(output: str | os.PathLike) -> bool:
    """--no-resume: remove the work folder an earlier run left for `output`; True when there was one."""
    path = folder_for(output)
    if not path.is_dir():
        return False
    if not workdir.claim(str(path)):
        raise OutputError(f"{output}: another deeperfour run is writing it (its work folder {path} is in use)")
    workdir.remove(str(path))
    return True


class WorkFolder:
    """The locked work folder of one output; `segments` of it are finished (0: a fresh start)."""

    def __init__(self, output: str | os.PathLike, key: dict):
        self.output = Path(output)
        self.path = folder_for(output)
        self.key = json.loads(json.dumps(key))  # as it reads back from progress.json
        self.segments = 0
        self._state_files: dict[int, str] = {}

    def open(self, ext: str) -> str | None:
        """Claim the folder and find what an earlier run of the same key finished; returns a note when an earlier
        run's folder could not be used."""
        if not workdir.claim(str(self.path)):
            raise OutputError(
                f"{self.output}: another deeperfour run is writing it (its work folder {self.path} is in use)"
            )
        progress = self._read()
        note = None
        if progress is not None and progress.get("key") != self.key:
            old = progress.get("key") or {}
            changed = sorted(k for k in set(old) | set(self.key) if old.get(k) != self.key.get(k))
            note = f"{self.path.name} was left by a run with another {', '.join(changed)}: starting afresh"
        elif progress is not None and self._usable(progress, ext):
            self.segments = int(progress["segments"])
            self._state_files = {int(k): v for k, v in progress["states"].items()}
            return None
        elif progress is not None:
            note = f"{self.path.name} is incomplete (files are missing): starting afresh"
        self._empty()
        self._write_progress()
        return note

    def states(self, count: int, device: str) -> list[ShotState | None]:
        """The stages' shot states after the last finished segment (None: the stage carries none)."""
        out: list[ShotState | None] = [None] * count
        for k, name in self._state_files.items():
            state = ShotState.from_bytes((self.path / name).read_bytes())
            out[k] = ShotState({n: t.to(device) for n, t in state.tensors.items()})
        return out

    def save(self, segments_done: int, states: list) -> None:
        """Record that `segments_done` segments are finished and the stages' states after the last of them."""
        files = {}
        for k, state in enumerate(states):
            if state is not None:
                files[k] = f"state-{segments_done - 1:06d}-{k}.bin"
                _write_synced(self.path / files[k], state.to_bytes())
        old = set(self._state_files.values()) - set(files.values())
        self.segments, self._state_files = segments_done, files
        self._write_progress()
        for name in old:
            (self.path / name).unlink(missing_ok=True)

    def keep(self) -> None:
        """Leave the folder for the next run (after an interruption)."""
        workdir.release(str(self.path))

    def remove(self) -> None:
        workdir.remove(str(self.path))

    def hint(self, total: int) -> str:
        done = min(self.segments * segments.SEGMENT_FRAMES, total)
        return (
            f"{done} of {total} frames are kept in {self.path}: run the same command again to resume "
            "(--no-resume starts afresh)"
        )

    def _read(self) -> dict | None:
        try:
            data = json.loads((self.path / PROGRESS).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _usable(self, progress: dict, ext: str) -> bool:
        try:
            count, states = int(progress["segments"]), progress["states"]
        except (KeyError, TypeError, ValueError):
            return False
        wanted = [segments.path(self.path, k, ext) for k in range(count)]
        wanted += [self.path / str(name) for name in states.values()]
        return all(p.is_file() and p.stat().st_size > 0 for p in wanted)

    def _empty(self) -> None:
        for p in self.path.iterdir():
            if p.name != workdir.LOCK:
                p.unlink()

    def _write_progress(self) -> None:
        data = {"key": self.key, "segments": self.segments, "states": {str(k): v for k, v in self._state_files.items()}}
        tmp = self.path / (PROGRESS + ".tmp")
        _write_synced(tmp, json.dumps(data, indent=1).encode())
        os.replace(tmp, self.path / PROGRESS)
        fd = os.open(self.path, os.O_RDONLY)  # the rename itself survives a power cut once the folder is synced
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
