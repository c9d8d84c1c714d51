"""The attacks of issue 16 (items 1-10) through the real `deeperfour` command: a full disk, an ffmpeg that lies,
SIGTERM/SIGHUP/SIGKILL mid-run, a FIFO, Ctrl-C at start-up, bad paths and bounds. Each ends with one line, a non-zero
exit, no traceback and nothing left beside the output."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_cli_errors import assert_clean_failure, run_cli

DEEPERFOUR = [sys.executable, "-m", "deeperfour"]


def start(*args, env=None, preexec_fn=None) -> subprocess.Popen:
    return subprocess.Popen(
        [*DEEPERFOUR, *map(str, args)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
    )


def wait_for_temp_folder(folder: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not any(p.name.startswith(".deeperfour") for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "the run never started writing"
        time.sleep(0.2)


@pytest.fixture
def small_disk(tmp_path):
    """A 300 kB tmpfs (mounting needs root), else a folder whose writes are capped by RLIMIT_FSIZE (`ulimit -f`).
    Yields (folder, preexec_fn for the command, the words its error must say)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode == 0:
        try:
            yield folder, None, "no space left"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        return

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    yield folder, limit, "file size limit"


def noisy_clip(clip) -> Path:
    """A short clip whose film noise makes its output several MB, far more than the small disk holds."""
    return clip("noisy.mp4", size=(320, 240), shots=1, shot_seconds=2, filters="noise=c0s=60:c0f=t")


def test_full_disk_says_no_space_left(small_disk, clip):
    folder, limit, words = small_disk
    src = noisy_clip(clip)
    proc = start("modernize", src, "-o", folder / "out.mp4", "--random-weights", "--quiet", preexec_fn=limit)
    _, err = proc.communicate(timeout=600)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    assert_clean_failure(result, folder, words)


