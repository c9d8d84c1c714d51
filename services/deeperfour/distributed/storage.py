"""Object storage (S3 / MinIO / moto) of the distributed mode, through the `minio` client; keys come from keys.py."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from deeperfour import settings
from deeperfour.errors import DeeperFourError
from deeperfour.settings import S3Settings


class ObjectNotFound(DeeperFourError):
    """The object does not exist."""


class ObjectStorage:
    """The few operations the services need, on one bucket."""

    def __init__(self, s3: S3Settings | None = None):
        from minio import Minio

        self.settings = s3 or settings.current().s3
        self.bucket = self.settings.bucket
        s = self.settings
        self.client = Minio(s.endpoint, access_key=s.access_key, secret_key=s.secret_key, secure=s.secure)

    def ensure_bucket(self) -> bool:
        """Create the bucket when it is missing; True when this call created it."""
        from minio.error import S3Error

        if self.client.bucket_exists(self.bucket):
            return False
        try:
            self.client.make_bucket(self.bucket)
        except S3Error as e:
            if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        return True

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

    def copy(self, src_key: str, dst_key: str) -> None:
        from minio.commonconfig import CopySource

        self.client.copy_object(self.bucket, dst_key, CopySource(self.bucket, src_key))

    def list(self, prefix: str, recursive: bool = True) -> list[str]:
        return [o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=recursive)]

    def count(self, prefix: str) -> int:
        return sum(1 for _ in self.client.list_objects(self.bucket, prefix=prefix, recursive=True))

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete `keys` in one request per thousand (S3 DeleteObjects); a missing key is no error."""
        from minio.deleteobjects import DeleteObject

        if not keys:
            return
        errors = list(self.client.remove_objects(self.bucket, [DeleteObject(k) for k in keys]))
        if errors:
            raise OSError(f"could not delete {len(errors)} object(s), e.g. {errors[0].name}: {errors[0].message}")

    def _open(self, key: str):
        from minio.error import S3Error

        try:
            return self.client.get_object(self.bucket, key)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(f"object {key} does not exist") from None
            raise
