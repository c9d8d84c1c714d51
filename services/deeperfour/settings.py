"""Every setting of every process: the `DEEPERFOUR_*` environment variables, read here and nowhere else.

An entry point (the CLI, a service's main, the TorchServe handler) builds the process's `Settings` once with
`load()`; code further down asks `current()`. Each section is parsed when it is first used, so a process fails at
start, with one line, on the settings it needs and not on those of other processes.

Variables (defaults in the section classes below):
    DEEPERFOUR_MODEL_STORE (searched before the per-user store and the packaged defaults; written to by import,
    download and train --export store), DEEPERFOUR_FFMPEG_BIN (or FFMPEG_BIN; default: imageio-ffmpeg's),
    DEEPERFOUR_DATA_ROOT (../shared/data), DEEPERFOUR_LOG_LEVEL (warning), DEEPERFOUR_DEBUG  CLI, training, tools
    DEEPERFOUR_PRECISION (auto; the command line's --precision wins)          CLI, model servers
    DEEPERFOUR_THREADS (auto: torch threads a stage; the command line's --threads wins)    CLI, model servers
    DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS, _SESSION_TIMEOUT_MS, _HEARTBEAT_INTERVAL_MS, _MAX_POLL_INTERVAL_MS
    DEEPERFOUR_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _SECURE, _BUCKET              gateway, orchestrator, model servers
    DEEPERFOUR_GATEWAY_PORT, _TOKEN (required), _MAX_UPLOAD_MB, _BIND_ADDRESS (127.0.0.1),
    DEEPERFOUR_GATEWAY_TLS_CERT, _TLS_KEY (PEM files; both or neither)             gateway
    DEEPERFOUR_GATEWAY_ADDRESS (or 127.0.0.1:_PORT), _TOKEN, _TLS, _CA_FILE, _TLS_SERVER_NAME   client
    DEEPERFOUR_ORCHESTRATOR_GROUP, _CHUNK_FRAMES, _RETRY_S, _STAGE_TIMEOUT_S,
    DEEPERFOUR_<COMPONENT>_ADDR (each model server's gRPC host:port),
    DEEPERFOUR_<COMPONENT>_KEY_FILE (its TorchServe key_file.json, when token auth is on)   orchestrator
    DEEPERFOUR_SETUP_TOPICS, _PARTITIONS, _REPLICATION, _TIMEOUT_S                 provision (the chart's setup Job)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from deeperfour.errors import DeeperFourError
from deeperfour.pipeline.table import COMPONENTS

PREFIX = "DEEPERFOUR_"
DATA_ROOT = Path("../shared/data")  # the shared data folder beside the repository, from its root
RENAMED = {"FFMPEG_BIN": "DEEPERFOUR_FFMPEG_BIN"}  # old name -> new name; the old one is still read
_MB = 1 << 20


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = "127.0.0.1:9000"
    access_key: str = ""  # no default credential: DEEPERFOUR_S3_ACCESS_KEY and _SECRET_KEY are required
    secret_key: str = ""
    secure: bool = False
    bucket: str = "deeperfour"


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: list[str] = field(default_factory=lambda: ["127.0.0.1:9092"])
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_poll_interval_ms: int = 1_800_000  # a long film's split


@dataclass(frozen=True)
class GatewaySettings:
    port: int
    token: str
    max_upload_bytes: int
    watch_interval: float = 1.0  # s between a WatchJob's looks at the job: each costs object-store requests
    bind_address: str = "127.0.0.1"  # 0.0.0.0 in containers
    tls_cert: str | None = None  # PEM certificate chain and key files: TLS when set
    tls_key: str | None = None


@dataclass(frozen=True)
class ClientSettings:
    address: str = "127.0.0.1:50051"
    token: str | None = None
    tls: bool = False
    ca_file: str | None = None  # PEM root certificates that sign the gateway's certificate (implies TLS)
    tls_server_name: str | None = None  # the name the certificate must carry, when not the address's host


@dataclass(frozen=True)
class OrchestratorSettings:
    group: str = "deeperfour-orchestrator"
    chunk_frames: int = 48
    retry_seconds: int = 120
    stage_timeout_s: int = 600
    model_servers: dict[str, str] = field(default_factory=dict)  # component -> gRPC host:port
    key_files: dict[str, str] = field(default_factory=dict)  # component -> TorchServe key_file.json (token auth)


@dataclass(frozen=True)
class SetupSettings:
    topics: list[str]
    partitions: int | None  # every topic gets this many; None: each topic's default (bus.TOPICS)
    replication: int
    timeout_s: float


class Settings:
    """The DEEPERFOUR_* variables of one process, parsed section by section on first use."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        self._values = {k: v for k, v in environ.items() if k.startswith(PREFIX)}
        for old, new in RENAMED.items():
            if old in environ and new not in self._values:
                self._values[new] = environ[old]

    # ---- raw values ----
    def get(self, name: str, default: str | None = None) -> str:
        """DEEPERFOUR_<name>; a None default means the setting is required."""
        value = self._values.get(PREFIX + name, default)
        if value is None:
            raise DeeperFourError(f"{PREFIX}{name} is not set; set it to run this service")
        return value

    def integer(self, name: str, default: int | None) -> int | None:
        raw = self._values.get(PREFIX + name, "")
        if not raw.strip():
            return default
        try:
            return int(raw)
        except ValueError:
            raise DeeperFourError(f"{PREFIX}{name}={raw!r} is not an integer") from None

    def number(self, name: str, default: int) -> int:
        value = self.integer(name, default)
        assert value is not None
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        return self.get(name, "true" if default else "false").strip().lower() in ("1", "true", "yes", "on")

    # ---- the embedded mode, training, tools ----
    @cached_property
    def model_store(self) -> Path:
        """Where imported, downloaded and exported weights go, and the first place searched (models/store.py):
        DEEPERFOUR_MODEL_STORE, else the per-user store."""
        value = self.get("MODEL_STORE", "")
        return Path(value).expanduser() if value else self.user_store

    @cached_property
    def model_store_is_set(self) -> bool:
        return bool(self.get("MODEL_STORE", ""))

    @cached_property
    def user_store(self) -> Path:
        """The per-user weights folder (platformdirs: ~/.local/share/deeperfour/weights on Linux, or under
        $XDG_DATA_HOME)."""
        import platformdirs

        return platformdirs.user_data_path("deeperfour", appauthor=False) / "weights"

    @cached_property
    def log_level(self) -> str:
        return self.get("LOG_LEVEL", "warning").strip().lower()

    @cached_property
    def ffmpeg_bin(self) -> str | None:
        return self.get("FFMPEG_BIN", "") or None

    @cached_property
    def data_root(self) -> Path:
        return Path(self.get("DATA_ROOT", str(DATA_ROOT)))

    @cached_property
    def debug(self) -> bool:
        return self.flag("DEBUG")

    @cached_property
    def threads(self) -> int | None:
        """Torch threads a stage computes with; None (unset, or auto): pipeline/stages.threads_for picks by frame
        size."""
        raw = self.get("THREADS", "").strip().lower()
        if raw in ("", "auto"):
            return None
        if not raw.isdigit() or int(raw) < 1:
            raise DeeperFourError(f"threads a stage {raw}: use auto or a number from 1 (--threads, {PREFIX}THREADS)")
        return int(raw)

    @cached_property
    def precision(self) -> str:
        """auto, fp32, bf16, fp16 or int8: the number format the networks run in (models/precision.py)."""
        return self.get("PRECISION", "auto").strip().lower() or "auto"

    # ---- the distributed mode ----
    @cached_property
    def s3(self) -> S3Settings:
        d = S3Settings()
        return S3Settings(
            endpoint=self.get("S3_ENDPOINT", d.endpoint),
            access_key=self.get("S3_ACCESS_KEY"),
            secret_key=self.get("S3_SECRET_KEY"),
            secure=self.flag("S3_SECURE", d.secure),
            bucket=self.get("S3_BUCKET", d.bucket),
        )

    @cached_property
    def kafka(self) -> KafkaSettings:
        d = KafkaSettings()
        return KafkaSettings(
            bootstrap_servers=self.get("KAFKA_BOOTSTRAP_SERVERS", ",".join(d.bootstrap_servers)).split(","),
            session_timeout_ms=self.number("KAFKA_SESSION_TIMEOUT_MS", d.session_timeout_ms),
            heartbeat_interval_ms=self.number("KAFKA_HEARTBEAT_INTERVAL_MS", d.heartbeat_interval_ms),
            max_poll_interval_ms=self.number("KAFKA_MAX_POLL_INTERVAL_MS", d.max_poll_interval_ms),
        )

    @cached_property
    def gateway(self) -> GatewaySettings:
        token = self.get("GATEWAY_TOKEN")  # required: no anonymous gateway
        if not token.strip():
            raise DeeperFourError(f"{PREFIX}GATEWAY_TOKEN is empty; set a secret token")
        cert, key = self.get("GATEWAY_TLS_CERT", "") or None, self.get("GATEWAY_TLS_KEY", "") or None
        if bool(cert) != bool(key):
            raise DeeperFourError(f"set both {PREFIX}GATEWAY_TLS_CERT and {PREFIX}GATEWAY_TLS_KEY for TLS, or neither")
        return GatewaySettings(
            port=self.number("GATEWAY_PORT", 50051),
            token=token,
            max_upload_bytes=self.number("GATEWAY_MAX_UPLOAD_MB", 2048) * _MB,
            bind_address=self.get("GATEWAY_BIND_ADDRESS", "127.0.0.1"),
            tls_cert=cert,
            tls_key=key,
        )

    @cached_property
    def client(self) -> ClientSettings:
        address = self.get("GATEWAY_ADDRESS", "") or f"127.0.0.1:{self.get('GATEWAY_PORT', '50051')}"
        ca_file = self.get("GATEWAY_CA_FILE", "") or None
        return ClientSettings(
            address=address,
            token=self.get("GATEWAY_TOKEN", "") or None,
            tls=self.flag("GATEWAY_TLS") or ca_file is not None,
            ca_file=ca_file,
            tls_server_name=self.get("GATEWAY_TLS_SERVER_NAME", "") or None,
        )

    @cached_property
    def orchestrator(self) -> OrchestratorSettings:
        d = OrchestratorSettings()
        return OrchestratorSettings(
            group=self.get("ORCHESTRATOR_GROUP", d.group),
            chunk_frames=self.number("ORCHESTRATOR_CHUNK_FRAMES", d.chunk_frames),
            retry_seconds=self.number("ORCHESTRATOR_RETRY_S", d.retry_seconds),
            stage_timeout_s=self.number("ORCHESTRATOR_STAGE_TIMEOUT_S", d.stage_timeout_s),
            model_servers={c: self.get(f"{c.upper()}_ADDR", "127.0.0.1:7070") for c in COMPONENTS},
            key_files={c: f for c in COMPONENTS if (f := self.get(f"{c.upper()}_KEY_FILE", ""))},
        )

    @cached_property
    def setup(self) -> SetupSettings:
        return SetupSettings(
            topics=[t for t in self.get("SETUP_TOPICS").split(",") if t],  # empty: create no topic
            partitions=self.integer("SETUP_PARTITIONS", None),
            replication=self.number("SETUP_REPLICATION", 1),
            timeout_s=float(self.get("SETUP_TIMEOUT_S", "600")),
        )


_current: Settings | None = None


def load(environ: Mapping[str, str] | None = None, **given: str | None) -> Settings:
    """Build the process's settings from the environment (entry points call this once, at start). `given`: values
    the command line gave, by name without the prefix (PRECISION="bf16"); they win over the environment's, None
    means not given."""
    global _current
    environ = os.environ if environ is None else environ
    _current = Settings({**environ, **{PREFIX + k: v for k, v in given.items() if v is not None}})
    return _current


def current() -> Settings:
    """The settings the process's entry point loaded; without one (a library user), the environment as it is now."""
    return _current if _current is not None else Settings()


def clear() -> None:
    """Forget the loaded settings, so that `current()` reads the environment again (tests)."""
    global _current
    _current = None


def prefer_sleeping_threads() -> None:
    """Torch's OpenMP threads otherwise spin while waiting; on a shared CPU (ffmpeg beside us, or other processes)
    that slowed the lite models 5-15x. OpenMP reads this when torch loads: entry points call it before that."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
