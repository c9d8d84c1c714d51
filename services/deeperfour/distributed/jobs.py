"""Job records in object storage, shared by the gateway and the orchestrator.

Each writer owns its own object, so no two processes overwrite each other's fields:
    job.pb     the Job as submitted (gateway, written once)
    status.pb  state, totals, error, output key (orchestrator)
    cancel     marker (gateway)
    done/...   one marker per finished chunk (orchestrator); counting them gives progress without a shared counter
"""

from __future__ import annotations

import time

from deeperfour.distributed import keys
from deeperfour.distributed.storage import ObjectStorage
from deeperfour.v1 import types_pb2

OUTPUT_FORMATS = ("mp4", "m4v", "mov", "mkv", "webm", "avi")
TERMINAL = (types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED)


def now_ms() -> int:
    return int(time.time() * 1000)


def state_name(state: int) -> str:
    """JOB_STATE_SUCCEEDED -> 'succeeded'."""
    return types_pb2.JobState.Name(state).removeprefix("JOB_STATE_").lower()


class JobNotFound(LookupError):
    pass


class JobStore:
    def __init__(self, storage: ObjectStorage):
        self.storage = storage

    def create(self, job: types_pb2.Job) -> None:
        self.storage.put(keys.job_prefix(job.job_id) + "job.pb", job.SerializeToString())

    def get(self, job_id: str) -> types_pb2.Job:
        """The merged view: submitted job + orchestrator status + cancel marker + done count."""
        return self.merged(self.record(job_id))

    def record(self, job_id: str) -> types_pb2.Job:
        """The Job as submitted (written once, so a watcher reads it once)."""
        raw = self.storage.get_or_none(keys.job_prefix(job_id) + "job.pb")
        if raw is None:
            raise JobNotFound(job_id)
        return types_pb2.Job.FromString(raw)

    def merged(self, record: types_pb2.Job) -> types_pb2.Job:
        """A copy of the submitted `record` with the job's current status, cancel marker and done count."""
        job = types_pb2.Job()
        job.CopyFrom(record)
        job_id, prefix = job.job_id, keys.job_prefix(job.job_id)
        status = self.status(job_id)
        if status is not None:
            for field in (
                "state",
                "output_key",
                "chunks_total",
                "frames_total",
                "shots_total",
                "error",
                "updated_unix_ms",
            ):
                setattr(job, field, getattr(status, field))
        if job.state not in (types_pb2.JOB_STATE_SUCCEEDED,) and self.cancelled(job_id):
            job.state = types_pb2.JOB_STATE_CANCELLED
        # markers are removed with the other intermediates once the film is stored
        done = job.state == types_pb2.JOB_STATE_SUCCEEDED
        job.chunks_done = job.chunks_total if done else self.storage.count(prefix + "done/")
        return job

    def status(self, job_id: str) -> types_pb2.Job | None:
        raw = self.storage.get_or_none(keys.job_prefix(job_id) + "status.pb")
        return types_pb2.Job.FromString(raw) if raw is not None else None

    def set_status(self, job_id: str, state: types_pb2.JobState, **fields) -> types_pb2.Job:
        status = self.status(job_id) or types_pb2.Job(job_id=job_id)
        status.state = state
        for name, value in fields.items():
            setattr(status, name, value)
        status.updated_unix_ms = now_ms()
        self.storage.put(keys.job_prefix(job_id) + "status.pb", status.SerializeToString())
        return status

    def cancel(self, job_id: str) -> None:
        self.storage.put(keys.job_prefix(job_id) + "cancel", b"")

    def cancelled(self, job_id: str) -> bool:
        return self.storage.exists(keys.job_prefix(job_id) + "cancel")

    def stopped(self, job_id: str) -> bool:
        """Cancelled or failed: chunks of this job are dropped, not processed."""
        status = self.status(job_id)
        failed = status is not None and status.state == types_pb2.JOB_STATE_FAILED
        return failed or self.cancelled(job_id)

    def exists(self, job_id: str) -> bool:
        return self.storage.exists(keys.job_prefix(job_id) + "job.pb")

    def list_ids(self) -> list[str]:
        ids = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.storage.list("jobs/", recursive=False)]
        return sorted(i for i in ids if keys.is_job_id(i))

    def remove_intermediates(self, job_id: str) -> None:
        """Drop chunks, states and markers, whatever stages made them; keep the record, the input and the film."""
        listed = self.storage.list(keys.job_prefix(job_id))
        self.storage.delete_many([key for key in listed if keys.is_intermediate(job_id, key)])
