"""The client side of the model servers: TorchServe's gRPC inference API, and the backend through which the
orchestrator's `run_chunk` calls them.

With TorchServe's token authorization on (the local stack), every call carries the model server's inference key,
read from its key_file.json at each call: a restarted model server writes new keys."""

from __future__ import annotations

import json
from pathlib import Path

from deeperfour.distributed import keys
from deeperfour.pipeline import table
from deeperfour.v1 import types_pb2

_MB = 1 << 20


class StageFailed(Exception):
    """A stage call failed. `permanent` means retrying the same request cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class ModelServers:
    """One gRPC channel per model server (component -> host:port); `run(request)` -> StageResponse.
    `key_files`: component -> TorchServe key_file.json, for model servers with token authorization."""

    def __init__(self, addresses: dict[str, str], timeout: float, key_files: dict[str, str] | None = None):
        import grpc

        from deeperfour.torchserve import inference_pb2_grpc

        self.addresses, self.timeout, self.key_files = addresses, timeout, key_files or {}
        options = [("grpc.max_send_message_length", 16 * _MB), ("grpc.max_receive_message_length", 16 * _MB)]
        self._channels = {c: grpc.insecure_channel(a, options=options) for c, a in addresses.items()}
        self._stubs = {c: inference_pb2_grpc.InferenceAPIsServiceStub(ch) for c, ch in self._channels.items()}

    def run(self, request: types_pb2.StageRequest) -> types_pb2.StageResponse:
        import grpc

        from deeperfour.torchserve import inference_pb2

        server = table.info(request.stage).component  # the TorchServe model name too
        call = inference_pb2.PredictionsRequest(model_name=server, input={"data": request.SerializeToString()})
        try:
            reply = self._stubs[server].Predictions(call, timeout=self.timeout, metadata=self._auth(server))
        except grpc.RpcError as e:
            # Down, restarting (its new key not written yet), out of memory: what a retry can cure. The handler
            # answers a request it can never serve with StageResponse.error instead.
            raise StageFailed(f"{server} at {self.addresses[server]}: {e.code().name}: {e.details()}") from None
        response = types_pb2.StageResponse.FromString(reply.prediction)
        if response.error:
            raise StageFailed(f"{server}: {response.error}", permanent=True)
        return response

    def _auth(self, server: str) -> tuple[tuple[str, str], ...]:
        path = self.key_files.get(server)
        if not path:
            return ()
        try:
            key = json.loads(Path(path).read_text())["inference"]["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return ()  # not written yet: the call is refused, and retried
        return (("authorization", f"Bearer {key}"),)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


class TorchServeBackend:
    """run_chunk's backend for one chunk in the orchestrator: each stage is a call to its model server, and frames
    and shot states are object keys, so pixels never travel in requests or messages."""

    def __init__(self, servers: ModelServers, bucket: str, chunk: types_pb2.ChunkRef, stages: list[str]):
        self.servers, self.bucket, self.chunk, self.stages = servers, bucket, chunk, stages
        self.names = table.storage_names(stages)

    def source_key(self) -> str:
        c = self.chunk
        return keys.chunk_key(c.job_id, "source", c.shot_index, c.chunk_index)

    def states_in(self) -> list[str | None]:
        """Per stage, the state the shot's previous chunk left (None: the shot's first chunk, or a stateless stage)."""
        c = self.chunk
        return [
            keys.state_key(c.job_id, name, c.shot_index, c.chunk_index - 1)
            if c.chunk_index and table.info(stage).stateful
            else None
            for stage, name in zip(self.stages, self.names, strict=True)
        ]

    def __call__(self, k: int, stage: str, frames: str, source: str, state: str | None) -> tuple[str, str | None]:
        c, name = self.chunk, self.names[k]
        state_out = keys.state_key(c.job_id, name, c.shot_index, c.chunk_index) if table.info(stage).stateful else ""
        request = types_pb2.StageRequest(
            stage=stage,
            chunk=c,
            bucket=self.bucket,
            input_key=frames,
            source_key=source,
            state_in_key=state or "",
            state_out_key=state_out,
            output_key=keys.chunk_key(c.job_id, name, c.shot_index, c.chunk_index),
        )
        return self.servers.run(request).output_key, state_out or None
