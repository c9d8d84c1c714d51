"""Kafka orchestrator of the distributed mode: split, route chunks through the model servers, assemble."""
