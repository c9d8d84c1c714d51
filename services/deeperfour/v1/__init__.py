"""Generated protobuf/gRPC stubs of deeperfour.v1 (`make protos`); never edit the *_pb2* files."""
