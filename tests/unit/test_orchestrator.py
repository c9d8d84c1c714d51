"""Orchestrator logic through build_app with a real S3 API (moto, in-process), a recording producer and model
servers replaced by small functions: routing and keys, state hand-over, retries, dead letters, cancel, idempotence."""

from __future__ import annotations

import numpy as np
import pytest

from deeperfour.distributed import bus, codec, keys
from deeperfour.serving.client import StageFailed
from deeperfour.v1 import events_pb2, types_pb2
from tests.unit.test_handler import s3  # noqa: F401  (fixture)

JOB = "0123456789abcdef0123456789abcdef"


class Producer:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic, key=None, value=None):
        self.sent.append((topic, key, value))

    def flush(self):
        pass

    def close(self):
        pass

    def on(self, topic):
        return [(k, v) for t, k, v in self.sent if t == topic]


class CopyModels:
    """A model server that copies its input and records what it was asked; `fail` scripts failures."""

    def __init__(self, storage, fail=None):
        self.storage, self.fail, self.requests = storage, fail or (lambda request, n: None), []

    def run(self, request):
        self.requests.append(request)
        self.fail(request, len(self.requests))
        self.storage.put(request.output_key, self.storage.get(request.input_key))
        reply = types_pb2.StageResponse(output_key=request.output_key)
        if request.stage == "stabilize":
            self.storage.put(request.state_out_key, b"state")
            reply.state.key = request.state_out_key
        return reply


@pytest.fixture
def app(s3, monkeypatch):  # noqa: F811
    from deeperfour.orchestrator import app as app_module
    from deeperfour.orchestrator.app import build_app
    from deeperfour.settings import OrchestratorSettings

    monkeypatch.setattr(app_module.time, "sleep", lambda s: None)  # no real back-off waits
    for key in s3.list(""):
        s3.delete(key)

    def make(fail=None, retry_seconds=30):
        settings = OrchestratorSettings(group="g", chunk_frames=4, retry_seconds=retry_seconds)
        models = CopyModels(s3, fail)
        return build_app(settings, storage=s3, consumer=object(), producer=Producer(), model_servers=models)

    return make


def ready_chunk(storage, shot=0, chunk=0, stages=("colorize", "stabilize"), frames=3):
    storage.put(keys.chunk_key(JOB, "source", shot, chunk), codec.encode(np.zeros((frames, 4, 4, 3), np.uint8)))
    ref = types_pb2.ChunkRef(job_id=JOB, shot_index=shot, chunk_index=chunk, frame_count=frames)
    return events_pb2.ChunkReady(chunk=ref, stages=list(stages))


def start_job(orchestrator, total=2):
    orchestrator.jobs.create(
        types_pb2.Job(
            job_id=JOB, state=types_pb2.JOB_STATE_QUEUED, input_name="a.mp4", input_key=keys.input_key(JOB, "a.mp4")
        )
    )
    orchestrator.jobs.set_status(JOB, types_pb2.JOB_STATE_RUNNING, chunks_total=total, frames_total=3 * total)


def test_stages_are_chained_with_deterministic_keys_and_state(app):
    o = app()
    start_job(o, total=3)
    o.handle(bus.READY, ready_chunk(o.storage, chunk=1).SerializeToString())
    colorize, stabilize = o.model_servers.requests
    base = f"jobs/{JOB}"
    assert colorize.input_key == f"{base}/source/000000/000001"
    assert colorize.output_key == f"{base}/colorize/000000/000001"
    assert stabilize.input_key == colorize.output_key and stabilize.source_key == colorize.input_key
    assert stabilize.state_in_key == f"{base}/state/stabilize/000000/000000"  # the previous chunk's state
    assert stabilize.state_out_key == f"{base}/state/stabilize/000000/000001"
    assert o.storage.get(keys.done_key(JOB, 0, 1)).decode() == stabilize.output_key
    o.handle(bus.READY, ready_chunk(o.storage, chunk=0).SerializeToString())
    assert o.model_servers.requests[-1].state_in_key == ""  # first chunk of a shot: no state
    # a redelivered message rewrites the same objects: nothing is added
    before = sorted(o.storage.list(base))
    o.handle(bus.READY, ready_chunk(o.storage, chunk=1).SerializeToString())
    assert sorted(o.storage.list(base)) == before


def test_a_stage_listed_twice_gets_its_own_keys(app):
    o = app()
    start_job(o, total=3)
    o.handle(
        bus.READY,
        ready_chunk(o.storage, stages=("colorize", "stabilize", "cartoonize", "stabilize")).SerializeToString(),
    )
    outputs = [r.output_key.split("/")[2] for r in o.model_servers.requests]
    assert outputs == ["colorize", "stabilize", "cartoonize", "stabilize3"]


