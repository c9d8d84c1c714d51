"""Who can reach what on the local stack, and with which credentials: listening addresses, file modes, S3 keys,
TorchServe's token authorization and the gateway's TLS, all over real sockets (issue 16, items 11-13)."""

from __future__ import annotations

import ipaddress
import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest

from deeperfour.errors import DeeperFourError
from tests.certs import make_certs
from tools.stack import MODEL_SERVERS, Ports

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- listening sockets


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} print addresses as 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    address = ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
    return address.ipv4_mapped or address


def _listening(pgids: set[int]) -> dict[int, list]:
    """port -> addresses of the TCP sockets that processes of these process groups listen on."""
    inodes = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) not in pgids:
                continue
            fds = list((proc / "fd").iterdir())
        except (OSError, ValueError):
            continue  # gone meanwhile
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    ports: dict[int, list] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                ports.setdefault(int(port, 16), []).append(_address(address))
    return ports


def test_every_part_of_the_stack_listens_on_loopback_only(stack):
    ports = _listening({proc.pid for proc in stack.procs.values()})
    expected = {stack.ports.kafka, stack.ports.s3, stack.ports.gateway}
    expected |= {port for name in MODEL_SERVERS for port in stack.ports.torchserve[name][:5]}
    assert expected <= set(ports), f"not listening: {sorted(expected - set(ports))}"
    outside = {port: addresses for port, addresses in ports.items() if not all(a.is_loopback for a in addresses)}
    assert not outside, f"listening beyond 127.0.0.1: {outside}"


# ---------------------------------------------------------------- secrets on disk


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_on_disk_are_this_user_s_only(stack):
    env = stack.run_dir / "env"
    env.write_text("old")
    env.chmod(0o644)  # an older, readable file is tightened, not trusted
    assert stack.write_env() == env and _mode(env) == 0o600
    text = env.read_text()
    assert f"DEEPERFOUR_GATEWAY_TOKEN={stack.token}" in text and stack.s3_credentials[1] in text
    assert _mode(stack.run_dir) == 0o700
    for name in MODEL_SERVERS:  # TorchServe's keys
        assert _mode(stack.key_file(name)) == 0o600


# ---------------------------------------------------------------- S3


def test_s3_takes_only_the_key_made_for_this_stack(stack, storage):
    from minio import Minio
    from minio.error import S3Error

    access, secret = stack.s3_credentials
    assert access.startswith("AKIA") and len(secret) >= 40  # made by the server at start, not chosen by us
    assert storage.client.bucket_exists("deeperfour")  # the stack's own key works
    endpoint = f"127.0.0.1:{stack.ports.s3}"
    for key, wrong in [("deeperfour", "deeperfour-secret"), ("minioadmin", "minioadmin"), (access, "x" * 40)]:
        with pytest.raises(S3Error) as e:
            Minio(endpoint, access_key=key, secret_key=wrong, secure=False).bucket_exists("deeperfour")
        assert e.value.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"), e.value.code
    for path in ("/deeperfour/", "/moto-api/data.json", "/moto-api/reset"):  # unsigned; moto's control API
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://{endpoint}{path}", timeout=10)
        assert e.value.code == 403 and secret not in e.value.read().decode()
    with pytest.raises(DeeperFourError, match="could not create the S3 credentials"):
        stack.provision_s3()  # nobody can make another user: the unsigned actions are spent


# ---------------------------------------------------------------- TorchServe


