"""The command line answers at once: help, version and argument errors import no torch, model or gRPC module; a
missing input is reported before the pipeline loads; a distributed command without its extra names the extra."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deeperfour.cli import build_parser, cartoon_preset, per_stage
from deeperfour.errors import DeeperFourError
from deeperfour.pipeline import options

HEAVY = ("torch", "torchvision", "grpc", "google.protobuf", "av", "cv2", "scenedetect", "matplotlib", "kafka", "minio")

# Runs the real entry point in a fresh interpreter, then reports its exit code, stderr and the heavy modules loaded.
PROBE = """
import contextlib, io, json, sys
from deeperfour.cli import main
err = io.StringIO()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "stderr": err.getvalue(), "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def run_probe(*argv: str, block: tuple[str, ...] = ()) -> dict:
    blocker = "".join(f"sys.modules[{m!r}] = None\n" for m in block)  # as if the module were not installed
    code = "import sys\n" + blocker + PROBE
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


COMMANDS = [
    ("--help",),
    ("--version",),
    *[(c, "--help") for c in ("modernize", "weights", "eval", "compare", "train", "submit", "status", "watch")],
    *[(c, "--help") for c in ("download", "cancel")],
    *[("weights", c, "--help") for c in ("import", "download", "list")],
    ("modernize",),  # no input: an argument error
    ("modernize", "in.mp4", "-o", "out.mp4", "--crf", "soft"),
    ("modernise", "in.mp4"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_help_version_and_argument_errors_import_nothing_heavy(argv):
    r = run_probe(*argv)
    assert r["loaded"] == [], f"{' '.join(argv)} imported {r['loaded']}"
    if "--help" in argv or "--version" in argv:
        assert r["code"] == 0
    else:
        assert r["code"] == 2 and "error:" in r["stderr"] and "Traceback" not in r["stderr"]


def test_a_missing_input_is_reported_before_the_pipeline_loads(tmp_path):
    r = run_probe("modernize", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out.mp4"))
    assert r["code"] == 2 and r["loaded"] == []
    assert r["stderr"].strip() == f"deeperfour: error: {tmp_path / 'nope.mp4'}: no such file"


def test_an_unknown_preset_is_refused_before_the_pipeline_loads(tmp_path):
    r = run_probe("modernize", "in.mp4", "-o", "out.mp4", "--preset", "colorize=deoldify-movie")
    assert r["code"] == 2 and r["loaded"] == []
    assert "unknown colorize preset 'deoldify-movie'; valid: lite, colorizer-lite, deoldify-video" in r["stderr"]


@pytest.mark.parametrize("argv", [("status",), ("submit", "film.mp4"), ("cancel", "job-1")])
def test_a_distributed_command_without_its_extra_names_the_extra(argv):
    r = run_probe(*argv, block=("grpc",))
    lines = r["stderr"].strip().splitlines()
    assert r["code"] == 2 and len(lines) == 1, r["stderr"]
    assert lines[0] == (
        f"deeperfour: error: deeperfour {argv[0]} needs the 'orchestrator' extra (grpc is not installed): "
        "pip install 'deeperfour[orchestrator]'"
    )


def test_modernize_help_lists_presets_styles_and_defaults(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["modernize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("deoldify-video", "deoldify-stable", "deoldify-artistic", "lai2018", "cartoongan", "colorizer-lite"):
        assert name in text
    assert "lite, hayao, hosoda, paprika, shinkai" in text
    for default in ("(default: 18)", "(default: medium)", "(default: lite)"):
        assert default in text, default
    assert "(models see one frame per call) (default: 8)" in text
    assert f"frames per chunk, the pipeline's step (default: {options.CHUNK_FRAMES})" in text


def test_verbose_and_log_level(capsys):
    parser = build_parser()
    assert parser.parse_args(["-vv", "weights", "list"]).verbose == 2
    assert parser.parse_args(["--log-level", "debug", "weights", "list"]).log_level == "debug"
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-level", "chatty", "weights", "list"])
    assert "invalid choice: 'chatty'" in capsys.readouterr().err


def test_per_stage_presets_and_cartoon_styles():
    stages = ["colorize", "stabilize"]
    assert per_stage("deoldify-stable,stabilize=lai2018", "--preset", stages) == {
        "colorize": "deoldify-stable",
        "stabilize": "lai2018",
    }
    assert per_stage("lite", "--preset", stages) == {"colorize": "lite", "stabilize": "lite"}
    with pytest.raises(DeeperFourError, match="unknown stage 'recolor'"):
        per_stage("recolor=x", "--preset", stages)
    # the style goes to the cartoonize stage, which then runs the published CartoonGAN weights of that style
    assert cartoon_preset("hayao", {"colorize": "lite"}) == ("hayao", {"colorize": "lite", "cartoonize": "cartoongan"})
    assert cartoon_preset("lite", {}) == (None, {"cartoonize": "lite"})
    assert cartoon_preset(None, {"colorize": "lite"}) == (None, {"colorize": "lite"})
    with pytest.raises(DeeperFourError, match="has no styles"):
        cartoon_preset("shinkai", {"cartoonize": "cartoonizer-lite"})


def test_the_python_api_shows_the_real_keyword_arguments():
    import inspect

    import deeperfour
    from deeperfour.pipeline.embedded import modernize

    shown = inspect.signature(deeperfour.modernize).parameters.values()
    real = inspect.signature(modernize).parameters.values()
    assert [(p.name, p.kind, p.default) for p in shown] == [(p.name, p.kind, p.default) for p in real]
    assert "batch_size" in (deeperfour.modernize.__doc__ or "")


def test_a_failure_after_ctrl_c_is_reported_as_the_interruption(monkeypatch, tmp_path, capsys):
    """Ctrl-C can land inside an import, which then fails in its own way (a module half made): the command still
    says it was interrupted and exits 130, not 'internal error'."""
    import os
    import signal

    from deeperfour import cli

    def cut_short(path):
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            raise AttributeError("module 'numpy' has no attribute 'ma'") from None

    monkeypatch.setattr(cli, "_check_input", cut_short)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        code = cli.main(["modernize", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4")])
    finally:
        for s, handler in handlers.items():  # the command ignores further signals on its way out
            signal.signal(s, handler)
    err = capsys.readouterr().err
    assert code == 130 and "interrupted (Ctrl-C)" in err and "internal error" not in err


def test_threads_a_stage_come_from_the_command_line_the_environment_or_the_frame_size(monkeypatch):
    """One torch thread a stage up to 1280x720, torch's own count above; DEEPERFOUR_THREADS, and --threads over it,
    give a number for every size. A stage call sets the count."""
    import torch

    from deeperfour import settings
    from deeperfour.pipeline import stages

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("DEEPERFOUR_THREADS", raising=False)
        settings.load()
        assert stages.threads_for(360, 640) == stages.threads_for(720, 1280) == 1
        assert stages.threads_for(1080, 1920) == stages.TORCH_THREADS
        stage = stages.build_stage("stabilize")
        torch.set_num_threads(2)
        stage(torch.rand(2, 3, 36, 64), torch.rand(2, 3, 36, 64), None)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("DEEPERFOUR_THREADS", "3")
        assert settings.load().threads == 3 and stages.threads_for(1080, 1920) == stages.threads_for(36, 64) == 3
        assert settings.load(THREADS="2").threads == 2 and settings.load(THREADS="auto").threads is None
        assert build_parser().parse_args(["modernize", "in.mp4", "-o", "o.mp4", "--threads", "4"]).threads == "4"
        for bad in ("0", "-1", "two"):
            with pytest.raises(DeeperFourError, match=rf"^threads a stage {bad}: use auto or a number from 1"):
                _ = settings.load(THREADS=bad).threads
    finally:
        settings.clear()
        torch.set_num_threads(before)
