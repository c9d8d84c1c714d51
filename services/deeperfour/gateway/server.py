"""The gateway: the public gRPC API (deeperfour.v1.JobsService) in front of object storage and Kafka.

Every JobsService call needs `authorization: Bearer <token>` metadata; health and reflection do not (probes).
Job ids are checked against one strict pattern before they touch a key, so no request can name another
prefix of the bucket; input URIs must point into the service's own bucket, outside jobs/. Every refusal is one
short line (user input in it is cut short). It listens on DEEPERFOUR_GATEWAY_BIND_ADDRESS (127.0.0.1 unless told),
with TLS when a certificate and key are configured.
"""

from __future__ import annotations

import hmac
import logging
import posixpath
import socket
import ssl
import tempfile
import time
import uuid
from concurrent import futures

import grpc

from deeperfour import settings as config
from deeperfour.distributed import bus, keys
from deeperfour.distributed.jobs import OUTPUT_FORMATS, TERMINAL, JobNotFound, JobStore, now_ms, state_name
from deeperfour.distributed.storage import ObjectStorage
from deeperfour.errors import DeeperFourError
from deeperfour.pipeline import table
from deeperfour.settings import GatewaySettings, KafkaSettings
from deeperfour.v1 import events_pb2, jobs_service_pb2, jobs_service_pb2_grpc, types_pb2

log = logging.getLogger("deeperfour.gateway")
SERVICE = "deeperfour.v1.JobsService"
_MB = 1 << 20
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
MESSAGE_LIMIT = 300  # characters of an error message
S3_KEY_BYTES = 1024  # the longest object key S3 allows


class TokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str):
        self._token = token.encode()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or not details.method.startswith(f"/{SERVICE}/"):
            return handler
        value = dict(details.invocation_metadata or ()).get("authorization", "")
        if not value:
            return _deny(
                handler, grpc.StatusCode.UNAUTHENTICATED, "missing token: send metadata 'authorization: Bearer <token>'"
            )
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _deny(handler, grpc.StatusCode.UNAUTHENTICATED, "malformed authorization: expected 'Bearer <token>'")
        if not hmac.compare_digest(token.encode(), self._token):
            return _deny(handler, grpc.StatusCode.UNAUTHENTICATED, "invalid token")
        return handler


def _abort(context, code: grpc.StatusCode, message: str):
    """End the call with one short line (messages can carry user input; gRPC caps the size of its trailers)."""
    line = " ".join(message.split())
    if len(line) > MESSAGE_LIMIT:
        line = line[: MESSAGE_LIMIT - 3] + "..."
    context.abort(code, line)


def _deny(handler, code, message):
    """A handler of the same kind as `handler` that aborts with `code`."""

    def abort(request, context):
        context.abort(code, message)

    kind = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    return kind[(handler.request_streaming, handler.response_streaming)](
        abort, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )


