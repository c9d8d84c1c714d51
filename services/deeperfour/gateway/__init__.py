"""The gateway of the distributed mode: the public gRPC API (deeperfour.v1.JobsService) with token auth, health and
reflection, in front of object storage and Kafka."""
