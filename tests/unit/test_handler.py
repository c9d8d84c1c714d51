"""The TorchServe handler, driven the way TorchServe drives it (handle() with a context), against a real S3 API
(moto, in-process): the chunk it stores is the one the embedded runner computes, shot state included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeperfour.distributed import codec as chunkcodec

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def s3(monkeypatch_module=None):
    from moto.server import ThreadedMotoServer

    from deeperfour.distributed.storage import ObjectStorage
    from deeperfour.settings import S3Settings
    from tools.stack import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = S3Settings(f"127.0.0.1:{port}", "k", "s", False, "deeperfour")
    storage = ObjectStorage(settings)
    storage.ensure_bucket()
    yield storage
    server.stop()


class MockContext:
    """What a TorchServe worker hands a handler."""

    def __init__(self, model_dir, serialized_file, handler_options):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": None, "batch_size": 1}
        self.manifest = {"model": {"modelName": "m", "serializedFile": serialized_file}}
        self.model_yaml_config = {"handler": handler_options}
        self.metrics = type("Metrics", (), {"add_time": lambda *a, **k: None})()

    def get_request_header(self, idx, key):
        return None


def make_handler(tmp_path, s3, monkeypatch, stage="stabilize"):
    from safetensors.torch import save_file

    from deeperfour.models.registry import build_model, get_preset
    from deeperfour.serving.handler import StageHandler

    preset = get_preset(stage, "lite")
    save_file({k: v.contiguous() for k, v in build_model(preset).state_dict().items()}, str(tmp_path / "w.safetensors"))
    s = s3.settings
    for key, value in {"ENDPOINT": s.endpoint, "ACCESS_KEY": "k", "SECRET_KEY": "s", "BUCKET": s.bucket}.items():
        monkeypatch.setenv(f"DEEPERFOUR_S3_{key}", value)
    handler = type("TestHandler", (StageHandler,), {"stage_name": stage})()
    context = MockContext(tmp_path, "w.safetensors", {"preset": preset.name, "batch_size": 8})
    handler.initialize(context)
    return handler, context, str(tmp_path / "w.safetensors")


def call(handler, context, request) -> object:
    from deeperfour.v1 import types_pb2

    [reply] = handler.handle([{"data": bytearray(request.SerializeToString())}], context)
    return types_pb2.StageResponse.FromString(reply)


def test_stabilizer_chunks_with_state_equal_the_embedded_runner(tmp_path, s3, monkeypatch):
    from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
    from deeperfour.pipeline.runner import run_chunk
    from deeperfour.pipeline.stages import build_stage
    from deeperfour.v1 import types_pb2

    torch.manual_seed(0)
    handler, context, weights = make_handler(tmp_path, s3, monkeypatch)
    source = RNG.integers(0, 256, (7, 24, 32, 3), dtype=np.uint8)
    colored = RNG.integers(0, 256, (7, 24, 32, 3), dtype=np.uint8)  # stands for the colorizer's output
    outputs = []
    for k, (a, b) in enumerate([(0, 4), (4, 7)]):
        s3.put(f"t/source/{k}", chunkcodec.encode(source[a:b]))
        s3.put(f"t/colorize/{k}", chunkcodec.encode(colored[a:b]))
        reply = call(
            handler,
            context,
            types_pb2.StageRequest(
                stage="stabilize",
                bucket="deeperfour",
                input_key=f"t/colorize/{k}",
                source_key=f"t/source/{k}",
                state_in_key=f"t/state/{k - 1}" if k else "",
                state_out_key=f"t/state/{k}",
                output_key=f"t/out/{k}",
            ),
        )
        assert not reply.error and reply.frame_count == b - a and reply.state.key == f"t/state/{k}"
        assert set(reply.state.tensors) >= {"last_input", "last_output"} and reply.state.size_bytes > 0
        outputs.append(chunkcodec.decode(s3.get(reply.output_key)))

    stage = build_stage("stabilize", weights=weights)
    state = None
    reference = []
    for a, b in [(0, 4), (4, 7)]:  # embedded: the colorizer's output tensor is contiguous NCHW
        frames = frames_to_tensor(colored[a:b]).contiguous()
        out, [_, state] = run_chunk([_Fixed(frames), stage], frames_to_tensor(source[a:b]), [None, state])
        reference.append(tensor_to_frames(out))
    np.testing.assert_array_equal(np.concatenate(outputs), np.concatenate(reference))


class _Fixed:
    """A stand-in first stage that outputs given frames (the colorizer's, here)."""

    name, stateful = "fixed", False

    def __init__(self, frames):
        self.frames = frames

    def __call__(self, frames, source, state):
        return self.frames, None


def test_unusable_requests_get_an_error_answer(tmp_path, s3, monkeypatch):
    from deeperfour.v1 import types_pb2

    handler, context, _ = make_handler(tmp_path, s3, monkeypatch)
    s3.put("bad/chunk", b"not a chunk at all" * 4)
    cases = {
        "runs stabilize, not 'colorize'": types_pb2.StageRequest(stage="colorize", input_key="x", source_key="x"),
        "does not exist": types_pb2.StageRequest(stage="stabilize", input_key="missing", source_key="missing"),
        "not a DeeperFour chunk": types_pb2.StageRequest(
            stage="stabilize", input_key="bad/chunk", source_key="bad/chunk"
        ),
        "is not this server's": types_pb2.StageRequest(stage="stabilize", bucket="other", input_key="x"),
    }
    for expected, request in cases.items():
        assert expected in call(handler, context, request).error
    [reply] = handler.handle([{"data": bytearray(b"\xff\xff garbage")}], context)
    assert "not a deeperfour.v1.StageRequest" in types_pb2.StageResponse.FromString(reply).error
    # a missing shot state is an error, never a silent restart of the shot
    s3.put("ok/src", chunkcodec.encode(RNG.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)))
    reply = call(
        handler,
        context,
        types_pb2.StageRequest(
            stage="stabilize", input_key="ok/src", source_key="ok/src", state_in_key="ok/no-state", output_key="ok/out"
        ),
    )
    assert "does not exist" in reply.error and not s3.exists("ok/out")


