"""Fixtures shared by every test: generated clips (real ffmpeg) and the shared data folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config):
    # Weights come from the packaged defaults (the repository's model_store/, linked into the package): a per-user
    # store of the machine's user must not change what the tests load, so the tests get an empty one of their own.
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="deeperfour-test-data-home-")
    os.environ["XDG_DATA_HOME"] = home
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Each test reads the DEEPERFOUR_* variables it sets, even after code that loaded the process's settings."""
    from deeperfour import settings

    settings.clear()
    yield
    settings.clear()


# Visibly different lavfi sources, one per shot, so a cut between them is unambiguous.
SHOT_SOURCES = ["testsrc2", "smptebars", "mandelbrot", "rgbtestsrc", "cellauto"]


def ffmpeg(*args: str) -> None:
    from deeperfour.video.io import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def make_clip(
    path,
    *,
    size=(96, 64),
    shots=2,
    shot_seconds=1.0,
    fps="25",
    audio_tracks=1,
    gray=True,
    subtitles=False,
    pix_fmt=None,
    filters="",
    extra=(),
) -> Path:
    """A clip with `shots` hard cuts between different patterns, `audio_tracks` sine tracks, optional subtitles."""
    w, h = size
    args: list[str] = []
    for i in range(shots):
        src = SHOT_SOURCES[i % len(SHOT_SOURCES)]
        spec = f"{src}=size={w}x{h}:rate={fps}" if src != "cellauto" else f"cellauto=size={w}x{h}:rate={fps}"
        args += ["-f", "lavfi", "-t", str(shot_seconds), "-i", spec]
    total = shots * shot_seconds
    for k in range(audio_tracks):
        args += ["-f", "lavfi", "-t", str(total), "-i", f"sine=frequency={330 + 110 * k}:sample_rate=48000"]
    if subtitles:
        srt = Path(path).with_suffix(".srt")
        srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n\n")
        args += ["-i", str(srt)]
    chain = "".join(f"[{i}:v]scale={w}:{h},setsar=1[s{i}];" for i in range(shots))  # some sources round sizes
    chain += "".join(f"[s{i}]" for i in range(shots)) + f"concat=n={shots}:v=1:a=0"
    chain += ",hue=s=0" if gray else ""
    chain += f",{filters}" if filters else ""
    args += ["-filter_complex", chain + "[v]", "-map", "[v]"]
    for k in range(audio_tracks):
        args += ["-map", f"{shots + k}:a"]
    if subtitles:
        args += ["-map", f"{shots + audio_tracks}:s"]
    odd = w % 2 or h % 2
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt or ("yuv444p" if odd else "yuv420p")]
    if audio_tracks:
        args += ["-c:a", "aac", "-b:a", "64k"]
    args += [*extra, str(path)]
    ffmpeg(*args)
    return Path(path)


@pytest.fixture
def clip(tmp_path):
    """Factory: clip(name, **make_clip options) -> path in this test's tmp dir."""
    return lambda name="in.mp4", **kw: make_clip(tmp_path / name, **kw)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (real films are not shipped with the project)")
    return path