class JobsService(jobs_service_pb2_grpc.JobsServiceServicer):
    def __init__(self, settings: GatewaySettings, storage: ObjectStorage, producer):
        self.settings, self.storage, self.producer = settings, storage, producer
        self.jobs = JobStore(storage)

    # ---- SubmitJob ----
    def SubmitJob(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("payload") != "spec":
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first message must carry the job spec")
        spec = first.spec
        options = self._check_options(spec.options, context)
        job_id = uuid.uuid4().hex
        name = keys.safe_name(spec.input_name or posixpath.basename(spec.input_uri) or "input.mp4")
        input_key = keys.input_key(job_id, name)
        if spec.input_uri:
            source = self._check_uri(spec.input_uri, context)
            if next(request_iterator, None) is not None:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "send either input_uri or the file's bytes, not both")
            self.storage.copy(source, input_key)
        else:
            self._receive_upload(request_iterator, input_key, context)
        job = types_pb2.Job(
            job_id=job_id,
            state=types_pb2.JOB_STATE_QUEUED,
            options=options,
            input_name=name,
            input_key=input_key,
            created_unix_ms=now_ms(),
            updated_unix_ms=now_ms(),
        )
        self.jobs.create(job)
        message = events_pb2.JobSubmitted(job=job).SerializeToString()
        self.producer.send(bus.SUBMITTED, key=job_id.encode(), value=message)
        self.producer.flush()
        log.info("job %s submitted: %s, stages %s", job_id, name, ",".join(options.stages))
        return jobs_service_pb2.SubmitJobResponse(job=job)

    def _receive_upload(self, request_iterator, key: str, context) -> None:
        limit = self.settings.max_upload_bytes
        with tempfile.NamedTemporaryFile(prefix="deeperfour-upload-") as tmp:
            size = 0
            for message in request_iterator:
                if message.WhichOneof("payload") != "data":
                    _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "only the first message may carry a spec")
                size += len(message.data)
                if size > limit:
                    _abort(
                        context,
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"upload exceeds the gateway's limit of {limit // _MB} MB "
                        "(DEEPERFOUR_GATEWAY_MAX_UPLOAD_MB); put the file in the bucket and pass input_uri",
                    )
                tmp.write(message.data)
            if size == 0:
                _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "the upload is empty: send the film's bytes after the spec",
                )
            tmp.flush()
            self.storage.put_file(key, tmp.name)

    def _check_options(self, options: types_pb2.JobOptions, context) -> types_pb2.JobOptions:
        options = types_pb2.JobOptions.FromString(options.SerializeToString())
        if not options.stages:
            options.stages.extend(table.DEFAULT)
        try:
            table.parse(options.stages)
        except DeeperFourError as e:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e))
        fmt = options.output_format.lstrip(".").lower() or "mp4"
        if fmt not in OUTPUT_FORMATS:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unsupported output format {keys.shown(fmt)}; choose from {', '.join(OUTPUT_FORMATS)}",
            )
        options.output_format = fmt
        if not 0 <= options.chunk_frames <= 1000:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "chunk_frames must be between 1 and 1000 (0 = default)")
        return options

    def _check_uri(self, uri: str, context) -> str:
        """s3://<our bucket>/<key>, outside jobs/ and without '..': the only objects a user may name."""
        prefix = f"s3://{self.storage.bucket}/"
        if not uri.startswith(prefix):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"input_uri must start with {prefix}")
        key = uri[len(prefix) :]
        if len(key.encode()) > S3_KEY_BYTES:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input_uri is too long: keys have at most {S3_KEY_BYTES} bytes",
            )
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == "jobs":
            _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"input_uri {keys.shown(uri, 120)} names a path outside the upload area",
            )
        if not self.storage.exists(key):
            _abort(context, grpc.StatusCode.NOT_FOUND, f"input_uri {keys.shown(uri, 120)} does not exist")
        return key

    # ---- reading jobs ----
    def _job(self, job_id: str, context) -> types_pb2.Job:
        return self.jobs.merged(self._record(job_id, context))

    def _record(self, job_id: str, context) -> types_pb2.Job:
        """The job as submitted."""
        try:
            keys.check_job_id(job_id)
        except DeeperFourError as e:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            return self.jobs.record(job_id)
        except JobNotFound:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"no job {job_id}")
            raise  # abort() raises; this line only tells type checkers

    def GetJob(self, request, context):
        return jobs_service_pb2.GetJobResponse(job=self._job(request.job_id, context))

    def WatchJob(self, request, context):
        last, record = None, self._record(request.job_id, context)
        while context.is_active():
            job = self.jobs.merged(record)  # the record is read once: each poll costs the object store requests
            seen = (job.state, job.chunks_done, job.chunks_total)
            if seen != last:
                last = seen
                yield events_pb2.JobEvent(
                    job_id=job.job_id,
                    state=job.state,
                    chunks_done=job.chunks_done,
                    chunks_total=job.chunks_total,
                    message=job.error,
                    time_unix_ms=now_ms(),
                )
            if job.state in TERMINAL:
                return
            time.sleep(self.settings.watch_interval)

    def CancelJob(self, request, context):
        job = self._job(request.job_id, context)
        if job.state in TERMINAL:
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"job {job.job_id} is already {state_name(job.state)}")
        self.jobs.cancel(job.job_id)
        self.jobs.remove_intermediates(job.job_id)
        log.info("job %s cancelled", job.job_id)
        return jobs_service_pb2.CancelJobResponse(job=self.jobs.get(job.job_id))

    def ListJobs(self, request, context):
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"page_size must be between 1 and {MAX_PAGE_SIZE} (0 = {PAGE_SIZE}), not {request.page_size}",
            )
        size = request.page_size or PAGE_SIZE
        if request.page_token and not keys.is_job_id(request.page_token):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "malformed page_token")
        ids = [i for i in self.jobs.list_ids() if i > request.page_token]
        page = ids[:size]
        jobs = []
        for job_id in page:
            try:
                jobs.append(self.jobs.get(job_id))
            except JobNotFound:  # a prefix without a record (being created)
                pass
        token = page[-1] if len(ids) > size else ""
        return jobs_service_pb2.ListJobsResponse(jobs=jobs, next_page_token=token)

    def DownloadOutput(self, request, context):
        job = self._job(request.job_id, context)
        if job.state != types_pb2.JOB_STATE_SUCCEEDED:
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {job.job_id} is {state_name(job.state)}, not succeeded" + (f": {job.error}" if job.error else ""),
            )
        for part in self.storage.stream(job.output_key):
            yield jobs_service_pb2.DownloadOutputResponse(data=part)


