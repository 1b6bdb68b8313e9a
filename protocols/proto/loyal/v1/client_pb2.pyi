from loyal.protocols.proto.loyal.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollRequest(_message.Message):
    __slots__ = ("token", "public_key")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    token: str
    public_key: bytes
    def __init__(self, token: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: int
    def __init__(self, client_id: _Optional[int] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Task(_message.Message):
    __slots__ = ("job", "round", "state", "model_version", "public_key_hat", "model_delta", "max_submission_bytes", "chunk_bytes")
    JOB_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_HAT_FIELD_NUMBER: _ClassVar[int]
    MODEL_DELTA_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBMISSION_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobSpec
    round: int
    state: _common_pb2.RoundState
    model_version: int
    public_key_hat: bytes
    model_delta: bytes
    max_submission_bytes: int
    chunk_bytes: int
    def __init__(self, job: _Optional[_Union[_common_pb2.JobSpec, _Mapping]] = ..., round: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.RoundState, str]] = ..., model_version: _Optional[int] = ..., public_key_hat: _Optional[bytes] = ..., model_delta: _Optional[bytes] = ..., max_submission_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...
