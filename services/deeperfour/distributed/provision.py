"""`python -m deeperfour.distributed.provision`: create the Kafka topics and the S3 bucket; idempotent, retried until
the servers answer. The chart's setup Job runs it (post-install/post-upgrade) with the services' DEEPERFOUR_*
settings plus DEEPERFOUR_SETUP_TOPICS (comma list), _PARTITIONS, _REPLICATION and _TIMEOUT_S.

Existing topics are left as they are; fewer partitions than asked only prints a warning, because growing a topic
moves shot keys to other partitions (do it while no job runs).
"""

from __future__ import annotations

import sys
import time

from deeperfour import settings
from deeperfour.distributed import bus
from deeperfour.distributed.storage import ObjectStorage
from deeperfour.errors import DeeperFourError


def say(message: str) -> None:
    print(f"setup: {message}", flush=True)


def topics(s: settings.Settings, deadline: float) -> None:
    setup = s.setup
    wait_ms = int(1000 * min(10.0, max(1.0, deadline - time.monotonic())))  # per try, never past the deadline
    have = bus.ensure_topics(
        s.kafka, setup.topics, partitions=setup.partitions, replication=setup.replication, wait_ms=wait_ms
    )
    for name, count in have.items():
        say(f"{name}: {count} partitions")
        want = setup.partitions or bus.TOPICS.get(name, 1)
        if count < want:
            say(
                f"WARNING {name} has {count} partitions, topics.partitions asks {want}: grow it with "
                f"kafka-topics.sh --alter --partitions {want} while no job runs (a shot's chunks must stay in one "
                "partition)"
            )


def bucket(s: settings.Settings, deadline: float) -> None:
    storage = ObjectStorage(s.s3)
    say(f"bucket {storage.bucket} {'created' if storage.ensure_bucket() else 'exists'}")


def retry(what: str, step, s: settings.Settings, deadline: float) -> None:
    from kafka.errors import KafkaError
    from minio.error import S3Error

    while True:
        try:
            return step(s, deadline)
        except (KafkaError, S3Error, OSError, ValueError) as err:
            if time.monotonic() > deadline:
                sys.exit(f"setup: {what} failed: {err}")
            say(f"{what} not ready yet ({err}); retrying")
            time.sleep(5)


def main() -> int:
    try:
        s = settings.load()
        deadline = time.monotonic() + s.setup.timeout_s
        if s.setup.topics:  # empty when topics.create=false
            retry("kafka topics", topics, s, deadline)
        retry("s3 bucket", bucket, s, deadline)
    except DeeperFourError as e:
        sys.exit(f"setup: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
