from loyal.protocols.proto.loyal.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Status(_message.Message):
    __slots__ = ("round", "state", "stored_rounds", "submissions", "releases", "head", "serving")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STORED_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    RELEASES_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    round: int
    state: _common_pb2.RoundState
    stored_rounds: int
    submissions: int
    releases: int
    head: bytes
    serving: bool
    def __init__(self, round: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.RoundState, str]] = ..., stored_rounds: _Optional[int] = ..., submissions: _Optional[int] = ..., releases: _Optional[int] = ..., head: _Optional[bytes] = ..., serving: _Optional[bool] = ...) -> None: ...

class ReleasesRequest(_message.Message):
    __slots__ = ("from_index",)
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    from_index: int
    def __init__(self, from_index: _Optional[int] = ...) -> None: ...

class Coefficient(_message.Message):
    __slots__ = ("round", "value")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    round: int
    value: int
    def __init__(self, round: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...

class Release(_message.Message):
    __slots__ = ("request_id", "policy_id", "round", "data", "noise", "integer_values", "values")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    NOISE_FIELD_NUMBER: _ClassVar[int]
    INTEGER_VALUES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    request_id: bytes
    policy_id: str
    round: int
    data: _containers.RepeatedCompositeFieldContainer[Coefficient]
    noise: _containers.RepeatedCompositeFieldContainer[Coefficient]
    integer_values: bytes
    values: bytes
    def __init__(self, request_id: _Optional[bytes] = ..., policy_id: _Optional[str] = ..., round: _Optional[int] = ..., data: _Optional[_Iterable[_Union[Coefficient, _Mapping]]] = ..., noise: _Optional[_Iterable[_Union[Coefficient, _Mapping]]] = ..., integer_values: _Optional[bytes] = ..., values: _Optional[bytes] = ...) -> None: ...

class Releases(_message.Message):
    __slots__ = ("releases",)
    RELEASES_FIELD_NUMBER: _ClassVar[int]
    releases: _containers.RepeatedCompositeFieldContainer[Release]
    def __init__(self, releases: _Optional[_Iterable[_Union[Release, _Mapping]]] = ...) -> None: ...

class EventsRequest(_message.Message):
    __slots__ = ("after_seq",)
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    def __init__(self, after_seq: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "round", "kind", "detail", "time")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    round: int
    kind: str
    detail: str
    time: float
    def __init__(self, seq: _Optional[int] = ..., round: _Optional[int] = ..., kind: _Optional[str] = ..., detail: _Optional[str] = ..., time: _Optional[float] = ...) -> None: ...
