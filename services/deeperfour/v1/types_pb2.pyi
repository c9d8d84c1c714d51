from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class JobOptions(_message.Message):
    __slots__ = ("stages", "chunk_frames", "output_format")
    STAGES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FRAMES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    stages: _containers.RepeatedScalarFieldContainer[str]
    chunk_frames: int
    output_format: str
    def __init__(self, stages: _Optional[_Iterable[str]] = ..., chunk_frames: _Optional[int] = ..., output_format: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "state", "options", "input_name", "input_key", "output_key", "chunks_total", "chunks_done", "frames_total", "shots_total", "error", "created_unix_ms", "updated_unix_ms")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    INPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHOTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: JobState
    options: JobOptions
    input_name: str
    input_key: str
    output_key: str
    chunks_total: int
    chunks_done: int
    frames_total: int
    shots_total: int
    error: str
    created_unix_ms: int
    updated_unix_ms: int
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., options: _Optional[_Union[JobOptions, _Mapping]] = ..., input_name: _Optional[str] = ..., input_key: _Optional[str] = ..., output_key: _Optional[str] = ..., chunks_total: _Optional[int] = ..., chunks_done: _Optional[int] = ..., frames_total: _Optional[int] = ..., shots_total: _Optional[int] = ..., error: _Optional[str] = ..., created_unix_ms: _Optional[int] = ..., updated_unix_ms: _Optional[int] = ...) -> None: ...

class ChunkRef(_message.Message):
    __slots__ = ("job_id", "shot_index", "chunk_index", "first_frame", "frame_count", "last_in_shot", "width", "height")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SHOT_INDEX_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIRST_FRAME_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_IN_SHOT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    shot_index: int
    chunk_index: int
    first_frame: int
    frame_count: int
    last_in_shot: bool
    width: int
    height: int
    def __init__(self, job_id: _Optional[str] = ..., shot_index: _Optional[int] = ..., chunk_index: _Optional[int] = ..., first_frame: _Optional[int] = ..., frame_count: _Optional[int] = ..., last_in_shot: _Optional[bool] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class StageRequest(_message.Message):
    __slots__ = ("stage", "chunk", "bucket", "input_key", "source_key", "state_in_key", "state_out_key", "output_key")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    INPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_IN_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_OUT_KEY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    stage: str
    chunk: ChunkRef
    bucket: str
    input_key: str
    source_key: str
    state_in_key: str
    state_out_key: str
    output_key: str
    def __init__(self, stage: _Optional[str] = ..., chunk: _Optional[_Union[ChunkRef, _Mapping]] = ..., bucket: _Optional[str] = ..., input_key: _Optional[str] = ..., source_key: _Optional[str] = ..., state_in_key: _Optional[str] = ..., state_out_key: _Optional[str] = ..., output_key: _Optional[str] = ...) -> None: ...

class StageResponse(_message.Message):
    __slots__ = ("output_key", "state", "frame_count", "error")
    OUTPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    output_key: str
    state: ShotStateRef
    frame_count: int
    error: str
    def __init__(self, output_key: _Optional[str] = ..., state: _Optional[_Union[ShotStateRef, _Mapping]] = ..., frame_count: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ShotStateRef(_message.Message):
    __slots__ = ("key", "stage", "shot_index", "after_chunk", "tensors", "size_bytes")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SHOT_INDEX_FIELD_NUMBER: _ClassVar[int]
    AFTER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    key: str
    stage: str
    shot_index: int
    after_chunk: int
    tensors: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: int
    def __init__(self, key: _Optional[str] = ..., stage: _Optional[str] = ..., shot_index: _Optional[int] = ..., after_chunk: _Optional[int] = ..., tensors: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[int] = ...) -> None: ...
