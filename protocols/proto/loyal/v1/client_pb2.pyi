from loyal.protocols.proto.loyal.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
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
    __slots__ = ("job", "round", "state", "model_version", "public_key_hat", "model_delta", "max_submission_bytes", "chunk_bytes", "key_signatures", "member_keys")
    JOB_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_HAT_FIELD_NUMBER: _ClassVar[int]
    MODEL_DELTA_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBMISSION_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    KEY_SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    MEMBER_KEYS_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobSpec
    round: int
    state: _common_pb2.RoundState
    model_version: int
    public_key_hat: bytes
    model_delta: bytes
    max_submission_bytes: int
    chunk_bytes: int
    key_signatures: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeySignature]
    member_keys: _containers.RepeatedCompositeFieldContainer[MemberKey]
    def __init__(self, job: _Optional[_Union[_common_pb2.JobSpec, _Mapping]] = ..., round: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.RoundState, str]] = ..., model_version: _Optional[int] = ..., public_key_hat: _Optional[bytes] = ..., model_delta: _Optional[bytes] = ..., max_submission_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ..., key_signatures: _Optional[_Iterable[_Union[_common_pb2.KeySignature, _Mapping]]] = ..., member_keys: _Optional[_Iterable[_Union[MemberKey, _Mapping]]] = ...) -> None: ...

class MemberKey(_message.Message):
    __slots__ = ("member_id", "signing_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    signing_key: bytes
    def __init__(self, member_id: _Optional[int] = ..., signing_key: _Optional[bytes] = ...) -> None: ...
