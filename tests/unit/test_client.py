"""SDK and CLI commands: argument wiring and one-line errors (the round trips run in tests/integration)."""

from __future__ import annotations

import argparse

import pytest

from deeperfour.client.cli import add_client_commands
from deeperfour.errors import DeeperFourError
from tools.stack import free_port


def parser():
    p = argparse.ArgumentParser(prog="deeperfour")
    add_client_commands(p.add_subparsers(dest="command", required=True))
    return p


def test_commands_parse():
    args = parser().parse_args(
        [
            "submit",
            "film.mp4",
            "--stages",
            "colorize,stabilize,cartoonize",
            "--wait",
            "-o",
            "out.mp4",
            "--address",
            "h:1",
            "--token",
            "t",
        ]
    )
    assert (args.inputs, args.stages, args.wait, args.output, args.address, args.token) == (
        ["film.mp4"],
        "colorize,stabilize,cartoonize",
        True,
        "out.mp4",
        "h:1",
        "t",
    )
    for argv in (
        ["status"],
        ["status", "a" * 32],
        ["watch", "a" * 32],
        ["download", "a" * 32, "-o", "x.mp4"],
        ["cancel", "a" * 32],
    ):
        assert callable(parser().parse_args(argv).func)
    with pytest.raises(SystemExit):
        parser().parse_args(["download", "a" * 32])  # -o is required


def test_unreachable_gateway_is_one_readable_line(tmp_path):
    args = parser().parse_args(["status", "a" * 32, "--address", f"127.0.0.1:{free_port()}", "--token", "t"])
    with pytest.raises(DeeperFourError) as e:
        args.func(args)
    assert "is unreachable" in str(e.value) and "is the stack up?" in str(e.value) and "\n" not in str(e.value)


def test_missing_input_file(tmp_path):
    from deeperfour.client import Client

    with Client(f"127.0.0.1:{free_port()}", token="t") as client, pytest.raises(DeeperFourError, match="no such file"):
        client.submit(tmp_path / "nope.mp4")


def test_token_comes_from_the_environment(monkeypatch):
    from deeperfour.client import Client

    monkeypatch.setenv("DEEPERFOUR_GATEWAY_TOKEN", "from-env")
    monkeypatch.setenv("DEEPERFOUR_GATEWAY_ADDRESS", "example:1234")
    client = Client()
    assert client.address == "example:1234" and client._metadata == (("authorization", "Bearer from-env"),)
    client.close()


def test_tls_options_parse_and_reach_the_client(tmp_path):
    from tests.certs import make_certs

    certs = make_certs(tmp_path)
    args = parser().parse_args(["status", "--ca-file", str(certs.ca), "--tls-server-name", "gw.example"])
    assert (args.ca_file, args.tls_server_name, args.tls) == (str(certs.ca), "gw.example", None)
    from deeperfour.client.cli import _client

    with _client(args) as client:
        assert client.tls  # a CA file implies TLS


def test_a_bad_ca_file_is_one_readable_line(tmp_path):
    from deeperfour.client import Client

    (tmp_path / "notes.txt").write_text("not a certificate")
    for path, reason in [(tmp_path / "missing.pem", "No such file or directory"), (tmp_path / "notes.txt", "no PEM")]:
        with pytest.raises(DeeperFourError, match=reason) as e:
            Client("127.0.0.1:1", token="t", ca_file=path)
        assert str(e.value).startswith(f"CA file {path}") and "\n" not in str(e.value)


def test_tls_settings_come_from_the_environment(monkeypatch, tmp_path):
    from deeperfour.settings import Settings

    assert not Settings({}).client.tls
    assert Settings({"DEEPERFOUR_GATEWAY_TLS": "true"}).client.tls
    client = Settings({"DEEPERFOUR_GATEWAY_CA_FILE": "/ca.pem", "DEEPERFOUR_GATEWAY_TLS_SERVER_NAME": "gw"}).client
    assert client.tls and client.ca_file == "/ca.pem" and client.tls_server_name == "gw"
