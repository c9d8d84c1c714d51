"""A small synchronous client of deeperfour.v1.JobsService; every failure is a one-line DeeperFourError."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from deeperfour import settings
from deeperfour.distributed.jobs import TERMINAL, state_name
from deeperfour.errors import DeeperFourError
from deeperfour.pipeline import table
from deeperfour.v1 import events_pb2, jobs_service_pb2, jobs_service_pb2_grpc, types_pb2

PART = 1 << 20  # upload message size (gRPC's default limit is 4 MB per message)


class Client:
    """address and token default to DEEPERFOUR_GATEWAY_ADDRESS (or 127.0.0.1:DEEPERFOUR_GATEWAY_PORT) and _TOKEN.

    TLS: `ca_file` (PEM roots that sign the gateway's certificate, DEEPERFOUR_GATEWAY_CA_FILE) or `tls=True` (the
    system's roots, DEEPERFOUR_GATEWAY_TLS); `tls_server_name` when the certificate names another host than the
    address (e.g. through `kubectl port-forward`)."""

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        tls: bool | None = None,
        ca_file: str | os.PathLike | None = None,
        tls_server_name: str | None = None,
    ):
        defaults = settings.current().client
        self.address = address or defaults.address
        token = token if token is not None else defaults.token
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        ca_file = ca_file or defaults.ca_file
        tls_server_name = tls_server_name or defaults.tls_server_name
        self.tls = bool(ca_file) or (tls if tls is not None else defaults.tls)
        options: list[tuple[str, int | str]] = [("grpc.max_receive_message_length", 8 * PART)]
        if self.tls:
            if tls_server_name:
                options.append(("grpc.ssl_target_name_override", tls_server_name))
            credentials = grpc.ssl_channel_credentials(root_certificates=_read_ca(ca_file) if ca_file else None)
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        self._stub = jobs_service_pb2_grpc.JobsServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, request, *, timeout: float | None = -1.0):
        try:
            return getattr(self._stub, method)(
                request, metadata=self._metadata, timeout=self.timeout if timeout == -1.0 else timeout
            )
        except grpc.RpcError as e:
            raise _error(e, self.address, self.tls) from None

    # ---- jobs ----
    def submit(
        self, source: str | os.PathLike, stages=table.DEFAULT, *, chunk_frames: int = 0, output_format: str = ""
    ) -> Job:
        """Upload a local film (or name an object with s3://bucket/key) and start a job."""
        options = types_pb2.JobOptions(stages=list(stages), chunk_frames=chunk_frames, output_format=output_format)
        source = str(source)
        if source.startswith("s3://"):
            spec = jobs_service_pb2.JobSpec(input_uri=source, input_name=source.rsplit("/", 1)[-1], options=options)
            messages: Iterator = iter([jobs_service_pb2.SubmitJobRequest(spec=spec)])
        else:
            path = Path(source)
            if not path.is_file():
                raise DeeperFourError(f"{source}: no such file")
            spec = jobs_service_pb2.JobSpec(input_name=path.name, options=options)
            messages = _upload(spec, path)
        reply = self.call("SubmitJob", messages, timeout=None)
        return Job(self, reply.job)

    def job(self, job_id: str) -> Job:
        return Job(self, self.call("GetJob", jobs_service_pb2.GetJobRequest(job_id=job_id)).job)

    def jobs(self) -> list[types_pb2.Job]:
        out, token = [], ""
        while True:
            reply = self.call("ListJobs", jobs_service_pb2.ListJobsRequest(page_token=token))
            out.extend(reply.jobs)
            token = reply.next_page_token
            if not token:
                return out


class Job:
    def __init__(self, client: Client, info: types_pb2.Job):
        self.client, self.info = client, info

    @property
    def id(self) -> str:
        return self.info.job_id

    @property
    def state(self) -> str:
        return state_name(self.info.state)

    def refresh(self) -> Job:
        self.info = self.client.call("GetJob", jobs_service_pb2.GetJobRequest(job_id=self.id)).job
        return self

    def watch(self) -> Iterator[events_pb2.JobEvent]:
        """Progress events until the job is finished."""
        stream = self.client.call("WatchJob", jobs_service_pb2.WatchJobRequest(job_id=self.id), timeout=None)
        try:
            yield from stream
        except grpc.RpcError as e:
            raise _error(e, self.client.address, self.client.tls) from None

    def wait(self, progress: bool = False, timeout: float | None = None) -> Job:
        """Block until the job is finished; raise DeeperFourError when it failed or was cancelled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=0, unit="chunk", desc=f"job {self.id[:8]}", file=sys.stderr, dynamic_ncols=True)
        try:
            for event in self.watch():
                if bar is not None:
                    bar.total = max(event.chunks_total, 1)
                    bar.n = event.chunks_done
                    bar.set_postfix_str(state_name(event.state))
                if event.state in TERMINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise DeeperFourError(f"job {self.id} is still {state_name(event.state)} after {timeout:.0f} s")
        finally:
            if bar is not None:
                bar.close()
        self.refresh()
        if self.info.state == types_pb2.JOB_STATE_FAILED:
            raise DeeperFourError(f"job {self.id} failed: {self.info.error}")
        if self.info.state == types_pb2.JOB_STATE_CANCELLED:
            raise DeeperFourError(f"job {self.id} was cancelled")
        return self

    def cancel(self) -> Job:
        self.info = self.client.call("CancelJob", jobs_service_pb2.CancelJobRequest(job_id=self.id)).job
        return self

    def download(self, path: str | os.PathLike) -> Path:
        """Write the output film to `path` (through a temporary name, so no partial file is left)."""
        path = Path(path)
        if not path.parent.is_dir():
            raise DeeperFourError(f"{path.parent}: directory does not exist")
        tmp = path.with_name(f".{path.name}.part")
        stream = self.client.call(
            "DownloadOutput", jobs_service_pb2.DownloadOutputRequest(job_id=self.id), timeout=None
        )
        try:
            with open(tmp, "wb") as f:
                for part in stream:
                    f.write(part.data)
            os.replace(tmp, path)
        except grpc.RpcError as e:
            raise _error(e, self.client.address, self.client.tls) from None
        finally:
            tmp.unlink(missing_ok=True)
        return path


def _upload(spec, path: Path) -> Iterator[jobs_service_pb2.SubmitJobRequest]:
    yield jobs_service_pb2.SubmitJobRequest(spec=spec)
    with open(path, "rb") as f:
        while part := f.read(PART):
            yield jobs_service_pb2.SubmitJobRequest(data=part)


def _read_ca(path: str | os.PathLike) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DeeperFourError(f"CA file {path}: {e.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise DeeperFourError(f"CA file {path} holds no PEM certificate")
    return data


def _error(e: grpc.RpcError, address: str, tls: bool) -> DeeperFourError:
    code = e.code()
    if code == grpc.StatusCode.UNAVAILABLE:
        hint = (
            "does the gateway use TLS, and does the CA (--ca-file) sign its certificate for this name?"
            if tls
            else "is the stack up? (a TLS gateway needs --ca-file or --tls)"
        )
        return DeeperFourError(f"gateway {address} is unreachable ({e.details()}); {hint}")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return DeeperFourError(f"gateway refused the call: {e.details()} (set DEEPERFOUR_GATEWAY_TOKEN or --token)")
    return DeeperFourError(f"{code.name.lower()}: {e.details()}")
