"""Splitter: input film → chunks of one shot (pipeline.chunks, the embedded mode's rule on the same decoded frames),
each stored as one object and announced on Kafka."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deeperfour.distributed import codec, keys
from deeperfour.distributed.storage import ObjectStorage
from deeperfour.errors import InputError
from deeperfour.v1 import events_pb2, types_pb2

STOP_CHECK_S = 1.0  # a cancelled job's split stops within this: each look costs two object-store requests


def split_job(
    job: types_pb2.Job,
    storage: ObjectStorage,
    chunk_frames: int,
    announce: Callable[[events_pb2.ChunkReady], None],
    should_stop: Callable[[], bool],
) -> dict | None:
    """Store the source chunks of `job` and announce each; return totals, or None when the job was stopped."""
    with tempfile.TemporaryDirectory(prefix="deeperfour-split-") as tmp:
        path = Path(tmp) / keys.safe_name(job.input_name)
        storage.get_file(job.input_key, path)
        try:
            return _split(job, path, storage, chunk_frames, announce, should_stop)
        except InputError as e:  # name the user's file, not our temporary copy
            raise InputError(str(e).replace(str(path), job.input_name)) from None


def _split(job, path: Path, storage, chunk_frames, announce, should_stop) -> dict | None:
    from deeperfour.pipeline.chunks import chunks
    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe

    info = probe(str(path))
    finished = set(storage.list(keys.job_prefix(job.job_id) + "done/"))  # a re-split skips finished chunks
    count = frames = shots = 0
    look = time.monotonic() + STOP_CHECK_S
    for chunk in chunks(read_frames(str(path), info), float(info.fps), chunk_frames):
        if time.monotonic() >= look:
            if should_stop():
                return None
            look = time.monotonic() + STOP_CHECK_S
        ref = types_pb2.ChunkRef(
            job_id=job.job_id,
            shot_index=chunk.shot,
            chunk_index=chunk.index,
            first_frame=chunk.first_frame,
            frame_count=len(chunk.frames),
            width=info.width,
            height=info.height,
        )
        if keys.done_key(job.job_id, chunk.shot, chunk.index) not in finished:
            source = keys.chunk_key(job.job_id, "source", chunk.shot, chunk.index)
            storage.put(source, codec.encode(np.stack(chunk.frames)))
            announce(events_pb2.ChunkReady(chunk=ref, stages=list(job.options.stages)))
        count, frames, shots = count + 1, frames + len(chunk.frames), chunk.shot + 1
    return {"chunks_total": count, "frames_total": frames, "shots_total": shots}
