"""The embedded run's own checks and helpers (issue 16, items 1-10): option bounds, stage orders, memory estimate,
temporary folders and their locks, frame timing, write-failure diagnosis, signal handling, and the Stage's grouping
and tiny-frame padding."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from deeperfour.errors import InputError, Interrupted, OutputError
from deeperfour.pipeline import options, signals
from deeperfour.video import timing, verify, workdir


@pytest.mark.parametrize("rf", [0, -1, 65, 1000])
def test_render_factor_out_of_bounds(rf):
    with pytest.raises(InputError, match="use 1 to 64"):
        options.check_numbers(render_factor=rf, batch_size=8, chunk_frames=16, device="cpu")


@pytest.mark.parametrize("device", ["cpu", "cpu:0", "cuda", "cuda:0", "cuda:12"])
def test_devices_accepted(device):
    options.check_numbers(render_factor=1, batch_size=1, chunk_frames=1, device=device)


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:", "cuda:x", "CPU", "mps"])
def test_devices_refused(device):
    with pytest.raises(InputError, match="unknown device"):
        options.check_numbers(render_factor=None, batch_size=8, chunk_frames=16, device=device)


@pytest.mark.parametrize(
    "stages,words",
    [
        ("colorize,colorize", "listed twice"),
        ("colorize,stabilize,colorize", "listed twice"),
        ("cartoonize,stabilize,cartoonize", "listed twice"),
        ("colorize,stabilize,stabilize", "twice in a row"),
    ],
)
def test_stage_orders_refused(stages, words):
    with pytest.raises(InputError, match=words):
        options.stage_notes(stages.split(","))


@pytest.mark.parametrize(
    "stages,note",
    [
        ("colorize,stabilize", None),
        ("colorize,stabilize,cartoonize,stabilize", None),
        ("stabilize", None),
        ("stabilize,colorize", "stabilize runs before colorize"),
        ("cartoonize,colorize", "cartoonize runs before colorize"),
    ],
)
def test_stage_orders_explained(stages, note):
    notes = options.stage_notes(stages.split(","))
    assert (notes == []) if note is None else any(note in n for n in notes)


def test_summary_path_checks(tmp_path):
    options.check_summary_path(str(tmp_path / "s.json"), "in.mp4", "out.mp4")
    options.check_summary_path(None, "in.mp4", "out.mp4")
    for path, words in [
        (tmp_path / "no" / "s.json", "does not exist"),
        (tmp_path, "is a directory"),
        (tmp_path / "out.mp4", "is the output"),
    ]:
        with pytest.raises(OutputError, match=words):
            options.check_summary_path(str(path), str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"))


def test_memory_estimate_grows_with_the_render_factor():
    from deeperfour.models.registry import get_preset

    presets = [get_preset("colorize", "lite"), get_preset("stabilize", "lite")]
    default = options.memory_needed(640, 360, presets, None, 16)
    assert 1 * options.GB < default < 3 * options.GB  # measured: ~1.5 GB resident at 360p
    assert options.memory_needed(640, 360, presets, 1000, 16) > 300 * options.GB  # issue 16: killed at 23 GB
    exact = [get_preset("colorize", "deoldify-video")]
    assert options.memory_needed(640, 360, exact, 64, 16) > 6 * options.GB


def test_memory_check_refuses_what_does_not_fit(monkeypatch):
    from deeperfour.models.registry import get_preset

    monkeypatch.setattr(options, "memory_available", lambda: 2.0 * options.GB)
    presets = [get_preset("colorize", "lite")]
    options.check_memory(640, 360, presets, None, 16)
    with pytest.raises(InputError, match=r"needs about .* GB of memory and 2.0 GB are available"):
        options.check_memory(640, 360, presets, 64, 16)


def test_memory_available_is_known_here():
    have = options.memory_available()
    assert have is not None and have > 0


def test_resample_counts_follow_the_fps_filter():
    # 3 frames at 30 fps, then 2 at 10 fps, resampled to 30 fps: the slow frames are repeated three times
    seconds = [Fraction(k, 30) for k in range(3)] + [Fraction(1, 10), Fraction(2, 10)]
    times = timing.FrameTimes(seconds, Fraction(3, 10), Fraction(1, 1000))
    assert timing.main_rate(times) == 30
    assert timing.resample_counts(times, Fraction(30)) == [1, 1, 1, 3, 3]
    # at 10 fps two fast frames drop: a slot shows the last frame whose time rounds to it (1/30 s rounds to 0)
    assert timing.resample_counts(times, Fraction(10)) == [0, 1, 0, 1, 1]


def test_retime_map_is_exact_on_frames_and_monotone_between():
    m = timing._Monotone([0, 512, 1024, 1536], [0, 100, 300, 400])
    assert [m(x) for x in (0, 512, 1024, 1536)] == [0, 100, 300, 400]
    assert m(-512) == -100 and m(-1024) == -200  # B-frame decode times before the first frame
    values = [m(x) for x in range(-1024, 1600, 16)]
    assert values == sorted(values)


def test_a_live_runs_folder_is_kept_and_a_dead_ones_removed(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from deeperfour.video import workdir\n"
            f"print(workdir.make({str(tmp_path)!r}), flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        live = Path(holder.stdout.readline().strip())
        dead = Path(workdir.make(tmp_path))
        os.close(workdir._held.pop(str(dead)))  # as if its process were gone: the lock is free
        old = tmp_path / ".deeperfour-old"  # a leftover of a version without locks
        old.mkdir()
        past = time.time() - 2 * workdir.GRACE_S
        os.utime(old, (past, past))
        fresh = tmp_path / ".deeperfour-fresh"  # maybe a run between mkdtemp and its lock
        fresh.mkdir()
        mine = Path(workdir.make(tmp_path))
        removed = workdir.clean_stale(tmp_path)
        assert sorted(removed) == sorted([dead.name, old.name])
        assert live.is_dir() and fresh.is_dir() and mine.is_dir()
    finally:
        holder.kill()
        holder.wait()
    assert workdir.clean_stale(tmp_path) == [live.name]  # its process is gone now
    workdir.remove(str(mine))
    assert not mine.exists()


def test_write_failures_are_put_down_to_a_full_disk(tmp_path):
    out = tmp_path / "out.mp4"
    full = verify.explain(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), out)
    assert isinstance(full, OutputError) and "no space left" in str(full)
    said = verify.explain(OutputError(f"{out}: encoding failed: No space left on device"), out)
    assert "no space left" in str(said)
    limited = verify.explain(OutputError(f"{out}: encoding failed: exit code -25"), out, -signal.SIGXFSZ)
    assert "file size limit" in str(limited)
    other = OutputError(f"{out}: encoding failed: Invalid argument")
    assert verify.explain(other, out) is other
    assert verify.explain(KeyboardInterrupt(), out).__class__ is KeyboardInterrupt


def test_a_signal_raises_once_and_is_remembered():
    with signals.catching() as caught:
        with pytest.raises(Interrupted) as e:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert e.value.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGHUP)  # a second signal during the clean-up: ignored
        time.sleep(0.1)
        with pytest.raises(Interrupted):
            caught.check()  # raised again at the next safe point
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with signals.catching() as again:
        again.check()  # a new run starts clean


def test_an_ignored_signal_stays_ignored():
    """`nohup` starts a process with SIGHUP ignored: a hang-up must not stop the run."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with signals.catching():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def stage(name: str, batch_size: int):
    from deeperfour.pipeline.stages import build_stage

    return build_stage(name, allow_random=True, batch_size=batch_size)


@pytest.mark.parametrize("name", ["colorize", "cartoonize"])
def test_grouping_does_not_change_pixels(name):
    torch.manual_seed(0)
    x = torch.rand(5, 3, 48, 64)
    one, _ = stage(name, 1)(x, x, None)
    eight, _ = stage(name, 8)(x, x, None)
    torch.testing.assert_close(one, eight, rtol=0, atol=0)
    alone = torch.cat([stage(name, 8)(x[k : k + 1], x[k : k + 1], None)[0] for k in range(5)])
    torch.testing.assert_close(one, alone, rtol=0, atol=0)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (16, 16), (31, 40)])
def test_tiny_frames_go_through_every_stage(size):
    x = torch.rand(3, 3, *size)
    for name in ("colorize", "stabilize", "cartoonize"):
        s = stage(name, 8)
        out, state = s(x, x, None)
        out, state = s(x, x, state)  # the stabilizer's state, at the padded size, carries over
        assert out.shape == x.shape and torch.isfinite(out).all()
