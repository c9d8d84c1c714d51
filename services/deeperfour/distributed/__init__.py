"""What the distributed services share: object keys, storage, the Kafka bus, job records, the chunk codec, the
memory setting of processes that handle chunk after chunk, and the routine that creates the topics and the bucket.
The gateway, the orchestrator and the model servers import it; it imports none of them.
"""
