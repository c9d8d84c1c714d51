"""The orchestrator of the distributed mode: a Kafka consumer that splits films into chunks, drives each chunk through
the model servers with the pipeline's run_chunk, and assembles the film."""