def test_handler_files_define_exactly_one_class():
    """TorchServe imports <name>_handler.py by basename and needs exactly one class defined in it."""
    import importlib.util
    import inspect

    from deeperfour.serving.handler import StageHandler
    from tests.conftest import REPO

    for name, stage in {"colorizer": "colorize", "stabilizer": "stabilize", "cartoonizer": "cartoonize"}.items():
        path = REPO / "services" / name / f"{name}_handler.py"
        spec = importlib.util.spec_from_file_location(f"{name}_handler", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
        assert len(classes) == 1 and issubclass(classes[0], StageHandler) and classes[0].stage_name == stage


def test_chunk_codec_is_lossless_and_checks_its_input():
    frames = RNG.integers(0, 256, (5, 9, 7, 3), dtype=np.uint8)
    data = chunkcodec.encode(frames)
    np.testing.assert_array_equal(chunkcodec.decode(data), frames)
    for bad in (b"", b"DFCK", data[:-5], b"XXXX" + data[4:]):
        with pytest.raises(chunkcodec.ChunkFormatError):
            chunkcodec.decode(bad)


def test_frames_a_stage_cannot_process_fail_at_once_with_the_stage_s_reason(tmp_path, s3, monkeypatch):
    """A stage is a deterministic function of its input: what it raises on these frames it would raise again, so the
    answer is an error (the job fails at once), not an exception (TorchServe's "Prediction failed", retried)."""
    from deeperfour.v1 import types_pb2

    handler, context, _ = make_handler(tmp_path, s3, monkeypatch)
    for key, (h, w) in {"small/src": (40, 48), "big/src": (64, 80)}.items():
        s3.put(key, chunkcodec.encode(RNG.integers(0, 256, (3, h, w, 3), dtype=np.uint8)))
    first = types_pb2.StageRequest(
        stage="stabilize", input_key="small/src", source_key="small/src", output_key="small/o", state_out_key="small/s"
    )
    assert not call(handler, context, first).error
    # the next chunk's frames do not match the state the last one left: the stabilizer cannot go on from it
    request = types_pb2.StageRequest(
        stage="stabilize", input_key="big/src", source_key="big/src", output_key="big/o", state_in_key="small/s"
    )
    reply = call(handler, context, request)
    assert reply.error.startswith("cannot stabilize these 80x64 frames: RuntimeError: ") and "\n" not in reply.error
    assert len(reply.error) < 300 and not s3.exists("big/o")


@pytest.mark.parametrize("error", [MemoryError(), torch.OutOfMemoryError("CUDA out of memory"), RuntimeError("CUDA error: an illegal memory access was encountered")])
def test_running_out_of_memory_or_a_failing_gpu_is_left_to_retry(tmp_path, s3, monkeypatch, error):
    from deeperfour.serving.handler import transient
    from deeperfour.v1 import types_pb2

    handler, context, _ = make_handler(tmp_path, s3, monkeypatch)

    def stage(*args):
        raise error

    monkeypatch.setattr(handler, "stage", type("Failing", (), {"stateful": False, "__call__": staticmethod(stage)})())
    s3.put("ok/src", chunkcodec.encode(RNG.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)))
    request = types_pb2.StageRequest(stage="stabilize", input_key="ok/src", source_key="ok/src", output_key="ok/o")
    with pytest.raises(type(error)):
        call(handler, context, request)
    assert transient(error) and not transient(RuntimeError("Kernel size can't be greater than actual input size"))
