"""Resume through the real `deeperfour` command: a film killed (SIGKILL) at several points, or interrupted, continues
where it stopped and gives the decoded frames and the sound of an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from deeperfour.video import segments
from tests.conftest import make_clip
from tests.integration.conftest import audio_packets, frames
from tests.integration.test_cli_attacks import start

N = segments.SEGMENT_FRAMES
ARGS = ("--chunk-frames", "10", "--quiet")  # chunks of 10 frames: segment boundaries fall inside chunks


def work_folder(out: Path) -> Path:
    return out.parent / f".deeperfour-resume-{out.name}"


def segments_done(out: Path) -> int:
    try:
        return json.loads((work_folder(out) / "progress.json").read_text())["segments"]
    except (OSError, ValueError, KeyError):
        return -1


def wait_until(proc: subprocess.Popen, ready, what: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()[1]}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def finish(src: Path, out: Path, *extra) -> str:
    proc = start("modernize", src, "-o", out, *ARGS, *extra)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return err


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """3 shots and 3 1/4 segments (315 frames) with sound, and its uninterrupted result."""
    d = tmp_path_factory.mktemp("resume")
    src = make_clip(d / "in.mp4", size=(96, 64), shots=3, shot_seconds=4.2)
    reference = d / "reference.mp4"
    finish(src, reference)
    return src, reference


def test_killed_at_three_points_and_resumed(film, tmp_path):
    src, reference = film
    out = tmp_path / "out.mp4"
    partial = segments.path(work_folder(out), 0, ".mp4", partial=True)
    points = [
        ("inside the first segment", lambda: partial.exists()),
        ("after one segment", lambda: segments_done(out) >= 1),
        ("after three segments, inside the last one or the assembly", lambda: segments_done(out) >= 3),
    ]
    for what, ready in points:
        proc = start("modernize", src, "-o", out, *ARGS)
        wait_until(proc, ready, what)
        proc.kill()
        proc.communicate(timeout=60)
        assert not out.exists() and work_folder(out).is_dir(), what
    err = finish(src, out)
    assert f"resuming {out} at frame {3 * N} of 315" in err
    np.testing.assert_array_equal(frames(out), frames(reference))
    assert audio_packets(out) == audio_packets(reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the work folder is gone


def test_ctrl_c_keeps_the_finished_part_and_says_how_to_resume(film, tmp_path):
    src, reference = film
    out = tmp_path / "out.mp4"
    proc = start("modernize", src, "-o", out, *ARGS)
    wait_until(proc, lambda: segments_done(out) >= 1, "a finished segment")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "interrupted (Ctrl-C)" in last and "run the same command again to resume" in last, last
    assert str(work_folder(out)) in last and "Traceback" not in err
    assert segments.path(work_folder(out), 0, ".mp4").is_file()
    assert not list(work_folder(out).glob("*.part.*"))  # only finished segments are kept

    # another film written into the same folder meanwhile leaves the kept work folder alone
    small = make_clip(tmp_path / "small.mp4", shots=1, shot_seconds=0.4)
    finish(small, tmp_path / "other.mp4")
    assert work_folder(out).is_dir()

    # --no-resume starts afresh and says so
    err = finish(src, out, "--no-resume")
    assert "removed the work folder" in err and "resuming" not in err
    np.testing.assert_array_equal(frames(out), frames(reference))
    assert not work_folder(out).exists()


def test_other_options_start_afresh(film, tmp_path):
    src, _ = film
    out = tmp_path / "out.mp4"
    proc = start("modernize", src, "-o", out, *ARGS)
    wait_until(proc, lambda: segments_done(out) >= 1, "a finished segment")
    proc.kill()
    proc.communicate(timeout=60)
    err = finish(src, out, "--crf", "30")
    assert "left by a run with another encoding: starting afresh" in err and "resuming" not in err


def test_a_second_run_of_the_same_output_is_refused_while_the_first_works(film, tmp_path):
    src, _ = film
    out = tmp_path / "out.mp4"
    first = start("modernize", src, "-o", out, *ARGS)
    try:
        wait_until(first, lambda: segments_done(out) >= 0, "the work folder")
        second = start("modernize", src, "-o", out, *ARGS)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 2 and len(err.strip().splitlines()) == 1, err
        assert "another deeperfour run is writing it" in err
    finally:
        first.kill()
        first.communicate(timeout=60)
