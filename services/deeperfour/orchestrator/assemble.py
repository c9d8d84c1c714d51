"""Assembler: every chunk done → decode the last stage's chunks in film order, encode, mux the source's audio, store."""

from __future__ import annotations

import tempfile
from pathlib import Path

from deeperfour.distributed import codec, keys
from deeperfour.distributed.storage import ObjectStorage
from deeperfour.pipeline import table
from deeperfour.v1 import types_pb2


def assemble(job: types_pb2.Job, storage: ObjectStorage, frames_total: int) -> str:
    """Write jobs/{job}/output.<ext>; return its key. The object appears only once complete (one PUT)."""
    from deeperfour.errors import OutputError
    from deeperfour.video.io import Encoder
    from deeperfour.video.probe import probe

    ext = job.options.output_format or "mp4"
    out_key = keys.output_key(job.job_id, ext)
    done = sorted(storage.list(keys.job_prefix(job.job_id) + "done/"))  # zero-padded: film order
    with tempfile.TemporaryDirectory(prefix="deeperfour-assemble-") as tmp:
        source = Path(tmp) / keys.safe_name(job.input_name)
        storage.get_file(job.input_key, source)
        info = probe(str(source))
        encoder = Encoder(str(Path(tmp) / f"output.{ext}"), info, audio_from=str(source))
        try:
            for marker in done:
                for frame in codec.decode(storage.get(last_output(job, marker))):
                    encoder.write(frame)
            if encoder.frames != frames_total:
                raise OutputError(f"assembled {encoder.frames} frames, expected {frames_total}")
            path = encoder.close()
        except BaseException:
            encoder.abort()
            raise
        storage.put_file(out_key, path)
    return out_key


def last_output(job: types_pb2.Job, done_marker: str) -> str:
    """The key of the last stage's chunk that a done marker stands for (the marker holds it too; deriving it saves a
    request per chunk)."""
    shot, chunk = (int(part) for part in done_marker.rsplit("/", 2)[1:])
    last = table.storage_names(list(job.options.stages))[-1]
    return keys.chunk_key(job.job_id, last, shot, chunk)