def fake_ffmpeg(tmp_path: Path, body: str) -> Path:
    """An `ffmpeg` that runs the real one, then does `body` (bash) with its exit code in $rc and the final muxed file
    (`final.*` in the run's temporary folder), when it writes that one, in $out."""
    from deeperfour.video.io import ffmpeg_exe

    script = tmp_path / "ffmpeg"
    find_out = 'out=""; for a in "$@"; do case "$a" in */final.*) out="$a";; esac; done'
    script.write_text(f'#!/bin/bash\n"{ffmpeg_exe()}" "$@"\nrc=$?\n{find_out}\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_an_ffmpeg_that_exits_0_on_a_full_disk(small_disk, clip, tmp_path):
    """Debian's ffmpeg 5.1 exits 0 when it cannot write the MP4 index: the finished file is checked, not trusted."""
    folder, limit, words = small_disk
    src = noisy_clip(clip)
    liar = fake_ffmpeg(tmp_path, "exit 0")
    proc = start(
        "modernize",
        src,
        "-o",
        folder / "out.mp4",
        "--random-weights",
        "--quiet",
        env={"DEEPERFOUR_FFMPEG_BIN": str(liar)},
        preexec_fn=limit,
    )
    _, err = proc.communicate(timeout=600)
    assert_clean_failure(subprocess.CompletedProcess(proc.args, proc.returncode, "", err), folder, words)


def test_a_damaged_output_is_never_published(clip, tmp_path):
    """The muxer's file cut in half after ffmpeg said it succeeded: refused, and nothing is renamed into place."""
    src = clip("in.mp4")
    liar = fake_ffmpeg(tmp_path, '[ -n "$out" ] && truncate -s $(( $(stat -c %s "$out") / 2 )) "$out"\nexit $rc')
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    env = {**os.environ, "DEEPERFOUR_FFMPEG_BIN": str(liar)}
    r = subprocess.run(
        [*DEEPERFOUR, "modernize", str(src), "-o", str(out_dir / "out.mp4"), "--random-weights", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert_clean_failure(r, out_dir, "the written file")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(sig, clip, tmp_path):
    src = clip("in.mp4", shots=2, shot_seconds=6)
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    # under nohup the test runner ignores SIGHUP and its children inherit that (deeperfour then keeps it ignored)
    default = lambda: signal.signal(sig, signal.SIG_DFL)
    proc = start("modernize", src, "-o", out_dir / "out.mp4", "--random-weights", "--no-resume", preexec_fn=default)
    wait_for_temp_folder(out_dir, proc)
    time.sleep(2)
    proc.send_signal(sig)
    time.sleep(0.3)
    proc.send_signal(sig)  # a supervisor's second signal during the clean-up: ignored
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert signal.Signals(sig).name in err.strip().splitlines()[-1] and "Traceback" not in err
    assert list(out_dir.iterdir()) == []


def test_the_next_run_removes_what_a_killed_run_left(clip, tmp_path):
    from deeperfour.pipeline.embedded import modernize

    src = clip("in.mp4", shots=2, shot_seconds=6)
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    proc = start("modernize", src, "-o", out_dir / "killed.mp4", "--random-weights", "--quiet", "--no-resume")
    wait_for_temp_folder(out_dir, proc)
    proc.kill()  # SIGKILL: no handler runs
    proc.communicate(timeout=60)
    left = [p.name for p in out_dir.iterdir()]
    assert len(left) == 1 and left[0].startswith(".deeperfour-")
    small = clip("small.mp4", shots=1, shot_seconds=0.4)
    summary = modernize(small, out_dir / "next.mp4", quiet=True, allow_random=True)
    assert sorted(p.name for p in out_dir.iterdir()) == ["next.mp4"]
    assert any(left[0] in note for note in summary["notes"])


def test_ctrl_c_on_a_fifo_without_writer(tmp_path):
    """Reading from a FIFO waits for a writer; Ctrl-C ends the wait with 130 and removes the spool folder."""
    fifo = tmp_path / "film.pipe"
    os.mkfifo(fifo)
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    proc = start("modernize", fifo, "-o", out_dir / "out.mp4", "--random-weights")
    wait_for_temp_folder(out_dir, proc)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err.strip().splitlines()[-1] and "Traceback" not in err
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("after", [0.1, 0.6, 1.5])
def test_ctrl_c_during_start_up_gives_no_traceback(after, clip, tmp_path):
    src = clip("in.mp4")
    proc = start("modernize", src, "-o", tmp_path / "out.mp4", "--random-weights")
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err.strip().splitlines()[-1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("out", ".deeperfour"))]


@pytest.mark.parametrize(
    "summary,words",
    [("missing/summary.json", "does not exist"), ("out.mp4", "is the output"), (".", "is a directory")],
)
def test_summary_json_path_is_checked_before_the_work(summary, words, clip, tmp_path):
    src = clip("in.mp4")
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    r = run_cli("modernize", src, "-o", out_dir / "out.mp4", "--random-weights", "--summary-json", out_dir / summary)
    assert_clean_failure(r, out_dir, words)


@pytest.mark.parametrize(
    "args,words",
    [
        (["--render-factor", "0"], "use 1 to 64"),
        (["--render-factor", "-1"], "use 1 to 64"),
        (["--render-factor", "1000"], "use 1 to 64"),
        (["--batch-size", "0"], "at least 1"),
        (["--chunk-frames", "-3"], "at least 1"),
        (["--threads", "0"], "use auto or a number from 1"),
        (["--device", "tpu"], "unknown device"),
        (["--device", "cuda:7"], "cuda"),
        (["--stages", "colorize,colorize"], "listed twice"),
        (["--stages", "colorize,stabilize,stabilize"], "twice in a row"),
        (["--preset", "nope"], "unknown preset; valid: lite, colorizer-lite"),
        (["--encoder-preset", "superfast2"], "superfast2"),
        (["--pix-fmt", "nosuch"], "nosuch"),
    ],
)
def test_bounds_and_choices_are_refused_in_one_line(args, words, clip, tmp_path):
    src = clip("in.mp4")
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    assert_clean_failure(
        run_cli("modernize", src, "-o", out_dir / "out.mp4", "--random-weights", *args), out_dir, words
    )


def test_an_odd_size_for_a_4_2_0_encoding_is_named(clip, tmp_path):
    src = clip("odd.mp4", size=(97, 63), pix_fmt="yuv444p")
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    r = run_cli("modernize", src, "-o", out_dir / "out.mp4", "--random-weights", "--pix-fmt", "yuv420p")
    assert_clean_failure(r, out_dir, "not divisible by 2 (97x63)")


def test_memory_is_checked_before_starting(clip, tmp_path):
    """The exact colorizer at the largest render factor needs ~8 GB; under a 9 GB address-space limit (`ulimit -v`)
    the run is refused before any model is built."""
    src = clip("in.mp4")
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (9 << 30, 9 << 30))

    args = ["--preset", "colorize=deoldify-video", "--render-factor", "64", "--random-weights"]
    proc = start("modernize", src, "-o", out_dir / "out.mp4", *args, preexec_fn=limit)
    _, err = proc.communicate(timeout=300)
    assert_clean_failure(subprocess.CompletedProcess(proc.args, proc.returncode, "", err), out_dir, "needs about")
    assert "--render-factor" in err
