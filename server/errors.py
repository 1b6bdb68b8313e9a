# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Server-layer exceptions and the one mapping from exceptions to gRPC status codes (style.md §4).

The protocol core raises; the servicer answers with `grpc_status(exc)` = (code, reason) and logs.
"""

from __future__ import annotations

import grpc

from loyal.protocols.dpftrl.ledger import ParticipationError
from loyal.protocols.rlwe.ahe import ThresholdError
from loyal.protocols.ssa.errors import (
    AuthenticationError,
    LogIntegrityError,
    MessageFormatError,
    PolicyViolationError,
    ProtocolStateError,
    ReplayError,
)


class SizeLimitError(ValueError):
    """A request larger than the explicit limits (server.limits)."""


class WrongRoundError(ProtocolStateError):
    """An upload for a round other than the open one (or while no round accepts uploads)."""


class DuplicateError(ReplayError):
    """The same (round, sender, nonce) with different bytes, or a second upload of one sender."""


# Most specific first: the first isinstance match wins.
_CODES: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (AuthenticationError, grpc.StatusCode.UNAUTHENTICATED),
    (PolicyViolationError, grpc.StatusCode.PERMISSION_DENIED),
    (ParticipationError, grpc.StatusCode.PERMISSION_DENIED),
    (PermissionError, grpc.StatusCode.PERMISSION_DENIED),
    (SizeLimitError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (WrongRoundError, grpc.StatusCode.FAILED_PRECONDITION),
    (ReplayError, grpc.StatusCode.ALREADY_EXISTS),
    (MessageFormatError, grpc.StatusCode.INVALID_ARGUMENT),
    (ThresholdError, grpc.StatusCode.FAILED_PRECONDITION),
    (ProtocolStateError, grpc.StatusCode.FAILED_PRECONDITION),
    (LogIntegrityError, grpc.StatusCode.DATA_LOSS),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    (TypeError, grpc.StatusCode.INVALID_ARGUMENT),
)


def grpc_status(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """(status code, one-line reason) for an exception; anything unexpected is INTERNAL."""
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code, f"{type(exc).__name__}: {exc}"[:500]
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__})"
