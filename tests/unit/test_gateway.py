"""Gateway input checks that keep requests inside their job's prefix (the gRPC round trips run in integration)."""

from __future__ import annotations

import grpc
import pytest

from deeperfour.distributed import keys
from deeperfour.errors import DeeperFourError


class Aborted(Exception):
    pass


class Context:
    def abort(self, code, message):
        raise Aborted(code, message)


@pytest.mark.parametrize("job_id", ["", "abc", "../" * 11, "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "/", None])
def test_malformed_job_ids(job_id):
    with pytest.raises(DeeperFourError, match="malformed job id"):
        keys.chunk_key(job_id, "source", 0, 0)


def test_keys_are_deterministic_and_zero_padded():
    job = "0123456789abcdef0123456789abcdef"
    assert keys.chunk_key(job, "stabilize", 3, 12) == f"jobs/{job}/stabilize/000003/000012"
    assert keys.state_key(job, "stabilize", 3, 12) == f"jobs/{job}/state/stabilize/000003/000012"
    assert keys.output_key(job, "mkv") == f"jobs/{job}/output.mkv"


@pytest.mark.parametrize(
    "name, safe",
    [
        ("film.mp4", "film.mp4"),
        ("../../etc/passwd", "passwd"),
        ("a b/c d.mkv", "c_d.mkv"),
        (".hidden", "hidden"),
        ("", "input"),
    ],
)
def test_upload_names_cannot_leave_the_input_folder(name, safe):
    assert keys.safe_name(name) == safe


@pytest.mark.parametrize(
    "uri, code",
    [
        ("http://x/y", grpc.StatusCode.INVALID_ARGUMENT),
        ("s3://deeperfour-other/a.mp4", grpc.StatusCode.INVALID_ARGUMENT),
        ("s3://deeperfour/jobs/0123456789abcdef0123456789abcdef/output.mp4", grpc.StatusCode.PERMISSION_DENIED),
        ("s3://deeperfour/a/../jobs/x", grpc.StatusCode.PERMISSION_DENIED),
        ("s3://deeperfour//a.mp4", grpc.StatusCode.PERMISSION_DENIED),
        ("s3://deeperfour/", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_input_uris_outside_the_upload_area(uri, code):
    from deeperfour.gateway.server import JobsService
    from deeperfour.settings import GatewaySettings

    storage = type("Storage", (), {"bucket": "deeperfour", "exists": lambda self, key: True})()
    service = JobsService(GatewaySettings(port=0, token="t", max_upload_bytes=1), storage, producer=None)
    with pytest.raises(Aborted) as e:
        service._check_uri(uri, Context())
    assert e.value.args[0] == code


def test_options_get_defaults_and_are_checked():
    from deeperfour.gateway.server import JobsService
    from deeperfour.settings import GatewaySettings
    from deeperfour.v1 import types_pb2

    service = JobsService(GatewaySettings(port=0, token="t", max_upload_bytes=1), storage=None, producer=None)
    options = service._check_options(types_pb2.JobOptions(), Context())
    assert list(options.stages) == ["colorize", "stabilize"] and options.output_format == "mp4"
    for bad in (
        types_pb2.JobOptions(stages=["sharpen"]),
        types_pb2.JobOptions(output_format="exe"),
        types_pb2.JobOptions(chunk_frames=-1),
    ):
        with pytest.raises(Aborted):
            service._check_options(bad, Context())


def test_the_gateway_needs_a_token(monkeypatch):
    from deeperfour.settings import Settings

    monkeypatch.delenv("DEEPERFOUR_GATEWAY_TOKEN", raising=False)
    with pytest.raises(DeeperFourError, match="DEEPERFOUR_GATEWAY_TOKEN is not set"):
        Settings().gateway
