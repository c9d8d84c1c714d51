"""Generated stubs of the TorchServe gRPC inference API (`make protos`); the .proto is the project's own."""