def build_server(
    settings: GatewaySettings | None = None,
    *,
    kafka: KafkaSettings | None = None,
    storage=None,
    producer=None,
    address: str | None = None,
):
    """The one wiring point: returns (server, port) with JobsService, health and reflection registered."""
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    settings = settings or config.current().gateway
    credentials = _tls_credentials(settings)  # before anything else, so a bad file fails fast
    storage = storage or ObjectStorage()
    storage.ensure_bucket()
    if producer is None:
        kafka = kafka or config.current().kafka
        bus.ensure_topics(kafka)
        producer = bus.producer(kafka)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32),
        interceptors=[TokenInterceptor(settings.token)],
        # no SO_REUSEPORT: a second process must not be able to listen on the gateway's port beside it
        options=[("grpc.max_receive_message_length", 8 * _MB), ("grpc.so_reuseport", 0)],
    )
    jobs_service_pb2_grpc.add_JobsServiceServicer_to_server(JobsService(settings, storage, producer), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    names = (
        jobs_service_pb2.DESCRIPTOR.services_by_name["JobsService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    address = address or f"{settings.bind_address}:{settings.port}"
    try:
        _check_bindable(address)  # gRPC would say why too, but on stderr, in its own words
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except (OSError, RuntimeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "is the port in use?"
        raise DeeperFourError(f"cannot listen on {address}: {reason}") from None
    return server, port


def _check_bindable(address: str) -> None:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, int(port)))


def _tls_credentials(settings: GatewaySettings) -> grpc.ServerCredentials | None:
    """The server's certificate chain and key (PEM files), checked as a pair; None without TLS settings."""
    if not (settings.tls_cert and settings.tls_key):
        return None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.tls_cert, settings.tls_key)
    except ssl.SSLError as e:
        mismatch = e.reason == "KEY_VALUES_MISMATCH"
        problem = "the key does not match the certificate" if mismatch else "not a PEM certificate chain and its key"
        raise DeeperFourError(f"{_tls_files(settings)}: {problem}") from None
    except OSError as e:
        raise DeeperFourError(f"{_tls_files(settings)}: {e.strerror}") from None
    with open(settings.tls_cert, "rb") as cert, open(settings.tls_key, "rb") as key:
        return grpc.ssl_server_credentials([(key.read(), cert.read())])


def _tls_files(settings: GatewaySettings) -> str:
    return f"DEEPERFOUR_GATEWAY_TLS_CERT={settings.tls_cert}, DEEPERFOUR_GATEWAY_TLS_KEY={settings.tls_key}"
