"""One real distributed stack per test session: tansu (Kafka API), moto (S3 API), three TorchServe model servers,
two orchestrator replicas and the gateway, all on 127.0.0.1 with free ports, started by tools.stack (the code
`make up` runs). Weights are the presets' seeded random init written to tmp safetensors files, archived with the
code `make mars` runs, and used by the embedded reference runs too.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import REPO, make_clip

SERVERS = {"colorize": "colorizer", "stabilize": "stabilizer", "cartoonize": "cartoonizer"}
CHUNK_FRAMES = 8  # the stack's default; tests pass smaller ones per job
# Intra-op threads of every torch process, embedded reference included. The outputs are bit-identical only at equal
# thread counts: another count changes the float summation order in convolutions, which moves a handful of values
# (measured: 1e-5 of them) by 1-2 of 255 levels, and the stabilizer then carries that through the shot.
THREADS = 1


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (TorchServe needs Java 17: `make sysdeps`)")


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> dict[str, Path]:
    """stage -> tmp .safetensors holding the lite preset's deterministic init."""
    from safetensors.torch import save_file

    from deeperfour.models.registry import build_model, get_preset

    out = tmp_path_factory.mktemp("weights")
    paths = {}
    for stage, server in SERVERS.items():
        preset = get_preset(stage, "lite")
        paths[stage] = out / f"{preset.name}.safetensors"
        save_file({k: v.contiguous() for k, v in build_model(preset).state_dict().items()}, str(paths[stage]))
    return paths


@pytest.fixture(scope="session")
def mars(weights, tmp_path_factory) -> Path:
    from tools.archive import build_mars

    out = tmp_path_factory.mktemp("model-store")
    build_mars(out, {server: weights[stage] for stage, server in SERVERS.items()}, services=REPO / "services")
    return out


@pytest.fixture(scope="session")
def stack(mars, tmp_path_factory):
    from tools.stack import Ports, Stack

    _need("java")
    run = tmp_path_factory.mktemp("stack")
    s = Stack(
        run,
        mars,
        ports=Ports.free(),
        orchestrators=2,
        chunk_frames=CHUNK_FRAMES,
        services=REPO / "services",
        group=f"it-{uuid.uuid4().hex[:8]}",
        extra_env={
            "DEEPERFOUR_KAFKA_SESSION_TIMEOUT_MS": "6000",  # tansu answers the first join after ~half
            "DEEPERFOUR_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "DEEPERFOUR_GATEWAY_MAX_UPLOAD_MB": "1",
            "DEEPERFOUR_ORCHESTRATOR_RETRY_S": "90",
            "OMP_NUM_THREADS": str(THREADS),
        },
    )
    try:
        s.start(timeout=240)
    except BaseException:
        s.stop(grace=5)
        raise
    yield s
    s.stop(grace=10)  # the broker goes down with the rest, so the group cannot wedge a later run


@pytest.fixture(scope="session")
def client(stack):
    from deeperfour.client import Client

    with Client(stack.gateway_address(), token=stack.token, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def storage(stack):
    from deeperfour.distributed.storage import ObjectStorage
    from deeperfour.settings import S3Settings

    env = stack.env()
    return ObjectStorage(
        S3Settings(
            endpoint=env["DEEPERFOUR_S3_ENDPOINT"],
            access_key=env["DEEPERFOUR_S3_ACCESS_KEY"],
            secret_key=env["DEEPERFOUR_S3_SECRET_KEY"],
            secure=False,
            bucket=env["DEEPERFOUR_S3_BUCKET"],
        )
    )


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """Tiny grey clips (25 fps) with sine audio: 'cut' 2 shots of 20 frames, 'long' 2 of 30, 'short' 1 of 10."""
    d = tmp_path_factory.mktemp("clips")
    return {
        "cut": make_clip(d / "cut.mp4", size=(96, 64), shots=2, shot_seconds=0.8),
        "long": make_clip(d / "long.mp4", size=(96, 64), shots=2, shot_seconds=1.2),
        "short": make_clip(d / "short.mp4", size=(96, 64), shots=1, shot_seconds=0.4),
    }


@pytest.fixture(scope="session")
def embedded(weights, tmp_path_factory):
    """Cached embedded-mode reference: embedded(clip, stages) -> output path."""
    from deeperfour.pipeline.embedded import modernize

    d = tmp_path_factory.mktemp("embedded")
    cache: dict = {}

    def run(src: Path, stages: tuple[str, ...], chunk_frames: int = 16, ext: str = "mp4") -> Path:
        import torch

        key = (str(src), stages, chunk_frames, ext)
        if key not in cache:
            out = d / f"{Path(src).stem}-{'-'.join(stages)}-{chunk_frames}.{ext}"
            threads = torch.get_num_threads()
            torch.set_num_threads(THREADS)  # the model servers' count: same float summation order, same frames
            try:
                modernize(
                    src,
                    out,
                    stages=stages,
                    weights={k: str(v) for k, v in weights.items()},
                    chunk_frames=chunk_frames,
                    quiet=True,
                )
            finally:
                torch.set_num_threads(threads)
            cache[key] = out
        return cache[key]

    return run


def frames(path) -> np.ndarray:
    from deeperfour.video.io import read_frames
    from deeperfour.video.probe import probe

    return np.stack(list(read_frames(str(path), probe(path))))


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(*c.streams.audio) if p.size]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
