"""Create DeeperFour's Kafka topics and S3 bucket; idempotent, retried until the servers answer.

Run by the chart's setup Job (post-install/post-upgrade) with the same DEEPERFOUR_* settings as the
services, plus DEEPERFOUR_SETUP_TOPICS (comma list), _PARTITIONS, _REPLICATION and _TIMEOUT_S.
Existing topics are left as they are; fewer partitions than asked only prints a warning, because
growing a topic moves shot keys to other partitions (do it while no job runs).
"""
import os
import sys
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from minio import Minio
from minio.error import S3Error


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"setup: {name} is not set")
    return value


def ensure_topics(bootstrap, topics, partitions, replication, deadline):
    # Wait at most 10 s per try for a broker, and never past the deadline (kafka-python >= 3 only).
    wait_ms = int(1000 * min(10.0, max(1.0, deadline - time.monotonic())))
    extra = {"bootstrap_timeout_ms": wait_ms} if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG else {}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="deeperfour-setup", **extra)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, partitions, replication) for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another Job run or by auto-creation
        for meta in admin.describe_topics(topics):
            name = meta.get("name") or meta.get("topic")  # kafka-python 3.x says "name", 2.x "topic"
            have = len(meta["partitions"])
            print(f"setup: {name}: {have} partitions")
            if have < partitions:
                print(f"setup: WARNING {name} has {have} partitions, topics.partitions asks {partitions}: grow it "
                      f"with kafka-topics.sh --alter --partitions {partitions} while no job runs (a shot's "
                      "chunks must stay in one partition)")
    finally:
        admin.close()


def ensure_bucket(endpoint, access_key, secret_key, secure, bucket):
    client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)
    if client.bucket_exists(bucket):
        print(f"setup: bucket {bucket} exists")
        return
    try:
        client.make_bucket(bucket)
    except S3Error as err:
        if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    print(f"setup: bucket {bucket} created")


def retry(what, fn, *args, deadline):
    while True:
        try:
            return fn(*args)
        except (KafkaError, S3Error, OSError, ValueError) as err:
            if time.monotonic() > deadline:
                sys.exit(f"setup: {what} failed: {err}")
            print(f"setup: {what} not ready yet ({err}); retrying", flush=True)
            time.sleep(5)


def main():
    deadline = time.monotonic() + float(env("DEEPERFOUR_SETUP_TIMEOUT_S", "600"))
    topics = [t for t in env("DEEPERFOUR_SETUP_TOPICS").split(",") if t]
    if topics:  # empty when topics.create=false
        retry("kafka topics", ensure_topics, env("DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS"), topics,
              int(env("DEEPERFOUR_SETUP_PARTITIONS", "12")), int(env("DEEPERFOUR_SETUP_REPLICATION", "1")),
              deadline, deadline=deadline)
    retry("s3 bucket", ensure_bucket, env("DEEPERFOUR_S3_ENDPOINT"), env("DEEPERFOUR_S3_ACCESS_KEY"),
          env("DEEPERFOUR_S3_SECRET_KEY"), env("DEEPERFOUR_S3_SECURE", "false").lower() == "true",
          env("DEEPERFOUR_S3_BUCKET", "deeperfour"), deadline=deadline)


if __name__ == "__main__":
    main()
