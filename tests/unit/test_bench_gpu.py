"""tools/bench_gpu.py (`make bench-gpu`, run on the device machine) on this CPU with --quick, with the packages the
device machine lacks hidden: ffmpeg and its bindings, scene detection, the services' clients, platformdirs."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

# imported somewhere in the project, absent on the device machine (torch, numpy, safetensors, OpenCV, Pillow, PyYAML,
# tqdm and grpcio are there: /work/.library/device/KINDS.md)
MISSING_THERE = (
    "av",
    "ffmpeg",
    "imageio_ffmpeg",
    "scenedetect",
    "platformdirs",
    "minio",
    "kafka",
    "boto3",
    "moto",
    "ts",
    "tflite",
    "grpc_health",
    "grpc_reflection",
)
LITE = ("colorizer-lite", "stabilizer-lite", "cartoonizer-lite")


def test_bench_gpu_runs_with_only_the_device_machines_packages():
    args = ["--device", "cpu", "--quick", "--presets", ",".join(LITE), "--pipelines", "lite"]
    code = (
        "import runpy, sys\n"
        f"sys.modules.update(dict.fromkeys({MISSING_THERE!r}))  # None: importing it raises ImportError\n"
        f"sys.argv = ['tools/bench_gpu.py', *{args!r}]\n"
        "runpy.run_path('tools/bench_gpu.py', run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": "services"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert "error" not in proc.stdout and "skipped" not in proc.stdout, proc.stdout
    for preset in LITE:  # one row per precision, every cell filled
        cells = [[c.strip() for c in r.split("|")[1:-1]] for r in rows if r.startswith(f"| {preset} |")]
        assert [c[2] for c in cells] == ["fp32", "bf16"] and all(len(c) == 9 and all(c) for c in cells), cells
    [film] = [r for r in rows if r.startswith("| lite: colorizer-lite + stabilizer-lite | fp32 | 6 |")]
    assert float(film.split("|")[5]) > 0  # frames/s
