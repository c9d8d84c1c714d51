"""gRPC gateway of the distributed mode (deeperfour.v1.JobsService)."""