def test_the_model_servers_refuse_calls_without_their_keys(stack):
    from deeperfour.torchserve import inference_pb2, inference_pb2_grpc

    _, management, _, grpc_inference, _, _ = stack.ports.torchserve["stabilizer"]
    scale_to_zero = f"http://127.0.0.1:{management}/models/stabilizer?min_worker=0&max_worker=0&synchronous=true"
    for authorization in (None, "Bearer wrong", f"Bearer {stack.model_key('stabilizer', 'inference')}"):
        headers = {"Authorization": authorization} if authorization else {}
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(scale_to_zero, method="PUT", headers=headers), timeout=30)
        assert e.value.code == 400 and "Token Authorization failed" in e.value.read().decode()
    describe = urllib.request.Request(
        f"http://127.0.0.1:{management}/models/stabilizer",
        headers={"Authorization": f"Bearer {stack.model_key('stabilizer')}"},
    )
    with urllib.request.urlopen(describe, timeout=30) as r:
        [model] = json.loads(r.read())
    assert model["minWorkers"] >= 1 and model["workers"]  # still serving
    with grpc.insecure_channel(f"127.0.0.1:{grpc_inference}") as channel:
        stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as e:
            stub.Predictions(inference_pb2.PredictionsRequest(model_name="stabilizer"), timeout=30)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED


# ---------------------------------------------------------------- the gateway over TLS


@pytest.fixture(scope="module")
def tls_gateway(stack, tmp_path_factory):
    """A second gateway of the stack, serving TLS with a certificate from a throw-away CA."""
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    port = Ports.free().gateway
    since = stack.log_size("gateway-tls")
    settings = {
        "DEEPERFOUR_GATEWAY_PORT": str(port),
        "DEEPERFOUR_GATEWAY_TLS_CERT": str(certs.cert),
        "DEEPERFOUR_GATEWAY_TLS_KEY": str(certs.key),
    }
    stack.start_gateway("gateway-tls", env=settings)
    try:
        stack.wait(lambda: stack.gateway_ready("gateway-tls", port, since), "gateway-tls", 90)
        yield f"127.0.0.1:{port}", certs
    finally:
        stack.stop(["gateway-tls"], grace=5)


def test_the_sdk_and_the_cli_reach_a_tls_gateway_with_a_ca_file(stack, tls_gateway, tmp_path):
    from deeperfour.client import Client

    address, certs = tls_gateway
    with Client(address, token=stack.token, ca_file=certs.ca, timeout=30) as client:
        assert isinstance(client.jobs(), list)
    cli = Path(sys.executable).parent / "deeperfour"
    env = dict(os.environ, DEEPERFOUR_GATEWAY_TOKEN=stack.token)
    res = subprocess.run(
        [str(cli), "status", "--address", address, "--ca-file", str(certs.ca)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    # the name in the certificate is checked: localhost is in it, another name is not
    with Client(f"localhost:{address.rsplit(':', 1)[1]}", token=stack.token, ca_file=certs.ca, timeout=30) as c:
        c.jobs()


@pytest.mark.parametrize(
    "options, hint",
    [
        ({}, "a TLS gateway needs --ca-file or --tls"),  # plaintext to a TLS port
        ({"ca_file": "other_ca"}, "does the CA (--ca-file) sign its certificate"),  # a CA that did not sign it
        ({"ca_file": "ca", "tls_server_name": "gateway.example.com"}, "does the CA (--ca-file) sign its certificate"),
        ({"tls": True}, "does the CA (--ca-file) sign its certificate"),  # the system's CAs do not know the test CA
    ],
)
def test_a_tls_gateway_refuses_what_it_cannot_trust_with_one_line(stack, tls_gateway, options, hint):
    from deeperfour.client import Client

    address, certs = tls_gateway
    if "ca_file" in options:
        options = {**options, "ca_file": getattr(certs, options["ca_file"])}
    with Client(address, token=stack.token, timeout=15, **options) as client:
        with pytest.raises(DeeperFourError) as e:
            client.jobs()
    assert str(e.value).startswith(f"gateway {address} is unreachable") and hint in str(e.value)
    assert "\n" not in str(e.value)


def test_a_tls_gateway_still_needs_the_token(tls_gateway):
    from deeperfour.client import Client

    address, certs = tls_gateway
    with Client(address, token="wrong", ca_file=certs.ca, timeout=30) as client:
        with pytest.raises(DeeperFourError, match="gateway refused the call: invalid token"):
            client.jobs()

