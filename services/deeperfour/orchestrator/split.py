"""Splitter: input film → shots → chunks of one shot, each stored as one object and announced on Kafka.

The cut rule is the embedded mode's, on the same decoded frames with the same ShotDetector, so both modes see the
same shots; a chunk ends at a cut or after `chunk_frames` frames.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deeperfour import chunkcodec
from deeperfour import storage as keys
from deeperfour.errors import InputError
from deeperfour.storage import ObjectStorage
from deeperfour.v1 import events_pb2, types_pb2


def split_job(job: types_pb2.Job, storage: ObjectStorage, chunk_frames: int,
              announce: Callable[[events_pb2.ChunkReady], None], should_stop: Callable[[], bool]) -> dict | None:
    """Store the source chunks of `job` and announce each; return totals, or None when the job was stopped."""
    with tempfile.TemporaryDirectory(prefix="deeperfour-split-") as tmp:
        path = Path(tmp) / keys.safe_name(job.input_name)
        storage.get_file(job.input_key, path)
        try:
            return _split(job, path, storage, chunk_frames, announce, should_stop)
        except InputError as e:  # name the user's file, not our temporary copy
            raise InputError(str(e).replace(str(path), job.input_name)) from None


def _split(job, path: Path, storage, chunk_frames, announce, should_stop) -> dict | None:
    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe
    from deeperfour.video.shots import ShotDetector

    info = probe(str(path))
    detector = ShotDetector(fps=float(info.fps))
    shot, index, first, chunks = -1, 0, 0, 0
    buffer: list[np.ndarray] = []

    def flush() -> None:
        nonlocal index, first, chunks
        ref = types_pb2.ChunkRef(job_id=job.job_id, shot_index=shot, chunk_index=index, first_frame=first,
                                 frame_count=len(buffer), width=info.width, height=info.height)
        if not storage.exists(keys.done_key(job.job_id, shot, index)):  # a re-split skips finished chunks
            storage.put(keys.chunk_key(job.job_id, "source", shot, index), chunkcodec.encode(np.stack(buffer)))
            announce(events_pb2.ChunkReady(chunk=ref, stages=list(job.options.stages)))
        first += len(buffer)
        index += 1
        chunks += 1
        buffer.clear()

    for frame in read_frames(str(path), info):
        new_shot = detector.push(frame)
        if (new_shot and buffer) or len(buffer) == chunk_frames:
            flush()
            if should_stop():
                return None
        if new_shot:
            shot, index = shot + 1, 0
        buffer.append(frame)
    flush()
    return {"chunks_total": chunks, "frames_total": first, "shots_total": shot + 1}

