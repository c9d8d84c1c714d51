"""Distributed stack vs embedded mode on the same clip, and a chunk-size sweep (prints figures, asserts nothing).

    python tests/bench/bench_stack.py [--clip film.mp4] [--seconds 4] [--size 320x240] [--chunks 8,16,48]

Starts a private stack (tools.stack, free ports) with .mar files built from model_store/ weights (or the
presets' seeded random init when none are installed: same cost, meaningless pictures). Stack time is wall time from
submit to SUCCEEDED: upload, split, every chunk through the model servers, assembly. CPU time per frame is printed
for the embedded run (with its ffmpeg processes) and for each stack part during each job: on a machine where every
part shares the same cores, the stack's share of the embedded speed cannot exceed the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SERVERS = {"colorize": "colorizer", "stabilize": "stabilizer", "cartoonize": "cartoonizer"}


def session_cpu_seconds(sessions: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named session's processes (Linux /proc). Every stack part
    starts its own session, so a TorchServe part counts its Java frontend and its Python workers."""
    tick, out = os.sysconf("SC_CLK_TCK"), dict.fromkeys(sessions, 0.0)
    names = {sid: name for name, sid in sessions.items()}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[3]) in names:  # fields[3]: session id; [11], [12]: utime, stime in ticks
            out[names[int(fields[3])]] += (int(fields[11]) + int(fields[12])) / tick
    return out


def weights_for(tmp: Path) -> tuple[dict[str, Path], str]:
    from safetensors.torch import save_file

    from deeperfour import settings
    from deeperfour.models.registry import build_model, get_preset

    out, random = {}, []
    for stage in SERVERS:
        preset = get_preset(stage, "lite")
        path = settings.current().model_store / f"{preset.name}.safetensors"
        if not path.is_file():
            path = tmp / f"{preset.name}.safetensors"
            save_file({k: v.contiguous() for k, v in build_model(preset).state_dict().items()}, str(path))
            random.append(preset.name)
        out[stage] = path
    return out, ("seeded random init for " + ", ".join(random)) if random else "model_store weights"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clip", help="input film (default: a generated 2-shot grey clip with sound)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the generated clip")
    parser.add_argument("--size", default="320x240", help="size of the generated clip")
    parser.add_argument("--stages", default="colorize,stabilize")
    parser.add_argument("--chunks", default="8,16,48", help="chunk sizes to sweep (frames)")
    parser.add_argument("--data", help="ignored (Makefile compatibility)")
    args = parser.parse_args()

    from deeperfour.client import Client
    from deeperfour.pipeline.embedded import modernize
    from deeperfour.video.probe import probe
    from tests.bench.bench_pipeline import cpu_seconds  # this process and its finished ffmpeg children
    from tests.conftest import make_clip
    from tools.archive import build_mars
    from tools.stack import Ports, Stack

    stages = args.stages.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="deeperfour-bench-"))
    w, h = (int(v) for v in args.size.split("x"))
    clip = (
        Path(args.clip)
        if args.clip
        else make_clip(tmp / "clip.mp4", size=(w, h), shots=2, shot_seconds=args.seconds / 2)
    )
    info = probe(clip)
    weights, origin = weights_for(tmp)
    print(f"clip {clip.name}: {info.width}x{info.height}, {info.frame_count} frames; stages {args.stages}; {origin}")

    def run_embedded(label: str) -> float:
        t, cpu = time.perf_counter(), cpu_seconds()
        modernize(
            clip, tmp / "embedded.mp4", stages=stages, weights={k: str(v) for k, v in weights.items()}, quiet=True
        )
        seconds, cpu = time.perf_counter() - t, cpu_seconds() - cpu
        print(
            f"embedded ({label}): {seconds:.1f} s, {info.frame_count / seconds:.2f} frames/s, "
            f"CPU {1000 * cpu / info.frame_count:.1f} ms/frame",
            flush=True,
        )
        return seconds

    embedded = run_embedded("before the stack, model loading included")

    build_mars(tmp / "store", {SERVERS[s]: p for s, p in weights.items()}, services=REPO / "services")
    stack = Stack(
        tmp / "run",
        tmp / "store",
        ports=Ports.free(),
        orchestrators=2,
        services=REPO / "services",
        group=f"bench-{uuid.uuid4().hex[:8]}",
        extra_env={"DEEPERFOUR_KAFKA_SESSION_TIMEOUT_MS": "6000", "DEEPERFOUR_KAFKA_HEARTBEAT_INTERVAL_MS": "500"},
    )
    t = time.perf_counter()
    stack.start(timeout=300)
    print(f"stack up in {time.perf_counter() - t:.1f} s (logs: {stack.logs})")
    rows = []
    try:
        with Client(stack.gateway_address(), token=stack.token) as client:
            sessions = {name: proc.pid for name, proc in stack.procs.items()}
            for chunk in [int(c) for c in args.chunks.split(",")]:
                t, cpu = time.perf_counter(), session_cpu_seconds(sessions)
                job = client.submit(clip, stages=stages, chunk_frames=chunk).wait(timeout=3600)
                seconds = time.perf_counter() - t
                used = {k: v - cpu[k] for k, v in session_cpu_seconds(sessions).items()}
                fps = info.frame_count / seconds
                rows.append((chunk, job.info.chunks_total, seconds, fps, 100 * embedded / seconds))
                print(
                    f"stack, chunk {chunk:3d} frames: {job.info.chunks_total:3d} chunks, {seconds:6.1f} s, "
                    f"{fps:6.2f} frames/s, {100 * embedded / seconds:5.1f} % of embedded",
                    flush=True,
                )
                parts = sorted(used.items(), key=lambda kv: -kv[1])
                print(
                    f"  CPU {1000 * sum(used.values()) / info.frame_count:.1f} ms/frame: "
                    + ", ".join(f"{name} {1000 * v / info.frame_count:.1f}" for name, v in parts if v > 0),
                    flush=True,
                )
    finally:
        stack.stop()
    again = run_embedded("after the stack")
    if again < embedded:  # the machine is shared: compare against the faster embedded run
        embedded = again
        rows = [(c, n, s, f, 100 * embedded / s) for c, n, s, f, _ in rows]
        print(
            "percentages against the faster embedded run:", ", ".join(f"chunk {c}: {p:.0f} %" for c, _, _, _, p in rows)
        )
    best = max(rows, key=lambda r: r[3])
    print(f"best: chunk {best[0]} frames, {best[3]:.2f} frames/s = {best[4]:.0f} % of embedded (target >= 80 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
