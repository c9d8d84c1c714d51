"""TorchServe: the handler base every model server runs, and the gRPC client the orchestrator calls them with."""
