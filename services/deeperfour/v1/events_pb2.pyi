from deeperfour.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobSubmitted(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _types_pb2.Job
    def __init__(self, job: _Optional[_Union[_types_pb2.Job, _Mapping]] = ...) -> None: ...

class ChunkReady(_message.Message):
    __slots__ = ("chunk", "stages", "chunks_total")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    chunk: _types_pb2.ChunkRef
    stages: _containers.RepeatedScalarFieldContainer[str]
    chunks_total: int
    def __init__(self, chunk: _Optional[_Union[_types_pb2.ChunkRef, _Mapping]] = ..., stages: _Optional[_Iterable[str]] = ..., chunks_total: _Optional[int] = ...) -> None: ...

class ChunkDead(_message.Message):
    __slots__ = ("chunk", "reason", "attempts")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    chunk: _types_pb2.ChunkRef
    reason: str
    attempts: int
    def __init__(self, chunk: _Optional[_Union[_types_pb2.ChunkRef, _Mapping]] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "state", "chunks_done", "chunks_total", "message", "time_unix_ms")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: _types_pb2.JobState
    chunks_done: int
    chunks_total: int
    message: str
    time_unix_ms: int
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.JobState, str]] = ..., chunks_done: _Optional[int] = ..., chunks_total: _Optional[int] = ..., message: _Optional[str] = ..., time_unix_ms: _Optional[int] = ...) -> None: ...
