"""Calls to the TorchServe model servers over their gRPC inference API."""

from __future__ import annotations

from deeperfour.config import env, env_int
from deeperfour.v1 import types_pb2

SERVERS = {"colorize": "colorizer", "stabilize": "stabilizer", "cartoonize": "cartoonizer"}
_MB = 1 << 20


class StageFailed(Exception):
    """A stage call failed. `permanent` means retrying the same request cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class ModelServers:
    """One gRPC channel per model server; `run(request)` → StageResponse."""

    def __init__(self, addresses: dict[str, str] | None = None, timeout: float | None = None):
        import grpc

        from deeperfour.torchserve import inference_pb2_grpc

        self.addresses = addresses or {stage: env(server, "ADDR", "127.0.0.1:7070")
                                       for stage, server in SERVERS.items()}
        self.timeout = timeout or env_int("ORCHESTRATOR", "STAGE_TIMEOUT_S", 600)
        options = [("grpc.max_send_message_length", 16 * _MB), ("grpc.max_receive_message_length", 16 * _MB)]
        self._channels = {s: grpc.insecure_channel(a, options=options) for s, a in self.addresses.items()}
        self._stubs = {s: inference_pb2_grpc.InferenceAPIsServiceStub(c) for s, c in self._channels.items()}

    def run(self, request: types_pb2.StageRequest) -> types_pb2.StageResponse:
        import grpc

        from deeperfour.torchserve import inference_pb2

        stage = request.stage
        call = inference_pb2.PredictionsRequest(model_name=SERVERS[stage], input={"data": request.SerializeToString()})
        try:
            reply = self._stubs[stage].Predictions(call, timeout=self.timeout)
        except grpc.RpcError as e:
            # TorchServe answers UNAVAILABLE both when it is down and when the handler raised: retry both
            raise StageFailed(f"{SERVERS[stage]} at {self.addresses[stage]}: {e.code().name}: {e.details()}") from None
        response = types_pb2.StageResponse.FromString(reply.prediction)
        if response.error:
            raise StageFailed(f"{SERVERS[stage]}: {response.error}", permanent=True)
        return response

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
