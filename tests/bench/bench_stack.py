"""Distributed stack vs embedded mode on the same clip, and a chunk-size sweep (prints figures, asserts nothing).

    python tests/bench/bench_stack.py [--clip film.mp4] [--seconds 4] [--size 320x240] [--chunks 8,16,48] [--rounds 3]

Starts a private stack (tools.stack, free ports) with .mar files built from model_store/ weights (or the
presets' seeded random init when none are installed: same cost, meaningless pictures). Stack time is wall time from
submit to SUCCEEDED: upload, split, every chunk through the model servers, assembly.

The figure the target is set on is CPU time per frame: the stack's (every part's processes: Java frontends, model
workers, S3, Kafka, orchestrators with their ffmpeg, gateway) over the embedded mode's (this process with its ffmpeg
processes, model loading included, as a user runs it). The machine is shared, so CPU time per frame drifts with its
load: each stack job runs right after an embedded run, the ratio is taken per pair, and the median over --rounds
pairs is printed per chunk size. A first embedded run (imports) and a first stack job (Java JIT, the workers' first
inferences) warm up and are printed apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
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

    from deeperfour.models.registry import build_model, get_preset
    from deeperfour.models.store import find

    out, random = {}, []
    for stage in SERVERS:
        preset = get_preset(stage, "lite")
        found = find(preset.name)
        path = found[0] if found else tmp / f"{preset.name}.safetensors"
        if not found:
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
    parser.add_argument("--rounds", type=int, default=3, help="embedded/stack pairs per chunk size")
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

    def run_embedded() -> tuple[float, float]:
        """Seconds, CPU ms per frame."""
        t, cpu = time.perf_counter(), cpu_seconds()
        modernize(
            clip, tmp / "embedded.mp4", stages=stages, weights={k: str(v) for k, v in weights.items()}, quiet=True
        )
        return time.perf_counter() - t, 1000 * (cpu_seconds() - cpu) / info.frame_count

    def say(label: str, seconds: float, cpu: float) -> None:
        print(
            f"{label}: {seconds:5.1f} s, {info.frame_count / seconds:6.2f} frames/s, CPU {cpu:5.1f} ms/frame",
            flush=True,
        )

    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (the machine is shared)")
    say("embedded, first run (imports, warm-up)", *run_embedded())

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
    chunks = [int(c) for c in args.chunks.split(",")]
    pairs: dict[int, list[tuple[float, float, float, float]]] = {c: [] for c in chunks}
    try:
        with Client(stack.gateway_address(), token=stack.token) as client:
            sessions = {name: proc.pid for name, proc in stack.procs.items()}

            def run_stack(chunk: int) -> tuple[float, float, dict[str, float]]:
                """Seconds, CPU ms per frame, CPU ms per frame of each part."""
                t, cpu = time.perf_counter(), session_cpu_seconds(sessions)
                client.submit(clip, stages=stages, chunk_frames=chunk).wait(timeout=3600)
                seconds = time.perf_counter() - t
                used = {k: 1000 * (v - cpu[k]) / info.frame_count for k, v in session_cpu_seconds(sessions).items()}
                return seconds, sum(used.values()), used

            seconds, cpu, _ = run_stack(chunks[0])
            say(f"stack, first job (chunk {chunks[0]}: JIT, first inferences)", seconds, cpu)
            for round in range(args.rounds):
                for chunk in chunks:
                    e_seconds, e_cpu = run_embedded()
                    s_seconds, s_cpu, used = run_stack(chunk)
                    pairs[chunk].append((e_seconds, e_cpu, s_seconds, s_cpu))
                    print(f"round {round + 1}, chunk {chunk} frames:")
                    say("  embedded", e_seconds, e_cpu)
                    say("  stack   ", s_seconds, s_cpu)
                    parts = sorted(used.items(), key=lambda kv: -kv[1])
                    print(
                        f"  stack CPU / embedded CPU {s_cpu / e_cpu:.2f}; stack parts (ms/frame): "
                        + ", ".join(f"{name} {v:.1f}" for name, v in parts if v > 0),
                        flush=True,
                    )
    finally:
        stack.stop()
    print(f"load average at end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"medians over {args.rounds} pair(s) (embedded run, then stack job):")
    for chunk, rows in pairs.items():
        ratio = statistics.median(s_cpu / e_cpu for _, e_cpu, _, s_cpu in rows)
        speed = statistics.median(e_seconds / s_seconds for e_seconds, _, s_seconds, _ in rows)
        e_cpu, s_cpu = (statistics.median(r[k] for r in rows) for k in (1, 3))
        print(
            f"  chunk {chunk:3d}: CPU {s_cpu:5.1f} vs {e_cpu:5.1f} ms/frame, stack/embedded {ratio:.2f} "
            f"(target <= 1.20); stack speed {100 * speed:.0f} % of embedded"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
