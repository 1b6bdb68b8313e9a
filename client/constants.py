# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Stage names, record keys and retry defaults of the gRPC client and committee member
(as Flower's `flwr/common/secure_aggregation/secaggplus_constants.py`)."""

from __future__ import annotations

import enum


class ClientStage(enum.StrEnum):
    """Steps of the ephemeral client, in order."""

    ENROLL = "enroll"
    FETCH_TASK = "fetch_task"
    TRAIN = "train"
    ENCRYPT = "encrypt"
    SUBMIT = "submit"


class MemberStage(enum.StrEnum):
    """Steps of a committee member: join, then keygen (first committee) or receiving a hand-off (later
    ones); noise and decrypt repeat until the job is done or the member hands off and retires."""

    JOIN = "join"
    KEYGEN = "keygen"
    NOISE = "noise"
    DECRYPT = "decrypt"
    HANDOFF = "handoff"


class Key(enum.StrEnum):
    """Keys of the result records the runners return."""

    CLIENT_ID = "client_id"
    ROUND = "round"
    DUPLICATE = "duplicate"
    BYTES = "bytes"
    ATTEMPTS = "attempts"
    NOISE = "noise"  # the client also stored a cohort noise share (issue 15)
    TRAIN_LOSS = "train_loss"
    NOISE_SHARES = "noise_shares"
    PARTIALS = "partials"
    REFUSALS = "refusals"
    HANDOFFS = "handoffs"


#: Retry policy: first delay, growth factor, cap (seconds) and attempt limit.
BACKOFF_INITIAL_S = 0.05
BACKOFF_FACTOR = 2.0
BACKOFF_MAX_S = 2.0
MAX_ATTEMPTS = 40
#: Poll interval while waiting for a round to open or for committee work.
POLL_S = 0.05
#: An idle poller backs off from POLL_S to this (a member's liveness deadline is the server's --reissue-seconds >= 1).
MAX_IDLE_POLL_S = 0.5
#: Per-call gRPC deadline (seconds).
CALL_TIMEOUT_S = 30.0
