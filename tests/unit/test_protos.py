"""The checked-in stubs match protos/, and the TorchServe proto keeps TorchServe's wire names and field numbers."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor


def test_checked_in_stubs_are_fresh():
    from tests.conftest import REPO
    from tools.protogen import stale_files

    assert stale_files(REPO / "protos", REPO / "services") == [], "run `make protos` and commit the regenerated stubs"


def test_torchserve_wire_names():
    from deeperfour.torchserve import inference_pb2

    service = inference_pb2.DESCRIPTOR.services_by_name["InferenceAPIsService"]
    assert service.full_name == "org.pytorch.serve.grpc.inference.InferenceAPIsService"
    assert (
        service.methods_by_name["Predictions"].input_type.full_name
        == "org.pytorch.serve.grpc.inference.PredictionsRequest"
    )
    fields = {f.name: (f.number, f.type) for f in inference_pb2.PredictionsRequest.DESCRIPTOR.fields}
    assert fields["model_name"] == (1, FieldDescriptor.TYPE_STRING)
    assert fields["model_version"] == (2, FieldDescriptor.TYPE_STRING)
    input_field = inference_pb2.PredictionsRequest.DESCRIPTOR.fields_by_name["input"]
    assert fields["input"][0] == 3 and input_field.message_type.GetOptions().map_entry
    assert fields["sequence_id"] == (4, FieldDescriptor.TYPE_STRING)
    response = {f.name: f.number for f in inference_pb2.PredictionResponse.DESCRIPTOR.fields}
    assert response == {"prediction": 1, "sequence_id": 2, "status": 3}


def test_status_field_reads_a_google_rpc_status_on_the_wire():
    """Field 3 is google.rpc.Status{int32 code=1; string message=2; repeated Any details=3} in TorchServe's proto."""
    from deeperfour.torchserve import inference_pb2

    status = bytes([0x08, 0x0E]) + bytes([0x12, 0x04]) + b"down" + bytes([0x1A, 0x02, 0x0A, 0x00])  # code 14 + detail
    wire = bytes([0x0A, 0x02]) + b"ok" + bytes([0x1A, len(status)]) + status
    reply = inference_pb2.PredictionResponse.FromString(wire)
    assert reply.prediction == b"ok" and reply.status.code == 14 and reply.status.message == "down"


def test_messages_round_trip():
    from deeperfour.v1 import events_pb2, jobs_service_pb2, types_pb2

    chunk = types_pb2.ChunkRef(job_id="a" * 32, shot_index=3, chunk_index=7, first_frame=100, frame_count=48)
    ready = events_pb2.ChunkReady(chunk=chunk, stages=["colorize", "stabilize"])
    assert events_pb2.ChunkReady.FromString(ready.SerializeToString()) == ready
    request = jobs_service_pb2.SubmitJobRequest(spec=jobs_service_pb2.JobSpec(input_name="film.mp4"))
    assert jobs_service_pb2.SubmitJobRequest.FromString(request.SerializeToString()).WhichOneof("payload") == "spec"
    assert len(ready.SerializeToString()) < 200  # Kafka messages carry references, never pixels
