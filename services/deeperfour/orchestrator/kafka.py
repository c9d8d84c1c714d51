"""Kafka topics and clients (kafka-python) of the distributed mode."""

from __future__ import annotations

from deeperfour.config import env, env_int

SUBMITTED = "deeperfour.jobs.submitted"
READY = "deeperfour.chunks.ready"
DEAD = "deeperfour.chunks.dead"
EVENTS = "deeperfour.jobs.events"
PARTITIONS = {SUBMITTED: 4, READY: 8, DEAD: 1, EVENTS: 1}


def bootstrap() -> list[str]:
    return env("KAFKA", "BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")


def ensure_topics() -> None:
    """Create the topics if they are missing (a cluster may have created them already)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap(), client_id="deeperfour-admin")
    try:
        existing = set(admin.list_topics())
        for name, partitions in PARTITIONS.items():
            if name in existing:
                continue
            try:
                admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def producer():
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap(), acks="all", linger_ms=0, retries=5)


def consumer(group: str):
    """A group member that commits by hand, after the outputs of a message are stored."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=bootstrap(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1,
        max_poll_interval_ms=env_int("KAFKA", "MAX_POLL_INTERVAL_MS", 1_800_000),  # a long film's split
        session_timeout_ms=env_int("KAFKA", "SESSION_TIMEOUT_MS", 10_000),
        heartbeat_interval_ms=env_int("KAFKA", "HEARTBEAT_INTERVAL_MS", 1_000),
    )
