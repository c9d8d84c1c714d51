"""Shared TorchServe handler: one request = one chunk named by object keys; runs the embedded mode's Stage on it.

The model server is stateless: a stateful stage (the stabilizer) reads the shot state the previous chunk left at
`state_in_key` and writes its new state to `state_out_key`; both keys travel in the request and the response.
Pixels never travel in requests (TorchServe caps them at ~6.5 MB, Kafka at ~1 MB).

A request that can never be served gets a StageResponse with `error` set, which fails its job at once: a bad
message, a missing or corrupt object, or frames the stage cannot process (e.g. 2x2 pixels; a stage is a
deterministic function of its input, so the same request would fail again). Only what another attempt may not meet
raises, and becomes TorchServe's "Prediction failed", which the orchestrator retries: running out of memory, a
failing GPU, an unreachable object store.
"""

from __future__ import annotations

import logging
import os

import torch

try:  # TorchServe's base class when running inside a model server; the handler logic does not depend on it
    from ts.torch_handler.base_handler import BaseHandler
except ImportError:  # pragma: no cover - only without the serve extra
    BaseHandler = object

from deeperfour import settings
from deeperfour.distributed import codec
from deeperfour.errors import DeeperFourError
from deeperfour.v1 import types_pb2

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """The request names something unusable; answered with StageResponse.error."""


class StageHandler(BaseHandler):
    """Subclasses set `stage_name`; TorchServe calls initialize() once, then handle() per batch."""

    stage_name = ""

    def initialize(self, context) -> None:
        from deeperfour.distributed.memory import keep_freed_memory
        from deeperfour.distributed.storage import ObjectStorage
        from deeperfour.pipeline.stages import build_stage

        keep_freed_memory()  # each chunk would otherwise fault its buffers' pages in again: a third more CPU
        config = settings.load()  # this worker's entry point (OMP_WAIT_POLICY comes from the image or the stack)
        props = context.system_properties
        manifest = context.manifest
        weights = os.path.join(props.get("model_dir"), manifest["model"]["serializedFile"])
        options = dict((getattr(context, "model_yaml_config", None) or {}).get("handler") or {})
        gpu = props.get("gpu_id")
        device = f"cuda:{gpu}" if gpu is not None and torch.cuda.is_available() else "cpu"
        self.stage = build_stage(
            self.stage_name,
            preset=options.get("preset", "lite"),
            weights=weights,
            style=options.get("style"),
            device=device,
            batch_size=int(options.get("batch_size", 8)),
            render_factor=options.get("render_factor"),
            precision=options.get("precision"),  # else DEEPERFOUR_PRECISION, else auto
        )
        self.device = device
        self.storage = ObjectStorage(config.s3)
        self.context = context
        self.initialized = True
        log.info("%s ready: %r on %s, %d threads", self.stage_name, self.stage, device, torch.get_num_threads())

    # TorchServe's BaseHandler.handle calls preprocess → inference → postprocess; one list entry per request.
    def preprocess(self, data: list[dict]) -> list:
        return [self._load(row) for row in data]

    def inference(self, loaded: list, *args, **kwargs) -> list:
        from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames

        results: list = []
        for item in loaded:
            if isinstance(item, types_pb2.StageResponse):  # already an error answer
                results.append(item)
                continue
            request, frames, source, state = item
            try:  # CPU tensors, as in the embedded mode: a Stage moves what its network needs to the model's device
                source_t = frames_to_tensor(source)
                first = request.input_key == request.source_key
                frames_t = source_t if first else frames_to_tensor(frames)
                out, new_state = self.stage(frames_t, source_t, state)
            except Exception as e:
                if transient(e):
                    raise
                log.warning("%s cannot process chunk %s", self.stage_name, request.input_key, exc_info=True)
                results.append(types_pb2.StageResponse(error=self._reason(frames, e)))
                continue
            results.append((request, tensor_to_frames(out), new_state))
        return results

    def _reason(self, frames, error: Exception) -> str:
        """One line for the job's error (the orchestrator prefixes the model server's name): what failed on which
        frames, in the stage's own words."""
        if isinstance(error, DeeperFourError):
            return str(error)
        height, width = frames.shape[1:3]
        words = " ".join(str(error).split())
        words = words if len(words) <= 200 else words[:197] + "..."
        return f"cannot {self.stage_name} these {width}x{height} frames: {type(error).__name__}: {words}"

    def postprocess(self, results: list) -> list[bytes]:
        replies = []
        for item in results:
            if not isinstance(item, types_pb2.StageResponse):
                item = self._store(*item)
            replies.append(item.SerializeToString())
        return replies

    # ---- object I/O ----
    def _load(self, row: dict):
        from deeperfour.distributed.storage import ObjectNotFound
        from deeperfour.pipeline.state import ShotState

        try:
            raw = row.get("data") or row.get("body") if isinstance(row, dict) else None
            if not raw:
                raise BadRequest("empty request: send a StageRequest as input 'data'")
            try:
                request = types_pb2.StageRequest.FromString(bytes(raw))
            except Exception:
                raise BadRequest("the request is not a deeperfour.v1.StageRequest") from None
            if request.stage != self.stage_name:
                raise BadRequest(f"this model server runs {self.stage_name}, not {request.stage!r}")
            if request.bucket and request.bucket != self.storage.bucket:
                raise BadRequest(f"bucket {request.bucket!r} is not this server's ({self.storage.bucket})")
            frames = codec.decode(self.storage.get(request.input_key))
            source = (
                frames
                if request.source_key == request.input_key
                else codec.decode(self.storage.get(request.source_key))
            )
            if frames.shape != source.shape:
                raise BadRequest(f"input {frames.shape} and source {source.shape} chunks differ in shape")
            state = None
            if self.stage.stateful and request.state_in_key:  # a missing state must not silently restart the shot
                state = ShotState.from_bytes(self.storage.get(request.state_in_key))
            return request, frames, source, state
        except (BadRequest, ObjectNotFound, codec.ChunkFormatError, DeeperFourError) as e:
            return types_pb2.StageResponse(error=str(e))

    def _store(self, request: types_pb2.StageRequest, frames, state) -> types_pb2.StageResponse:
        reply = types_pb2.StageResponse(output_key=request.output_key, frame_count=len(frames))
        if self.stage.stateful and state is not None and request.state_out_key:
            data = state.to_bytes()
            self.storage.put(request.state_out_key, data)
            reply.state.CopyFrom(
                types_pb2.ShotStateRef(
                    key=request.state_out_key,
                    stage=request.stage,
                    shot_index=request.chunk.shot_index,
                    after_chunk=request.chunk.chunk_index,
                    tensors=sorted(state.tensors),
                    size_bytes=len(data),
                )
            )
        self.storage.put(request.output_key, codec.encode(frames))  # last: its presence means "done"
        return reply


def transient(error: BaseException) -> bool:
    """Whether another attempt may succeed: out of memory, or a failing GPU. Anything else a stage raises comes
    from its input, since a stage is a deterministic function of the frames and the state it is given."""
    text = str(error)
    return isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in text or "CUDA error" in text
