"""The orchestrator: consumes job and chunk messages, drives chunks through the model servers, assembles films.

At-least-once: an offset is committed only after everything the message causes is stored. Object keys are
deterministic and every stage call is a pure function of stored objects (frames and the previous chunk's shot
state), so a message handled twice rewrites the same objects: no chunk is lost or duplicated.
"""

from __future__ import annotations

import logging
import signal
import time

from deeperfour import settings as config
from deeperfour.distributed import bus, keys
from deeperfour.distributed.jobs import TERMINAL, JobStore, now_ms
from deeperfour.distributed.storage import ObjectStorage
from deeperfour.errors import DeeperFourError
from deeperfour.pipeline.runner import run_chunk
from deeperfour.serving.client import ModelServers, StageFailed, TorchServeBackend
from deeperfour.settings import KafkaSettings, OrchestratorSettings
from deeperfour.v1 import events_pb2, types_pb2

log = logging.getLogger("deeperfour.orchestrator")


class ChunkDead(Exception):
    def __init__(self, reason: str, attempts: int):
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts


class Stopping(Exception):
    """SIGTERM arrived while waiting to retry: leave the message uncommitted for another replica."""


class Orchestrator:
    def __init__(self, settings: OrchestratorSettings, storage: ObjectStorage, consumer, producer, model_servers):
        self.settings, self.storage, self.consumer, self.producer = settings, storage, consumer, producer
        self.model_servers = model_servers
        self.jobs = JobStore(storage)
        self.stopping = False

    # ---- main loop ----
    def run(self) -> None:
        from kafka import ConsumerRebalanceListener, OffsetAndMetadata

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                log.info("partitions revoked: %s", sorted((t.topic, t.partition) for t in revoked))

            def on_partitions_assigned(self, assigned):
                log.info("partitions assigned: %s", sorted((t.topic, t.partition) for t in assigned))

        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        self.consumer.subscribe([bus.SUBMITTED, bus.READY], listener=Listener())
        try:
            while not self.stopping:
                for tp, records in self.consumer.poll(timeout_ms=1000, max_records=1).items():  # SIGTERM: <= 1 s
                    for record in records:
                        try:
                            self.handle(record.topic, record.value)
                        except Stopping:
                            return
                        self.producer.flush()
                        try:
                            self.consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
                        except Exception as e:  # partition moved during a rebalance: the next owner redoes it
                            log.warning("commit of %s@%d failed: %s", tp, record.offset, e)
        finally:
            if self.stopping:
                log.info("SIGTERM: finished the message in hand, leaving the group")
            self.producer.flush()
            self.consumer.close()
            self.producer.close()
            log.info("stopped")

    def stop(self) -> None:
        """SIGTERM: poll no more; the message in hand is finished and committed first (no logging here: a signal
        handler must not take the logging lock the interrupted code may hold)."""
        self.stopping = True

    def handle(self, topic: str, value: bytes) -> None:
        if topic == bus.SUBMITTED:
            self.on_submitted(events_pb2.JobSubmitted.FromString(value).job)
        elif topic == bus.READY:
            self.on_chunk(events_pb2.ChunkReady.FromString(value))

    # ---- jobs ----
    def on_submitted(self, job: types_pb2.Job) -> None:
        from deeperfour.orchestrator.split import split_job

        status = self.jobs.status(job.job_id)
        if self.jobs.stopped(job.job_id) or (status is not None and status.state in TERMINAL):
            return
        log.info("job %s: splitting %s", job.job_id, job.input_name)
        self.set_state(job.job_id, types_pb2.JOB_STATE_RUNNING, "splitting into shots and chunks", chunks_total=0)
        chunk_frames = job.options.chunk_frames or self.settings.chunk_frames
        try:
            totals = self.with_retries(
                lambda: split_job(job, self.storage, chunk_frames, self.announce, lambda: self.jobs.stopped(job.job_id))
            )
        except ChunkDead as e:
            self.fail(job.job_id, e.reason)
            return
        if totals is None:
            self.jobs.remove_intermediates(job.job_id)
            return
        self.set_state(
            job.job_id,
            types_pb2.JOB_STATE_RUNNING,
            f"{totals['frames_total']} frames, {totals['shots_total']} shots, {totals['chunks_total']} chunks",
            **totals,
        )
        self.maybe_assemble(job.job_id)

    def announce(self, ready: events_pb2.ChunkReady) -> None:
        c = ready.chunk
        key = keys.shot_id(c.job_id, c.shot_index).encode()  # one shot → one partition → chunks in order
        self.producer.send(bus.READY, key=key, value=ready.SerializeToString())

    # ---- chunks ----
    def on_chunk(self, ready: events_pb2.ChunkReady) -> None:
        c = ready.chunk
        if self.finished_or_stopped(c.job_id):
            self.drop_chunk(ready)
            return
        try:
            self.with_retries(lambda: self.run_stages(ready))
        except ChunkDead as e:
            if self.finished_or_stopped(c.job_id):  # e.g. the job was cancelled while this chunk ran
                self.drop_chunk(ready)
                return
            attempts = f"{e.attempts} attempt" + ("s" if e.attempts > 1 else "")
            reason = (
                f"chunk {c.shot_index}/{c.chunk_index} (frames {c.first_frame}-"
                f"{c.first_frame + c.frame_count - 1}) failed after {attempts}: {e.reason}"
            )
            self.producer.send(
                bus.DEAD,
                key=keys.shot_id(c.job_id, c.shot_index).encode(),
                value=events_pb2.ChunkDead(chunk=c, reason=reason, attempts=e.attempts).SerializeToString(),
            )
            self.fail(c.job_id, reason)
            return
        # One look at the job after the chunk, shared by the checks below (each object-store request costs CPU)
        status, cancelled = self.jobs.status(c.job_id), self.jobs.cancelled(c.job_id)
        if cancelled or (status is not None and status.state in TERMINAL):  # leave nothing behind
            self.drop_chunk(ready)
            return
        log.info("job %s: chunk %d/%d done (%d frames)", c.job_id, c.shot_index, c.chunk_index, c.frame_count)
        done = self.done_count(c.job_id)
        message = f"chunk {c.shot_index}/{c.chunk_index} done"
        self.publish(c.job_id, types_pb2.JOB_STATE_RUNNING, message, status=status, done=done)
        self.maybe_assemble(c.job_id, status=status, done=done)

    def run_stages(self, ready: events_pb2.ChunkReady) -> None:
        c, stages = ready.chunk, list(ready.stages)
        backend = TorchServeBackend(self.model_servers, self.storage.bucket, c, stages)
        output, _ = run_chunk(stages, backend.source_key(), backend.states_in(), backend)
        self.storage.put(keys.done_key(c.job_id, c.shot_index, c.chunk_index), output.encode())

    def drop_chunk(self, ready: events_pb2.ChunkReady) -> None:
        c = ready.chunk
        status = self.jobs.status(c.job_id)
        if status is not None and status.state == types_pb2.JOB_STATE_SUCCEEDED:
            return
        mine = f"/{c.shot_index:06d}/{c.chunk_index:06d}"
        self.storage.delete_many([key for key in self.storage.list(keys.job_prefix(c.job_id)) if key.endswith(mine)])

    def with_retries(self, work):
        """Retry transient failures (a server down, a connection lost) for up to retry_seconds; a permanent one (the
        input itself is unusable, so the same request can only fail again) ends the work at once."""
        deadline = time.monotonic() + self.settings.retry_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                return work()
            except DeeperFourError as e:  # the input itself is unusable: retrying cannot help
                raise ChunkDead(str(e), attempt) from None
            except Exception as e:
                if (isinstance(e, StageFailed) and e.permanent) or time.monotonic() > deadline:
                    raise ChunkDead(str(e), attempt) from None
                log.warning("attempt %d failed, retrying: %s", attempt, e)
            for _ in range(int(min(2**attempt, 8) * 4)):  # back off, but answer SIGTERM within 0.25 s
                if self.stopping:
                    raise Stopping()
                time.sleep(0.25)

    # ---- completion ----
    def maybe_assemble(self, job_id: str, status: types_pb2.Job | None = None, done: int | None = None) -> None:
        """Assemble the film once every chunk is done; `status` and `done` (the done count), when given, were read
        after this process's last chunk was marked done."""
        from deeperfour.orchestrator.assemble import assemble

        status = self.jobs.status(job_id) if status is None else status
        if status is None or status.state != types_pb2.JOB_STATE_RUNNING or not status.chunks_total:
            return
        done = self.done_count(job_id) if done is None else done
        if done < status.chunks_total or self.jobs.cancelled(job_id):
            return
        job = self.jobs.record(job_id)
        log.info("job %s: assembling %d frames", job_id, status.frames_total)
        self.publish(job_id, types_pb2.JOB_STATE_RUNNING, "assembling the film", status=status, done=done)
        try:
            output = self.with_retries(lambda: assemble(job, self.storage, status.frames_total))
        except ChunkDead as e:
            if self.finished_or_stopped(job_id):  # another replica assembled it first
                return
            self.fail(job_id, f"assembling the film failed: {e.reason}")
            return
        self.set_state(job_id, types_pb2.JOB_STATE_SUCCEEDED, f"done: {output}", output_key=output)
        self.jobs.remove_intermediates(job_id)
        log.info("job %s: done, %s", job_id, output)

    def finished_or_stopped(self, job_id: str) -> bool:
        status = self.jobs.status(job_id)
        return self.jobs.cancelled(job_id) or (status is not None and status.state in TERMINAL)

    def fail(self, job_id: str, reason: str) -> None:
        log.error("job %s failed: %s", job_id, reason)
        self.set_state(job_id, types_pb2.JOB_STATE_FAILED, reason, error=reason)
        self.jobs.remove_intermediates(job_id)

    def set_state(self, job_id: str, state: types_pb2.JobState, message: str, **fields) -> None:
        self.publish(job_id, state, message, status=self.jobs.set_status(job_id, state, **fields))

    def done_count(self, job_id: str) -> int:
        return self.storage.count(keys.job_prefix(job_id) + "done/")

    def publish(
        self,
        job_id: str,
        state: types_pb2.JobState,
        message: str,
        status: types_pb2.Job | None = None,
        done: int | None = None,
    ) -> None:
        """A JobEvent; `status` and `done` (the done count) when the caller has just read them."""
        status = self.jobs.status(job_id) if status is None else status
        event = events_pb2.JobEvent(
            job_id=job_id,
            state=state,
            message=message,
            time_unix_ms=now_ms(),
            chunks_total=status.chunks_total if status else 0,
            chunks_done=self.done_count(job_id) if done is None else done,
        )
        self.producer.send(bus.EVENTS, key=job_id.encode(), value=event.SerializeToString())


def build_app(
    settings: OrchestratorSettings | None = None,
    *,
    kafka: KafkaSettings | None = None,
    storage=None,
    consumer=None,
    producer=None,
    model_servers=None,
) -> Orchestrator:
    """The one wiring point: settings default to the process's; tests pass their own parts."""
    settings = settings or config.current().orchestrator
    kafka = kafka or config.current().kafka
    storage = storage or ObjectStorage()
    storage.ensure_bucket()
    if consumer is None or producer is None:
        bus.ensure_topics(kafka)
    model_servers = model_servers or ModelServers(settings.model_servers, settings.stage_timeout_s, settings.key_files)
    return Orchestrator(
        settings,
        storage,
        consumer or bus.consumer(kafka, settings.group),
        producer or bus.producer(kafka),
        model_servers,
    )