def test_transient_failures_are_retried(app):
    def fail(request, n):
        if n <= 2:
            raise StageFailed("colorizer at x: UNAVAILABLE: failed to connect")

    o = app(fail)
    start_job(o, total=3)
    o.handle(bus.READY, ready_chunk(o.storage).SerializeToString())
    assert o.storage.exists(keys.done_key(JOB, 0, 0)) and not o.producer.on(bus.DEAD)
    assert len(o.model_servers.requests) == 4  # colorize failed twice, then colorize and stabilize


def test_a_permanent_failure_fails_the_job_at_once_through_the_dead_letter_topic(app):
    def fail(request, n):
        raise StageFailed("stabilizer: cannot stabilize these 2x2 frames: RuntimeError: too small", permanent=True)

    o = app(fail)
    start_job(o)
    o.handle(bus.READY, ready_chunk(o.storage, shot=2, chunk=5).SerializeToString())
    [(key, value)] = o.producer.on(bus.DEAD)
    dead = events_pb2.ChunkDead.FromString(value)
    assert key == f"{JOB}/000002".encode() and dead.attempts == 1 and dead.chunk.chunk_index == 5
    assert len(o.model_servers.requests) == 1  # never asked again: the same request can only fail again
    job = o.jobs.get(JOB)
    assert job.state == types_pb2.JOB_STATE_FAILED
    assert job.error == (
        "chunk 2/5 (frames 0-2) failed after 1 attempt: stabilizer: cannot stabilize these 2x2 frames: "
        "RuntimeError: too small"
    )
    assert not [k for k in o.storage.list(f"jobs/{JOB}/") if "/source/" in k or "/done/" in k]
    # later chunks of the failed job are dropped without calling a model
    calls = len(o.model_servers.requests)
    o.handle(bus.READY, ready_chunk(o.storage, shot=2, chunk=6).SerializeToString())
    assert len(o.model_servers.requests) == calls and not o.storage.exists(keys.chunk_key(JOB, "source", 2, 6))


def test_transient_failures_stop_being_retried_after_the_time_budget(app):
    def fail(request, n):
        raise StageFailed("colorizer at x: UNAVAILABLE: failed to connect")

    o = app(fail, retry_seconds=0)
    start_job(o)
    o.handle(bus.READY, ready_chunk(o.storage).SerializeToString())
    assert o.producer.on(bus.DEAD) and o.jobs.get(JOB).state == types_pb2.JOB_STATE_FAILED


def test_chunks_of_a_cancelled_job_are_dropped(app):
    o = app()
    start_job(o)
    o.jobs.cancel(JOB)
    o.handle(bus.READY, ready_chunk(o.storage).SerializeToString())
    assert not o.model_servers.requests and not o.storage.exists(keys.chunk_key(JOB, "source", 0, 0))
    assert o.jobs.get(JOB).state == types_pb2.JOB_STATE_CANCELLED


def test_finished_jobs_keep_no_intermediate_object_whatever_their_stages(app):
    o = app()
    start_job(o, total=2)  # one chunk of two: no assembly yet
    o.storage.put(keys.input_key(JOB, "a.mp4"), b"film")
    o.handle(
        bus.READY,
        ready_chunk(o.storage, stages=("colorize", "stabilize", "cartoonize", "stabilize")).SerializeToString(),
    )
    assert o.storage.exists(keys.state_key(JOB, "stabilize3", 0, 0))  # the repeated stage's own state
    o.storage.put(keys.output_key(JOB, "mp4"), b"film")
    o.jobs.remove_intermediates(JOB)
    left = {k.split("/")[2] for k in o.storage.list(f"jobs/{JOB}/")}
    assert left == {"job.pb", "status.pb", "input", "output.mp4"}, left


def test_model_server_calls_carry_the_inference_key_written_last(tmp_path):
    """With TorchServe's token authorization, each call sends the key from the model server's key_file.json as it is
    now: a restarted model server writes new keys."""
    import json
    from concurrent import futures

    import grpc

    from deeperfour.serving.client import ModelServers
    from deeperfour.torchserve import inference_pb2, inference_pb2_grpc

    seen = []

    class Server(inference_pb2_grpc.InferenceAPIsServiceServicer):
        def Predictions(self, request, context):
            seen.append(dict(context.invocation_metadata()).get("authorization"))
            reply = types_pb2.StageResponse(output_key="out").SerializeToString()
            return inference_pb2.PredictionResponse(prediction=reply)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    inference_pb2_grpc.add_InferenceAPIsServiceServicer_to_server(Server(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    key_file = tmp_path / "key_file.json"
    servers = ModelServers({"colorizer": f"127.0.0.1:{port}"}, 10, {"colorizer": str(key_file)})
    request = types_pb2.StageRequest(stage="colorize")
    try:
        servers.run(request)  # no key file yet: sent without a key (TorchServe refuses; the orchestrator retries)
        for key in ("first", "second"):
            key_file.write_text(json.dumps({"inference": {"key": key}, "management": {"key": "never sent"}}))
            servers.run(request)
    finally:
        servers.close()
        server.stop(0)
    assert seen == [None, "Bearer first", "Bearer second"]
