"""Every object key of the distributed mode, built here so the layout lives in one place:

    jobs/{job}/job.pb                            the Job as submitted (gateway)
    jobs/{job}/status.pb                         state, totals, error (orchestrator)
    jobs/{job}/cancel                            cancel marker (gateway)
    jobs/{job}/input/{name}                      the input film
    jobs/{job}/{stage}/{shot}/{chunk}            chunk frames; stage "source" = decoded input, else the stage's
                                                 storage name (pipeline.table.storage_names: stabilize3 when repeated)
    jobs/{job}/state/{stage}/{shot}/{chunk}      shot state after that chunk
    jobs/{job}/done/{shot}/{chunk}               marker: every stage of the chunk is stored
    jobs/{job}/output.<ext>                      the film
Shots and chunks are zero-padded to 6 digits. Keys are deterministic, so a retried chunk overwrites its objects
instead of adding new ones.
"""

from __future__ import annotations

import re
from pathlib import Path

from deeperfour.errors import DeeperFourError

_JOB_ID = re.compile(r"[0-9a-f]{32}")  # always with fullmatch: `$` would also match before a final newline
RECORD = ("job.pb", "status.pb", "cancel", "input/", "output.")  # what a job keeps once its chunks are gone


def is_job_id(text: object) -> bool:
    return isinstance(text, str) and _JOB_ID.fullmatch(text) is not None


def check_job_id(job_id: str) -> str:
    """Job ids are 32 lowercase hex digits; anything else could escape the job's prefix."""
    if not is_job_id(job_id):
        raise DeeperFourError(f"malformed job id {shown(job_id)}: expected 32 lowercase hex digits")
    return job_id


def shown(value: object, limit: int = 48) -> str:
    """A value for an error message: its repr, cut short when long (ids and names come from users)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


def shot_id(job_id: str, shot_index: int) -> str:
    """The Kafka message key of a shot's chunks."""
    return f"{job_id}/{shot_index:06d}"


def job_prefix(job_id: str) -> str:
    return f"jobs/{check_job_id(job_id)}/"


def chunk_key(job_id: str, stage: str, shot: int, chunk: int) -> str:
    return f"{job_prefix(job_id)}{stage}/{shot:06d}/{chunk:06d}"


def state_key(job_id: str, stage: str, shot: int, chunk: int) -> str:
    return f"{job_prefix(job_id)}state/{stage}/{shot:06d}/{chunk:06d}"


def done_key(job_id: str, shot: int, chunk: int) -> str:
    return f"{job_prefix(job_id)}done/{shot:06d}/{chunk:06d}"


def input_key(job_id: str, name: str) -> str:
    return f"{job_prefix(job_id)}input/{safe_name(name)}"


def output_key(job_id: str, ext: str) -> str:
    return f"{job_prefix(job_id)}output.{ext}"


def is_intermediate(job_id: str, key: str) -> bool:
    """A chunk, a state or a marker of the job: anything but its record, its input and its film."""
    return not key.removeprefix(job_prefix(job_id)).startswith(RECORD)


def safe_name(name: str) -> str:
    """A base name without path parts or odd characters (it ends up in an object key)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name or "input").name).lstrip(".")
    return base[:120] or "input"
