# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Record keys and committee stages of Loyal's Flower messages (cf. Flower's `secaggplus_constants.py`)."""

from __future__ import annotations

import enum

#: ConfigRecord key of the SSA ticket (server -> client) and of the upload (client -> server).
SSA_KEY = "loyal.ssa"
#: ConfigRecord key of committee messages, and of a committee member's state in `Context.state`.
COMMITTEE_KEY = "loyal.committee"
#: Flower message type of committee messages; a ClientApp registers `committee_member` under it.
COMMITTEE_ACTION = "loyal_committee"
COMMITTEE_MESSAGE_TYPE = f"query.{COMMITTEE_ACTION}"


class Stage(enum.StrEnum):
    """What a committee message asks a member to do, in protocol order (key generation, then rounds)."""

    COMMIT = "commit"  # create the key-generation contribution, answer exchange key + commitment to b_j
    REVEAL = "reveal"  # every dealer committed: answer b_j and the shares sealed to each recipient
    COMBINE = "combine"  # check every reveal, open own shares, answer the committee public key
    NOISE = "noise"  # answer this member's encrypted noise share of a round
    DECRYPT = "decrypt"  # audit the rounds' parts sent along (proofs), check a release request, answer the partial


class Key(enum.StrEnum):
    """Keys inside the `COMMITTEE_KEY` / `SSA_KEY` ConfigRecords."""

    STAGE = "stage"
    JOB = "job"
    MEMBER_ID = "member-id"
    MEMBERS = "members"
    EXCHANGE_KEY = "exchange-key"
    EXCHANGE_KEYS = "exchange-keys"
    COMMITMENT = "commitment"
    COMMITMENTS = "commitments"
    PUBLIC_PART = "public-part"
    PUBLIC_PARTS = "public-parts"
    RECIPIENTS = "recipients"
    SEALED = "sealed"
    PUBLIC_KEY = "public-key"
    ROUND = "round"
    FRAME = "frame"
    TICKET = "ticket"
    CLIENT_ID = "client-id"
    UPLOAD = "upload"
    SIGNING_KEY = "signing-key"
    SIGNING_KEYS = "signing-keys"
    JOIN_SIGNATURE = "join-signature"
    JOIN_SIGNATURES = "join-signatures"
    COMMITMENT_SIGNATURE = "commitment-signature"
    COMMITMENT_SIGNATURES = "commitment-signatures"
    KEY_SIGNATURE = "key-signature"
    PARTS = "parts"


class Setting(enum.StrEnum):
    """What a Loyal node trusts, from its node config (the node owner's: `flower-supernode --node-config`),
    else the run config (the `flwr run` caller's; the ServerApp cannot change either)."""

    MEMBER_KEYS = "member-keys"  # the committee's pinned Ed25519 public keys (hex, comma-separated, members 1..n)
    MEMBER_KEY = "member-key"  # node config only: this member's identity file (`loyal.client.tls.Identity.save`)
    INSECURE = "insecure"  # accept a job no pinned committee vouches for, or with `Job.security_issues` (simulations)
