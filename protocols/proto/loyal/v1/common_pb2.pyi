from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoundState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_STATE_UNSPECIFIED: _ClassVar[RoundState]
    ROUND_STATE_KEYGEN: _ClassVar[RoundState]
    ROUND_STATE_OPEN: _ClassVar[RoundState]
    ROUND_STATE_COLLECTING: _ClassVar[RoundState]
    ROUND_STATE_CLOSED: _ClassVar[RoundState]
    ROUND_STATE_AGGREGATED: _ClassVar[RoundState]
    ROUND_STATE_RELEASE_REQUESTED: _ClassVar[RoundState]
    ROUND_STATE_RELEASED: _ClassVar[RoundState]
    ROUND_STATE_DONE: _ClassVar[RoundState]
    ROUND_STATE_HANDOFF: _ClassVar[RoundState]
ROUND_STATE_UNSPECIFIED: RoundState
ROUND_STATE_KEYGEN: RoundState
ROUND_STATE_OPEN: RoundState
ROUND_STATE_COLLECTING: RoundState
ROUND_STATE_CLOSED: RoundState
ROUND_STATE_AGGREGATED: RoundState
ROUND_STATE_RELEASE_REQUESTED: RoundState
ROUND_STATE_RELEASED: RoundState
ROUND_STATE_DONE: RoundState
ROUND_STATE_HANDOFF: RoundState

class JobSpec(_message.Message):
    __slots__ = ("job_id", "public_seed", "dim", "clip_norm", "scale", "committee_size", "threshold", "noise_multiplier", "min_cohort", "params_name", "cohort_size", "model_name", "model_seed", "server_learning_rate", "policy_spec", "rotations", "rounds", "participations", "min_separation", "honest_members", "member_keys", "prove_uploads", "noise_contributors", "honest_noise_contributors")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_SEED_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    CLIP_NORM_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    COMMITTEE_SIZE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NOISE_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    MIN_COHORT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_NAME_FIELD_NUMBER: _ClassVar[int]
    COHORT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_SEED_FIELD_NUMBER: _ClassVar[int]
    SERVER_LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    POLICY_SPEC_FIELD_NUMBER: _ClassVar[int]
    ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATIONS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEPARATION_FIELD_NUMBER: _ClassVar[int]
    HONEST_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_KEYS_FIELD_NUMBER: _ClassVar[int]
    PROVE_UPLOADS_FIELD_NUMBER: _ClassVar[int]
    NOISE_CONTRIBUTORS_FIELD_NUMBER: _ClassVar[int]
    HONEST_NOISE_CONTRIBUTORS_FIELD_NUMBER: _ClassVar[int]
    job_id: bytes
    public_seed: bytes
    dim: int
    clip_norm: float
    scale: float
    committee_size: int
    threshold: int
    noise_multiplier: float
    min_cohort: int
    params_name: str
    cohort_size: int
    model_name: str
    model_seed: int
    server_learning_rate: float
    policy_spec: str
    rotations: _containers.RepeatedCompositeFieldContainer[Rotation]
    rounds: int
    participations: int
    min_separation: int
    honest_members: int
    member_keys: _containers.RepeatedScalarFieldContainer[bytes]
    prove_uploads: bool
    noise_contributors: int
    honest_noise_contributors: int
    def __init__(self, job_id: _Optional[bytes] = ..., public_seed: _Optional[bytes] = ..., dim: _Optional[int] = ..., clip_norm: _Optional[float] = ..., scale: _Optional[float] = ..., committee_size: _Optional[int] = ..., threshold: _Optional[int] = ..., noise_multiplier: _Optional[float] = ..., min_cohort: _Optional[int] = ..., params_name: _Optional[str] = ..., cohort_size: _Optional[int] = ..., model_name: _Optional[str] = ..., model_seed: _Optional[int] = ..., server_learning_rate: _Optional[float] = ..., policy_spec: _Optional[str] = ..., rotations: _Optional[_Iterable[_Union[Rotation, _Mapping]]] = ..., rounds: _Optional[int] = ..., participations: _Optional[int] = ..., min_separation: _Optional[int] = ..., honest_members: _Optional[int] = ..., member_keys: _Optional[_Iterable[bytes]] = ..., prove_uploads: _Optional[bool] = ..., noise_contributors: _Optional[int] = ..., honest_noise_contributors: _Optional[int] = ...) -> None: ...

class KeySignature(_message.Message):
    __slots__ = ("member_id", "signature")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    signature: bytes
    def __init__(self, member_id: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Rotation(_message.Message):
    __slots__ = ("after_round", "committee_size", "threshold")
    AFTER_ROUND_FIELD_NUMBER: _ClassVar[int]
    COMMITTEE_SIZE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    after_round: int
    committee_size: int
    threshold: int
    def __init__(self, after_round: _Optional[int] = ..., committee_size: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class SubmitHeader(_message.Message):
    __slots__ = ("round", "public_key", "nonce", "total_bytes", "payload_digest", "signature")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    round: int
    public_key: bytes
    nonce: bytes
    total_bytes: int
    payload_digest: bytes
    signature: bytes
    def __init__(self, round: _Optional[int] = ..., public_key: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., total_bytes: _Optional[int] = ..., payload_digest: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SubmitChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: SubmitHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[SubmitHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("round", "duplicate", "accepted", "noise_wanted")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    NOISE_WANTED_FIELD_NUMBER: _ClassVar[int]
    round: int
    duplicate: bool
    accepted: int
    noise_wanted: bool
    def __init__(self, round: _Optional[int] = ..., duplicate: _Optional[bool] = ..., accepted: _Optional[int] = ..., noise_wanted: _Optional[bool] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
