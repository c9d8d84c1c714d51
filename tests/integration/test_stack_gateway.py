"""The gateway's guard rails over real gRPC: tokens, job ids, upload size, input URIs, cancel, bad inputs."""

from __future__ import annotations

import os

import grpc
import pytest

from deeperfour.errors import DeeperFourError
from deeperfour.v1 import jobs_service_pb2_grpc
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def _stub(stack, token: str | None):
    from deeperfour.v1 import jobs_service_pb2_grpc

    channel = grpc.insecure_channel(stack.gateway_address())
    metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
    return channel, jobs_service_pb2_grpc.JobsServiceStub(channel), metadata


@pytest.mark.parametrize(
    "authorization, detail",
    [
        (None, "missing token"),
        ("Bearer wrong", "invalid token"),
        ("TOKEN", "malformed authorization: expected 'Bearer <token>'"),  # the right token without the scheme
        ("Basic TOKEN", "malformed authorization"),
        ("Bearer ", "malformed authorization"),
        ("Bearer  TOKEN", "invalid token"),
        ("Bearer TOKEN ", "invalid token"),
    ],
)
def test_missing_wrong_or_malformed_token_is_unauthenticated(stack, authorization, detail):
    from deeperfour.v1 import jobs_service_pb2

    channel = grpc.insecure_channel(stack.gateway_address())
    stub = jobs_service_pb2_grpc.JobsServiceStub(channel)
    metadata = (("authorization", authorization.replace("TOKEN", stack.token)),) if authorization else ()
    with channel:
        with pytest.raises(grpc.RpcError) as e:
            stub.ListJobs(jobs_service_pb2.ListJobsRequest(), metadata=metadata, timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED and detail in e.value.details()
        with pytest.raises(grpc.RpcError) as e:  # streaming methods are guarded too
            spec = jobs_service_pb2.JobSpec(input_name="a.mp4")
            stub.SubmitJob(iter([jobs_service_pb2.SubmitJobRequest(spec=spec)]), metadata=metadata, timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_and_reflection_need_no_token(stack):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(stack.gateway_address()) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="deeperfour.v1.JobsService"), timeout=10
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert "deeperfour.v1.JobsService" in ProtoReflectionDescriptorDatabase(channel).get_services()


def test_the_bearer_scheme_is_case_insensitive(stack):
    from deeperfour.v1 import jobs_service_pb2

    with grpc.insecure_channel(stack.gateway_address()) as channel:
        stub = jobs_service_pb2_grpc.JobsServiceStub(channel)
        stub.ListJobs(jobs_service_pb2.ListJobsRequest(), metadata=(("authorization", f"bearer {stack.token}"),))


@pytest.mark.parametrize(
    "job_id",
    [
        "abc",
        "../../etc/passwd",
        "0123456789abcdef0123456789abcdeg",
        "0123456789ABCDEF0123456789ABCDEF",
        "jobs/x",
        "",
        "0123456789abcdef0123456789abcdef\n",  # `$` matches before a final newline: the id would reach S3
        "a" * 100_000,  # the message must not echo it
    ],
)
def test_malformed_job_ids_are_refused(stack, job_id):
    from deeperfour.v1 import jobs_service_pb2

    channel, stub, metadata = _stub(stack, stack.token)
    with channel:
        for call, request in [
            (stub.GetJob, jobs_service_pb2.GetJobRequest(job_id=job_id)),
            (stub.CancelJob, jobs_service_pb2.CancelJobRequest(job_id=job_id)),
        ]:
            with pytest.raises(grpc.RpcError) as e:
                call(request, metadata=metadata, timeout=10)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "malformed job id" in e.value.details()
            assert len(e.value.details()) < 200
        for stream, request in [
            (stub.DownloadOutput, jobs_service_pb2.DownloadOutputRequest(job_id=job_id)),
            (stub.WatchJob, jobs_service_pb2.WatchJobRequest(job_id=job_id)),
        ]:
            with pytest.raises(grpc.RpcError) as e:
                list(stream(request, metadata=metadata, timeout=10))
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "malformed job id" in e.value.details()


@pytest.mark.parametrize("page_size", [-1, 1001, 2**31 - 1, -(2**31)])
def test_page_sizes_out_of_range_are_refused(stack, page_size):
    from deeperfour.v1 import jobs_service_pb2

    channel, stub, metadata = _stub(stack, stack.token)
    with channel, pytest.raises(grpc.RpcError) as e:
        stub.ListJobs(jobs_service_pb2.ListJobsRequest(page_size=page_size), metadata=metadata, timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details() == f"page_size must be between 1 and 1000 (0 = 100), not {page_size}"


def test_list_jobs_pages(client, stack, clips):
    from deeperfour.v1 import jobs_service_pb2

    client.submit(clips["short"], stages=["colorize"])  # at least one job, whatever ran before
    channel, stub, metadata = _stub(stack, stack.token)
    with channel:
        first = stub.ListJobs(jobs_service_pb2.ListJobsRequest(page_size=1), metadata=metadata, timeout=30)
        everything = stub.ListJobs(jobs_service_pb2.ListJobsRequest(page_size=1000), metadata=metadata, timeout=30)
    assert len(first.jobs) == 1 and first.jobs[0].job_id == everything.jobs[0].job_id
    assert bool(first.next_page_token) == (len(everything.jobs) > 1)


def test_unknown_job_is_not_found(client):
    with pytest.raises(DeeperFourError, match="not_found: no job 0{32}"):
        client.job("0" * 32)


def test_oversized_upload_is_refused(client, tmp_path, storage):
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(1_300_000))  # the test stack's limit is 1 MB
    before = set(storage.list("jobs/", recursive=False))  # job prefixes (other jobs may still be cleaning up)
    with pytest.raises(DeeperFourError, match=r"resource_exhausted: upload exceeds the gateway's limit of 1 MB"):
        client.submit(big)
    assert set(storage.list("jobs/", recursive=False)) == before  # no job, nothing stored


@pytest.mark.parametrize(
    "uri, code",
    [
        ("s3://other-bucket/film.mp4", "invalid_argument"),
        ("s3://deeperfour/jobs/0123456789abcdef0123456789abcdef/input/a.mp4", "permission_denied"),
        ("s3://deeperfour/uploads/../jobs/x", "permission_denied"),
        ("s3://deeperfour/uploads/missing.mp4", "not_found"),
        ("s3://deeperfour/" + "a" * 100_000, "invalid_argument: input_uri is too long"),  # was S3's HTTP 414
    ],
)
def test_input_uri_must_stay_in_the_upload_area(client, uri, code):
    with pytest.raises(DeeperFourError, match=code):
        client.submit(uri)


def test_input_uri_in_the_bucket_is_accepted(client, clips, storage, tmp_path):
    storage.put_file("uploads/cut.mp4", clips["cut"])
    job = client.submit("s3://deeperfour/uploads/cut.mp4", stages=["colorize"], chunk_frames=16)
    job.wait(timeout=180)
    assert job.download(tmp_path / "o.mp4").stat().st_size > 1000


def test_bad_options_are_refused(client, clips):
    with pytest.raises(DeeperFourError, match="invalid_argument: unknown stage"):
        client.submit(clips["cut"], stages=["sharpen"])
    with pytest.raises(DeeperFourError, match="invalid_argument: unsupported output format"):
        client.submit(clips["cut"], output_format="exe")


def test_cancel(client, clips, storage):
    job = client.submit(clips["long"], stages=["colorize", "stabilize"], chunk_frames=2)
    wait_for(lambda: job.refresh().info.chunks_total or job.info.chunks_done, 120, "the job to start")
    assert job.cancel().state == "cancelled"
    with pytest.raises(DeeperFourError, match="was cancelled"):
        job.wait(timeout=30)
    with pytest.raises(DeeperFourError, match="failed_precondition"):
        job.cancel()
    with pytest.raises(DeeperFourError, match="failed_precondition: .* is cancelled, not succeeded"):
        job.download("/tmp/never.mp4")
    # chunks in flight when it was cancelled are dropped too: only the record and the input remain
    wait_for(
        lambda: (
            {k.split("/")[2] for k in storage.list(f"jobs/{job.id}/")} <= {"job.pb", "status.pb", "cancel", "input"}
        ),
        60,
        "intermediates removed",
    )
    assert not [k for k in storage.list(f"jobs/{job.id}/") if "output" in k]


def test_corrupt_input_fails_with_a_reason(client, clips, storage, tmp_path):
    garbage = tmp_path / "holiday.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20_000))
    truncated = tmp_path / "cut-short.mp4"
    truncated.write_bytes(clips["long"].read_bytes()[: clips["long"].stat().st_size // 2])
    for path in (garbage, truncated):
        job = client.submit(path, stages=["colorize"])
        with pytest.raises(DeeperFourError, match=rf"job {job.id} failed: {path.name}: ") as e:
            job.wait(timeout=120)
        assert "\n" not in str(e.value) and "/tmp" not in str(e.value)
        # nothing half-written: no output, and no chunk once the failed job is cleaned up
        assert not [k for k in storage.list(f"jobs/{job.id}/") if "output" in k]
        wait_for(
            lambda: {k.split("/")[2] for k in storage.list(f"jobs/{job.id}/")} <= {"job.pb", "status.pb", "input"},
            30,
            "the failed job's intermediates removed",
        )


def test_list_jobs(client):
    jobs = client.jobs()
    assert jobs and all(len(j.job_id) == 32 for j in jobs)
