"""Object storage (S3 / MinIO / moto) for the distributed mode, through the `minio` client.

Every key the services use is built here, so the layout lives in one place:
    jobs/{job}/job.pb                     the Job as submitted (gateway)
    jobs/{job}/status.pb                  state, totals, error (orchestrator)
    jobs/{job}/cancel                     cancel marker (gateway)
    jobs/{job}/input/{name}               the input film
    jobs/{job}/{stage}/{shot}/{chunk:06d} chunk frames; stage "source" = decoded input
    jobs/{job}/state/{stage}/{shot}/{chunk:06d}  shot state after that chunk
    jobs/{job}/done/{shot}/{chunk:06d}    marker: every stage of the chunk is stored
    jobs/{job}/output.<ext>               the film
Keys are deterministic, so a retried chunk overwrites its objects instead of adding new ones.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from deeperfour.config import env
from deeperfour.errors import DeeperFourError

JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class ObjectNotFound(DeeperFourError):
    """The object does not exist."""


def check_job_id(job_id: str) -> str:
    """Job ids are 32 lowercase hex digits; anything else could escape the job's prefix."""
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise DeeperFourError(f"malformed job id {job_id!r}: expected 32 lowercase hex digits")
    return job_id


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


def safe_name(name: str) -> str:
    """A base name without path parts or odd characters (it ends up in an object key)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name or "input").name).lstrip(".")
    return base[:120] or "input"


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    bucket: str

    @classmethod
    def from_env(cls) -> "S3Settings":
        return cls(
            endpoint=env("S3", "ENDPOINT", "127.0.0.1:9000"),
            access_key=env("S3", "ACCESS_KEY", "minioadmin"),
            secret_key=env("S3", "SECRET_KEY", "minioadmin"),
            secure=env("S3", "SECURE", "false").lower() in ("1", "true", "yes"),
            bucket=env("S3", "BUCKET", "deeperfour"),
        )


class ObjectStorage:
    """The few operations the services need, on one bucket."""

    def __init__(self, settings: S3Settings | None = None):
        from minio import Minio

        self.settings = settings or S3Settings.from_env()
        self.bucket = self.settings.bucket
        s = self.settings
        self.client = Minio(s.endpoint, access_key=s.access_key, secret_key=s.secret_key, secure=s.secure)

    def ensure_bucket(self) -> None:
        from minio.error import S3Error

        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
        except S3Error as e:
            if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def put_file(self, key: str, path: str | Path) -> None:
        self.client.fput_object(self.bucket, key, str(path))

    def get(self, key: str) -> bytes:
        response = self._open(key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def get_or_none(self, key: str) -> bytes | None:
        try:
            return self.get(key)
        except ObjectNotFound:
            return None

    def get_file(self, key: str, path: str | Path) -> None:
        from minio.error import S3Error

        try:
            self.client.fget_object(self.bucket, key, str(path))
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(f"object {key} does not exist") from None
            raise

    def stream(self, key: str, part_size: int = 1 << 20):
        """Yield the object's bytes in parts (for downloads through the gateway)."""
        response = self._open(key)
        try:
            yield from response.stream(part_size)
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise

    def size(self, key: str) -> int:
        return self.client.stat_object(self.bucket, key).size

    def copy(self, src_key: str, dst_key: str) -> None:
        from minio.commonconfig import CopySource

        self.client.copy_object(self.bucket, dst_key, CopySource(self.bucket, src_key))

    def list(self, prefix: str, recursive: bool = True) -> list[str]:
        return [o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=recursive)]

    def count(self, prefix: str) -> int:
        return sum(1 for _ in self.client.list_objects(self.bucket, prefix=prefix, recursive=True))

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list(prefix):
            self.client.remove_object(self.bucket, key)

    def _open(self, key: str):
        from minio.error import S3Error

        try:
            return self.client.get_object(self.bucket, key)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(f"object {key} does not exist") from None
            raise
