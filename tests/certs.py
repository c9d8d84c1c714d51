"""Throw-away TLS certificates for tests, made with the openssl command at run time (no key is ever committed)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

NAMES = "DNS:localhost,IP:127.0.0.1"  # what the test servers' certificates are valid for


@dataclass(frozen=True)
class Certs:
    ca: Path  # the test CA's certificate: what clients trust
    cert: Path  # the server's certificate, signed by the CA, for NAMES
    key: Path  # its private key
    self_signed: Path  # a self-signed certificate for NAMES (key: self_signed_key)
    self_signed_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting it must not be enough


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(name: str, d: Path) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d,
    )  # fmt: skip


def make_certs(d: Path) -> Certs:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d.mkdir(parents=True, exist_ok=True)
    _ca("ca", d)
    _ca("other-ca", d)
    (d / "names.ext").write_text(f"subjectAltName={NAMES}\n")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr", cwd=d,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "names.ext", "-out", "server.pem", cwd=d,
    )  # fmt: skip
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=localhost", "-addext", f"subjectAltName={NAMES}", "-keyout", "self.key", "-out", "self.pem",
        cwd=d,
    )  # fmt: skip
    for key in d.glob("*.key"):
        key.chmod(0o600)
    return Certs(d / "ca.pem", d / "server.pem", d / "server.key", d / "self.pem", d / "self.key", d / "other-ca.pem")
