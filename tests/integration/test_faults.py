"""Failures mid-job: the job still completes with the same film, no chunk lost or duplicated; and frames once refused
(2x2) go through."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest

from tests.conftest import make_clip
from tests.integration.conftest import frames, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _chunk_lines(stack, index: int, job_id: str) -> int:
    log = stack.logs / f"orchestrator-{index}.log"
    return log.read_text().count(f"job {job_id}: chunk") if log.exists() else 0


def test_orchestrator_killed_mid_job(client, clips, embedded, stack, storage, tmp_path):
    stages = ("colorize", "stabilize")
    job = client.submit(clips["long"], stages=list(stages), chunk_frames=3)
    # kill the replica that is working on this job, right after its first finished chunk
    busy = wait_for(
        lambda: next((str(i) for i in range(2) if _chunk_lines(stack, i, job.id)), None),
        120,
        "a first finished chunk",
        interval=0.05,
    )
    victim = int(busy)
    stack.kill(f"orchestrator-{victim}", signal.SIGKILL)
    killed_at = time.monotonic()
    job.wait(timeout=240)
    survivor = 1 - victim
    assert _chunk_lines(stack, survivor, job.id) > 0, "the surviving replica took over no chunk"
    out = job.download(tmp_path / "out.mp4")
    np.testing.assert_array_equal(frames(out), frames(embedded(clips["long"], stages, 1000)))
    assert job.info.chunks_done == job.info.chunks_total
    # a replacement joins the group for the tests that follow (never two members leaving close together)
    since = stack.log_size(f"orchestrator-{victim}")
    time.sleep(max(0.0, 6 - (time.monotonic() - killed_at)))
    stack.start_orchestrator(victim)
    stack.wait_orchestrator(victim, 90, since=since)


def test_model_server_killed_and_restarted(client, clips, embedded, stack, tmp_path):
    stages = ("colorize", "stabilize")
    job = client.submit(clips["long"], stages=list(stages), chunk_frames=3)
    wait_for(lambda: job.refresh().info.chunks_done >= 2, 120, "two finished chunks", interval=0.05)
    stack.kill("stabilizer", signal.SIGKILL)
    time.sleep(1.0)
    assert job.refresh().state == "running"
    stack.start_model_server("stabilizer")
    stack.wait(lambda: stack.model_ready("stabilizer"), "stabilizer", 120)
    job.wait(timeout=240)
    out = job.download(tmp_path / "out.mp4")
    np.testing.assert_array_equal(frames(out), frames(embedded(clips["long"], stages, 1000)))
    logs = "".join(stack.logs.joinpath(f"orchestrator-{i}.log").read_text() for i in range(2))
    assert "retrying" in logs  # the outage was seen and ridden out, not missed


def test_sigterm_finishes_the_chunk_in_hand(client, clips, embedded, stack, tmp_path):
    stages = ("colorize", "stabilize")
    job = client.submit(clips["long"], stages=list(stages), chunk_frames=3)
    busy = wait_for(
        lambda: next((str(i) for i in range(2) if _chunk_lines(stack, i, job.id)), None),
        120,
        "a first finished chunk",
        interval=0.05,
    )
    name = f"orchestrator-{busy}"
    since = stack.log_size(name)
    stack.kill(name, signal.SIGTERM)
    assert stack.procs[name].wait(timeout=120) == 0
    tail = stack.logs.joinpath(f"{name}.log").read_bytes()[since:].decode()
    assert "finished the message in hand" in tail and "Traceback" not in tail
    job.wait(timeout=240)
    out = job.download(tmp_path / "out.mp4")
    np.testing.assert_array_equal(frames(out), frames(embedded(clips["long"], stages, 1000)))
    time.sleep(5)  # members leave and join the (tansu) group at least 5 s apart
    since = stack.log_size(name)
    stack.start_orchestrator(int(busy))
    stack.wait_orchestrator(int(busy), 90, since=since)


def test_tiny_frames_go_through_the_model_servers_as_through_the_embedded_mode(client, embedded, tmp_path):
    """A 2x2 film, which the model servers once refused: stages pad frames under 32 px for their models and crop
    back (pipeline.stages), in a model server as in process. What a model server answers for frames a stage cannot
    process, and the job failing at once on that answer, are tested in tests/unit (test_handler, test_orchestrator)."""
    tiny = make_clip(tmp_path / "tiny.mp4", size=(2, 2), shots=1, shot_seconds=0.4)
    stages = ("colorize", "stabilize")
    job = client.submit(tiny, stages=list(stages), chunk_frames=4)
    job.wait(timeout=120)
    out = job.download(tmp_path / "out.mp4")
    np.testing.assert_array_equal(frames(out), frames(embedded(tiny, stages, 4)))
