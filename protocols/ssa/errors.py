# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Exceptions of the SSA protocol (one module, as `flwr/serverapp/exception.py`).

Categories (style.md §4): bad input is a `ValueError` subclass (`MessageFormatError`,
`ReplayError`); out-of-order use is `ProtocolStateError`; a committee member's refusal is
`PolicyViolationError`; a log that does not match its published head is `LogIntegrityError`.
"""

from __future__ import annotations

from loyal.protocols.rlwe.ahe import ThresholdError

__all__ = [
    "LogIntegrityError",
    "MessageFormatError",
    "PolicyViolationError",
    "ProtocolStateError",
    "ReplayError",
    "ThresholdError",
]


class MessageFormatError(ValueError):
    """Bytes that are not a well-formed message for this job (magic, version, length, digest, shape, range)."""


class ReplayError(MessageFormatError):
    """A message for a wrong round, or a duplicate of one already included."""


class ProtocolStateError(RuntimeError):
    """An operation in the wrong protocol stage (e.g. a release before its round is stored)."""


class PolicyViolationError(PermissionError):
    """A committee member refuses a release row that the published policy does not allow."""


class LogIntegrityError(RuntimeError):
    """The server's log does not hash-chain to the trusted head."""


class AuthenticationError(PermissionError):
    """Unknown key, bad signature, an invalid/spent enrollment token, or a message naming a sender other
    than the one its transport authenticated."""
