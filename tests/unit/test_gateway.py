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


@pytest.mark.parametrize(
    "job_id", ["", "abc", "../" * 11, "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "/", None, "0" * 32 + "\n", "\n" + "0" * 32]
)
def test_malformed_job_ids(job_id):
    with pytest.raises(DeeperFourError, match="malformed job id"):
        keys.chunk_key(job_id, "source", 0, 0)


def test_a_huge_job_id_gives_a_short_message():
    with pytest.raises(DeeperFourError) as e:
        keys.check_job_id("a" * 100_000)
    assert len(str(e.value)) < 200 and "(100000 characters)" in str(e.value)


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


def test_the_gateway_listens_on_loopback_unless_told_and_takes_tls_files_in_pairs():
    from deeperfour.settings import Settings

    base = {"DEEPERFOUR_GATEWAY_TOKEN": "t"}
    plain = Settings(base).gateway
    assert plain.bind_address == "127.0.0.1" and plain.tls_cert is None
    assert Settings({**base, "DEEPERFOUR_GATEWAY_BIND_ADDRESS": "0.0.0.0"}).gateway.bind_address == "0.0.0.0"
    tls = Settings({**base, "DEEPERFOUR_GATEWAY_TLS_CERT": "c.pem", "DEEPERFOUR_GATEWAY_TLS_KEY": "k.pem"}).gateway
    assert (tls.tls_cert, tls.tls_key) == ("c.pem", "k.pem")
    with pytest.raises(DeeperFourError, match="set both DEEPERFOUR_GATEWAY_TLS_CERT and DEEPERFOUR_GATEWAY_TLS_KEY"):
        Settings({**base, "DEEPERFOUR_GATEWAY_TLS_CERT": "c.pem"}).gateway


def test_no_s3_credential_has_a_default():
    from deeperfour.settings import Settings

    with pytest.raises(DeeperFourError, match="DEEPERFOUR_S3_ACCESS_KEY is not set"):
        Settings({}).s3
    with pytest.raises(DeeperFourError, match="DEEPERFOUR_S3_SECRET_KEY is not set"):
        Settings({"DEEPERFOUR_S3_ACCESS_KEY": "a"}).s3


def test_bad_tls_files_stop_the_gateway_with_one_line(tmp_path):
    from deeperfour.gateway.server import build_server
    from deeperfour.settings import GatewaySettings
    from tests.certs import make_certs

    certs = make_certs(tmp_path / "certs")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    for cert, key, reason in [
        (tmp_path / "missing.pem", certs.key, "No such file or directory"),
        (garbage, certs.key, "not a PEM certificate chain and its key"),
        (certs.key, certs.cert, "not a PEM certificate chain and its key"),  # swapped
        (certs.cert, certs.self_signed_key, "the key does not match the certificate"),
    ]:
        settings = GatewaySettings(port=0, token="t", max_upload_bytes=1, tls_cert=str(cert), tls_key=str(key))
        with pytest.raises(DeeperFourError, match=reason) as e:
            build_server(settings, storage=object(), producer=object())
        assert "\n" not in str(e.value)


def test_a_taken_port_stops_the_gateway_with_one_line():
    import socket

    from deeperfour.gateway.server import build_server
    from deeperfour.settings import GatewaySettings

    storage = type("Storage", (), {"bucket": "deeperfour", "ensure_bucket": lambda self: None})()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = GatewaySettings(port=port, token="t", max_upload_bytes=1)
        with pytest.raises(DeeperFourError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            build_server(settings, storage=storage, producer=object())
