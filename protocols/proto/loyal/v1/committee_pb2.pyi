from loyal.protocols.proto.loyal.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("member_id", "signing_key", "exchange_key", "signature")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    signing_key: bytes
    exchange_key: bytes
    signature: bytes
    def __init__(self, member_id: _Optional[int] = ..., signing_key: _Optional[bytes] = ..., exchange_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobSpec
    def __init__(self, job: _Optional[_Union[_common_pb2.JobSpec, _Mapping]] = ...) -> None: ...

class MemberRequest(_message.Message):
    __slots__ = ("member_id",)
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    def __init__(self, member_id: _Optional[int] = ...) -> None: ...

class RosterEntry(_message.Message):
    __slots__ = ("member_id", "exchange_key", "join_signature")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_KEY_FIELD_NUMBER: _ClassVar[int]
    JOIN_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    exchange_key: bytes
    join_signature: bytes
    def __init__(self, member_id: _Optional[int] = ..., exchange_key: _Optional[bytes] = ..., join_signature: _Optional[bytes] = ...) -> None: ...

class DealerCommitment(_message.Message):
    __slots__ = ("dealer", "commitment", "signature")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    dealer: int
    commitment: bytes
    signature: bytes
    def __init__(self, dealer: _Optional[int] = ..., commitment: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Roster(_message.Message):
    __slots__ = ("complete", "members", "commitments")
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    complete: bool
    members: _containers.RepeatedCompositeFieldContainer[RosterEntry]
    commitments: _containers.RepeatedCompositeFieldContainer[DealerCommitment]
    def __init__(self, complete: _Optional[bool] = ..., members: _Optional[_Iterable[_Union[RosterEntry, _Mapping]]] = ..., commitments: _Optional[_Iterable[_Union[DealerCommitment, _Mapping]]] = ...) -> None: ...

class EncryptedShare(_message.Message):
    __slots__ = ("recipient", "ciphertext")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    recipient: int
    ciphertext: bytes
    def __init__(self, recipient: _Optional[int] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...

class KeyGenSubmission(_message.Message):
    __slots__ = ("member_id", "public_part", "shares", "signature", "commitment")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_PART_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    public_part: bytes
    shares: _containers.RepeatedCompositeFieldContainer[EncryptedShare]
    signature: bytes
    commitment: bytes
    def __init__(self, member_id: _Optional[int] = ..., public_part: _Optional[bytes] = ..., shares: _Optional[_Iterable[_Union[EncryptedShare, _Mapping]]] = ..., signature: _Optional[bytes] = ..., commitment: _Optional[bytes] = ...) -> None: ...

class DealtShare(_message.Message):
    __slots__ = ("dealer", "dealer_exchange_key", "ciphertext", "dealer_join_signature", "public_part")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    DEALER_EXCHANGE_KEY_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    DEALER_JOIN_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_PART_FIELD_NUMBER: _ClassVar[int]
    dealer: int
    dealer_exchange_key: bytes
    ciphertext: bytes
    dealer_join_signature: bytes
    public_part: bytes
    def __init__(self, dealer: _Optional[int] = ..., dealer_exchange_key: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ..., dealer_join_signature: _Optional[bytes] = ..., public_part: _Optional[bytes] = ...) -> None: ...

class KeyShares(_message.Message):
    __slots__ = ("complete", "shares", "public_key_hat")
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_HAT_FIELD_NUMBER: _ClassVar[int]
    complete: bool
    shares: _containers.RepeatedCompositeFieldContainer[DealtShare]
    public_key_hat: bytes
    def __init__(self, complete: _Optional[bool] = ..., shares: _Optional[_Iterable[_Union[DealtShare, _Mapping]]] = ..., public_key_hat: _Optional[bytes] = ...) -> None: ...

class NoiseTask(_message.Message):
    __slots__ = ("round", "public_key_hat")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_HAT_FIELD_NUMBER: _ClassVar[int]
    round: int
    public_key_hat: bytes
    def __init__(self, round: _Optional[int] = ..., public_key_hat: _Optional[bytes] = ...) -> None: ...

class DecryptionTask(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: bytes
    def __init__(self, request: _Optional[bytes] = ...) -> None: ...

class HandOffTask(_message.Message):
    __slots__ = ("epoch", "subset", "new_members", "new_threshold")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SUBSET_FIELD_NUMBER: _ClassVar[int]
    NEW_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEW_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    subset: _containers.RepeatedScalarFieldContainer[int]
    new_members: _containers.RepeatedCompositeFieldContainer[RosterEntry]
    new_threshold: int
    def __init__(self, epoch: _Optional[int] = ..., subset: _Optional[_Iterable[int]] = ..., new_members: _Optional[_Iterable[_Union[RosterEntry, _Mapping]]] = ..., new_threshold: _Optional[int] = ...) -> None: ...

class Work(_message.Message):
    __slots__ = ("noise", "decrypt", "wait", "done", "handoff")
    NOISE_FIELD_NUMBER: _ClassVar[int]
    DECRYPT_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FIELD_NUMBER: _ClassVar[int]
    noise: NoiseTask
    decrypt: DecryptionTask
    wait: bool
    done: bool
    handoff: HandOffTask
    def __init__(self, noise: _Optional[_Union[NoiseTask, _Mapping]] = ..., decrypt: _Optional[_Union[DecryptionTask, _Mapping]] = ..., wait: _Optional[bool] = ..., done: _Optional[bool] = ..., handoff: _Optional[_Union[HandOffTask, _Mapping]] = ...) -> None: ...

class PartialSubmission(_message.Message):
    __slots__ = ("member_id", "partial", "signature")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    partial: bytes
    signature: bytes
    def __init__(self, member_id: _Optional[int] = ..., partial: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class HandOffSubmission(_message.Message):
    __slots__ = ("member_id", "epoch", "subshares", "signature")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SUBSHARES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    epoch: int
    subshares: _containers.RepeatedCompositeFieldContainer[EncryptedShare]
    signature: bytes
    def __init__(self, member_id: _Optional[int] = ..., epoch: _Optional[int] = ..., subshares: _Optional[_Iterable[_Union[EncryptedShare, _Mapping]]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class HandOff(_message.Message):
    __slots__ = ("subshares", "complete", "epoch")
    SUBSHARES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    subshares: _containers.RepeatedCompositeFieldContainer[DealtShare]
    complete: bool
    epoch: int
    def __init__(self, subshares: _Optional[_Iterable[_Union[DealtShare, _Mapping]]] = ..., complete: _Optional[bool] = ..., epoch: _Optional[int] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("member_id", "request_id", "reason", "signature")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    request_id: bytes
    reason: str
    signature: bytes
    def __init__(self, member_id: _Optional[int] = ..., request_id: _Optional[bytes] = ..., reason: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RoundPartsRequest(_message.Message):
    __slots__ = ("member_id", "round", "start")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    round: int
    start: int
    def __init__(self, member_id: _Optional[int] = ..., round: _Optional[int] = ..., start: _Optional[int] = ...) -> None: ...

class UploadPart(_message.Message):
    __slots__ = ("sender", "part")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    sender: int
    part: bytes
    def __init__(self, sender: _Optional[int] = ..., part: _Optional[bytes] = ...) -> None: ...

class RoundParts(_message.Message):
    __slots__ = ("data", "noise", "cohort_noise", "start", "total")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NOISE_FIELD_NUMBER: _ClassVar[int]
    COHORT_NOISE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[UploadPart]
    noise: _containers.RepeatedCompositeFieldContainer[UploadPart]
    cohort_noise: _containers.RepeatedCompositeFieldContainer[UploadPart]
    start: int
    total: int
    def __init__(self, data: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ..., noise: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ..., cohort_noise: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ..., start: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...
