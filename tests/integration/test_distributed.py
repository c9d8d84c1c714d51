"""A film through the real distributed stack (gateway → Kafka → orchestrators → TorchServe → S3) gives the embedded
mode's film: same decoded frames (bit-exact, see conftest.THREADS), same audio packets."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.conftest import audio_packets, frames, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_film_equals_embedded_mode(client, clips, embedded, tmp_path):
    src = clips["cut"]
    job = client.submit(src, stages=["colorize", "stabilize"], chunk_frames=16)
    job.wait(timeout=180)
    assert job.info.shots_total == 2 and job.info.chunks_done == job.info.chunks_total == 4
    out = job.download(tmp_path / "out.mp4")
    ref = embedded(src, ("colorize", "stabilize"), 16)
    np.testing.assert_array_equal(frames(out), frames(ref))
    assert audio_packets(out) == audio_packets(ref) == audio_packets(src) and len(audio_packets(src)) > 10


def test_long_shots_in_many_chunks_equal_single_pass(client, clips, embedded, stack, tmp_path):
    """5-frame chunks (state handed over at every boundary, chunks spread over both replicas) = one chunk per shot."""
    src = clips["long"]
    stages = ("colorize", "stabilize")
    job = client.submit(src, stages=list(stages), chunk_frames=5)
    job.wait(timeout=240)
    assert job.info.chunks_total == 12 and job.info.shots_total == 2
    out = job.download(tmp_path / "out.mp4")
    ref = embedded(src, stages, 1000)  # each shot in one chunk: no boundary at all
    np.testing.assert_array_equal(frames(out), frames(ref))
    assert audio_packets(out) == audio_packets(src)
    logs = [stack.logs.joinpath(f"orchestrator-{i}.log").read_text() for i in range(2)]
    assert sum(log.count(f"job {job.id}: chunk") for log in logs) >= 12  # every chunk went through an orchestrator


def test_all_three_model_servers(client, clips, embedded, tmp_path):
    """colorize → stabilize → cartoonize, 3-frame chunks of a 10-frame shot (the cartoonizer is the slow one)."""
    stages = ("colorize", "stabilize", "cartoonize")
    job = client.submit(clips["short"], stages=list(stages), chunk_frames=3, output_format="mkv")
    job.wait(timeout=240)
    assert job.info.output_key.endswith("/output.mkv") and job.info.chunks_total == 4
    out = job.download(tmp_path / "out.mkv")
    np.testing.assert_array_equal(frames(out), frames(embedded(clips["short"], stages, 1000, ext="mkv")))


def test_a_repeated_stage_equals_embedded_and_leaves_no_intermediate_object(client, clips, embedded, storage, tmp_path):
    """stabilize listed twice (its second run keyed stabilize3, with its own shot state): same frames as embedded,
    and once the film is stored only the job's record, input and output are left in the bucket."""
    stages = ("colorize", "stabilize", "cartoonize", "stabilize")
    job = client.submit(clips["short"], stages=list(stages), chunk_frames=5)
    job.wait(timeout=240)
    assert job.info.chunks_total == 2
    out = job.download(tmp_path / "out.mp4")
    np.testing.assert_array_equal(frames(out), frames(embedded(clips["short"], stages, 1000)))
    left = {k.split("/")[2] for k in storage.list(f"jobs/{job.id}/")}
    assert left == {"job.pb", "status.pb", "input", "output.mp4"}, left


def test_progress_events_are_published(client, clips, stack):
    from kafka import KafkaConsumer, TopicPartition

    from deeperfour.distributed.bus import EVENTS
    from deeperfour.v1 import events_pb2, types_pb2

    job = client.submit(clips["cut"], stages=["colorize"], chunk_frames=8)
    job.wait(timeout=180)
    consumer = KafkaConsumer(
        bootstrap_servers=stack.env()["DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS"], enable_auto_commit=False, group_id=None
    )
    try:
        consumer.assign([TopicPartition(EVENTS, 0)])
        consumer.seek_to_beginning()
        seen: list = []

        def succeeded():
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(e for e in (events_pb2.JobEvent.FromString(r.value) for r in records) if e.job_id == job.id)
            return any(e.state == types_pb2.JOB_STATE_SUCCEEDED for e in seen)

        wait_for(succeeded, 30, "a SUCCEEDED event on deeperfour.jobs.events")
    finally:
        consumer.close()
    # replicas publish concurrently, so counts may arrive out of order; the last chunk's event counts them all
    done = [e.chunks_done for e in seen if e.state == types_pb2.JOB_STATE_RUNNING]
    assert max(done) == job.info.chunks_total and seen[0].state == types_pb2.JOB_STATE_RUNNING
