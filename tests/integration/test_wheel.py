"""A user's install: the wheel built from this tree, installed with plain `pip install` (not editable, no extras) into
a fresh virtualenv, then `deeperfour` and the Python API run from another directory.

pip resolves and installs every dependency from the wheel's metadata, except torch, torchvision and their own
dependencies (5 GB with the CUDA libraries, minutes to install): those are linked from the environment running the
tests, through a .pth file, so they are the same pinned 2.14.1 / 0.29.1 wheels.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO, make_clip

pytestmark = pytest.mark.slow


def copy_source(dst: Path) -> Path:
    """What a source checkout holds for the package: pyproject, README, LICENSE, the package, the default weights."""
    dst.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dst / name)
    shutil.copytree(
        REPO / "services" / "deeperfour",
        dst / "services" / "deeperfour",
        symlinks=True,  # deeperfour/model_store links to ../../model_store
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(REPO / "model_store", dst / "model_store", ignore=shutil.ignore_patterns("*.mar"))
    return dst


def link_torch(into: Path) -> None:
    """Symlinks to the installed files of torch, torchvision and everything they require (markers and extras
    honoured), but pip and setuptools, which the new environment has of its own."""
    site = Path(sysconfig.get_paths()["purelib"])
    norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    todo, seen = [("torch", ()), ("torchvision", ())], set()
    into.mkdir()
    while todo:
        name, extras = todo.pop()
        if (norm(name), extras) in seen:
            continue
        seen.add((norm(name), extras))
        dist = md.distribution(name)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras)):
                todo.append((req.name, tuple(sorted(req.extras))))
        if norm(name) in ("pip", "setuptools"):
            continue
        for top in {f.parts[0] for f in dist.files or []}:
            if (site / top).exists() and not (into / top).exists():
                (into / top).symlink_to(site / top)


def run(cmd, *, cwd, env, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPERFOUR_", "PYTHON", "VIRTUAL_ENV"))}
    env["XDG_DATA_HOME"] = str(root / "data-home")  # an empty per-user store
    src = copy_source(root / "src")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", src], cwd=root, env=env)
    (wheel,) = (root / "dist").glob("deeperfour-*.whl")
    run([sys.executable, "-m", "venv", root / "venv"], cwd=root, env=env)
    bin_dir = root / "venv" / "bin"
    site = Path(run([bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=root, env=env).stdout.strip())  # fmt: skip
    link_torch(root / "torch-stack")
    (site / "torch-stack.pth").write_text(f"{root / 'torch-stack'}\n")
    run([bin_dir / "python", "-m", "pip", "install", "-q", wheel], cwd=root, env=env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    elsewhere = root / "elsewhere"  # neither the repository nor the source tree
    elsewhere.mkdir()
    return {"bin": bin_dir, "site": site, "env": env, "cwd": elsewhere, "src": src}


def deeperfour(venv, *args, ok=True):
    cmd = [venv["bin"] / "deeperfour", *args]
    if ok:
        return run(cmd, cwd=venv["cwd"], env=venv["env"])
    return subprocess.run([str(c) for c in cmd], cwd=venv["cwd"], env=venv["env"], capture_output=True, text=True)


def test_the_installed_package_is_a_plain_copy_with_its_data(venv):
    py = venv["bin"] / "python"
    code = (
        "import deeperfour, json; from deeperfour.models.store import packaged_dir; "
        "from deeperfour.train.cli import config_path; "
        "print(json.dumps([deeperfour.__file__, str(packaged_dir()), str(config_path('gpu-colorizer'))]))"
    )
    package, packaged, config = json.loads(run([py, "-c", code], cwd=venv["cwd"], env=venv["env"]).stdout)
    assert Path(package).parent == venv["site"] / "deeperfour"
    assert not list(venv["site"].glob("__editable__*"))
    assert not (venv["site"] / "deeperfour" / "model_store").is_symlink()
    assert Path(packaged) == venv["site"] / "deeperfour" / "model_store"
    for name in ("colorizer-lite", "stabilizer-lite", "cartoonizer-lite"):
        assert (Path(packaged) / f"{name}.safetensors").is_file() and (Path(packaged) / f"{name}.md").is_file()
    assert not list(Path(packaged).glob("*.mar"))
    assert Path(config) == venv["site"] / "deeperfour" / "train" / "configs" / "gpu-colorizer.yaml"
    assert (venv["site"] / "deeperfour" / "py.typed").is_file()
    licence = md.PathDistribution(next(venv["site"].glob("deeperfour-*.dist-info")))
    assert licence.metadata["License-Expression"] == "MIT"


def test_commands_answer_without_extras(venv):
    assert deeperfour(venv, "--version").stdout.strip() == f"deeperfour {md.version('deeperfour')}"
    assert "modernize" in deeperfour(venv, "--help").stdout
    for command in ("modernize", "weights", "train", "submit", "eval"):
        assert "usage: deeperfour" in deeperfour(venv, command, "--help").stdout
    no_grpc = subprocess.run([venv["bin"] / "python", "-c", "import grpc"], capture_output=True, env=venv["env"])
    assert no_grpc.returncode != 0  # the extras are really absent
    r = deeperfour(venv, "status", ok=False)
    assert r.returncode == 2 and r.stderr.strip() == (
        "deeperfour: error: deeperfour status needs the 'orchestrator' extra (grpc is not installed): "
        "pip install 'deeperfour[orchestrator]'"
    )
    listing = deeperfour(venv, "weights", "list").stdout
    packaged = venv["site"] / "deeperfour" / "model_store"
    assert f"colorize   colorizer-lite       {packaged / 'colorizer-lite.safetensors'}  (packaged)" in listing


def test_modernize_and_the_python_api_from_another_directory(venv):
    clip = make_clip(venv["cwd"] / "old film.mp4", size=(96, 64), shots=2, shot_seconds=0.6)
    r = deeperfour(venv, "modernize", clip.name, "-o", "new film.mp4", "--quiet")
    out = venv["cwd"] / "new film.mp4"
    assert out.stat().st_size > 0 and r.stderr == ""
    code = (
        "import deeperfour, json; "
        "s = deeperfour.modernize('old film.mp4', 'api.mkv', quiet=True, batch_size=4); "
        "print(json.dumps(s))"
    )
    summary = json.loads(run([venv["bin"] / "python", "-c", code], cwd=venv["cwd"], env=venv["env"]).stdout)
    assert summary["frames"] == 30 and summary["presets"] == ["colorizer-lite", "stabilizer-lite"]
    from deeperfour.video.probe import probe

    for path in (out, venv["cwd"] / "api.mkv"):
        info = probe(path)
        assert (info.width, info.height, info.frame_count, info.audio_streams) == (96, 64, 30, 1)
