"""Bad input through the real `deeperfour` command: one line on stderr, non-zero exit, no output file left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ffmpeg


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "deeperfour", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def assert_clean_failure(result, out_dir: Path, words: str):
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert words in lines[0].lower(), lines[0]
    leftovers = [p.name for p in out_dir.iterdir() if p.name.startswith(("out", ".deeperfour"))]
    assert not leftovers, leftovers


def make_bad(kind: str, tmp_path: Path, clip) -> Path:
    if kind == "missing":
        return tmp_path / "nope.mp4"
    if kind == "not_a_video":
        p = tmp_path / "notes.mp4"
        p.write_text("these are not frames\n" * 100)
        return p
    if kind == "audio_only":
        p = tmp_path / "sound.m4a"
        ffmpeg("-f", "lavfi", "-t", "1", "-i", "sine=frequency=440", "-c:a", "aac", str(p))
        return p
    if kind == "zero_frames":  # a Matroska file whose video track holds no frame (ffmpeg cannot write one)
        import av

        src = clip("donor.mp4")
        p = tmp_path / "empty.mkv"
        with av.open(str(src)) as s, av.open(str(p), "w") as out:
            out.add_stream_from_template(s.streams.video[0])
            audio = out.add_stream_from_template(s.streams.audio[0])
            for packet in s.demux(s.streams.audio[0]):
                if packet.dts is not None:
                    packet.stream = audio
                    out.mux(packet)
        return p
    if kind in ("truncated_index", "truncated_data"):
        src = clip(
            "whole.mp4",
            shots=2,
            shot_seconds=1.5,
            size=(160, 120),
            extra=["-movflags", "+faststart"] if kind == "truncated_data" else [],
        )
        data = src.read_bytes()
        p = tmp_path / f"{kind}.mp4"
        p.write_bytes(data[: len(data) // 2])
        return p
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind,words",
    [
        ("missing", "no such file"),
        ("not_a_video", "not a readable video"),
        ("audio_only", "audio-only"),
        ("zero_frames", "zero frames"),
        ("truncated_index", "not a readable video"),
        ("truncated_data", "truncated"),
    ],
)
def test_bad_input(kind, words, tmp_path, clip):
    src = make_bad(kind, tmp_path, clip)
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    assert_clean_failure(run_cli("modernize", src, "-o", out_dir / "out.mp4", "--random-weights"), out_dir, words)


def test_unwritable_output_directory(clip):
    """As root every directory is writable, so root runs the command as `nobody` (setpriv) to see the refusal."""
    import shutil
    import tempfile

    as_user: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a directory unwritable")
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    base = Path(tempfile.mkdtemp(prefix="deeperfour-ro-"))
    try:
        base.chmod(0o755)
        src = base / "in.mp4"  # readable by every user (pytest's tmp dirs are private to root)
        shutil.copyfile(clip("donor.mp4"), src)
        src.chmod(0o644)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        result = subprocess.run(
            [
                *as_user,
                sys.executable,
                "-m",
                "deeperfour",
                "modernize",
                str(src),
                "-o",
                str(locked / "out.mp4"),
                "--random-weights",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=base,
        )
        assert_clean_failure(result, locked, "not writable")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_missing_output_directory(tmp_path, clip):
    src = clip("in.mp4")
    r = run_cli("modernize", src, "-o", tmp_path / "no" / "such" / "out.mp4", "--random-weights")
    assert_clean_failure(r, tmp_path, "does not exist")


def test_output_equal_to_input(tmp_path, clip):
    src = clip("in.mp4")
    before = src.read_bytes()
    r = run_cli("modernize", src, "-o", src, "--random-weights")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "is the input" in r.stderr
    assert src.read_bytes() == before


def test_success_prints_summary(tmp_path, clip):
    src = clip("in.mp4")
    r = run_cli("modernize", src, "-o", tmp_path / "ok.mp4", "--random-weights", "--batch-size", "4")
    assert r.returncode == 0, r.stderr
    assert "frames" in r.stdout and (tmp_path / "ok.mp4").stat().st_size > 0
    assert "modernize" in r.stderr  # the progress bar
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".deeperfour")]


def test_ctrl_c_leaves_nothing(tmp_path, clip):
    import signal
    import time

    src = clip("in.mp4", shots=2, shot_seconds=6)
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    # --no-resume: nothing is kept for a next run (tests/integration/test_resume.py: what a resumable run keeps)
    args = ["modernize", str(src), "-o", str(out_dir / "out.mp4"), "--random-weights", "--no-resume"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deeperfour", *args],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".deeperfour") for p in out_dir.iterdir()):
        time.sleep(0.2)  # wait until the encoder has started writing its temporary file
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)  # an impatient second press, during the clean-up: ignored
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err.strip().splitlines()[-1] and "Traceback" not in err
    assert list(out_dir.iterdir()) == []
