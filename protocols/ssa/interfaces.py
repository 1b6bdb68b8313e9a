# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Role interfaces (typing.Protocols), as Willow's `willow/src/traits/{client,server,decryptor,verifier}.rs`.

The server and simulation layers depend on these, not on the concrete classes.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.messages import LogHeader, Release, ReleaseRequest
from loyal.protocols.ssa.policy import ReleaseRow


class Client(Protocol):
    def create_contribution(
        self, update: np.ndarray, *, round_index: int, client_id: int, public_key_hat: np.ndarray,
        prng: AesCtrPrng | None = None,
    ) -> bytes: ...


class Server(Protocol):
    def create_state(self, public_key_hat: np.ndarray) -> Any: ...
    def handle_client_contribution(self, state: Any, data: bytes) -> Any: ...
    def handle_noise_contribution(self, state: Any, data: bytes) -> Any: ...
    def close_round(self, state: Any) -> Any: ...
    def compact(self, state: Any) -> Any: ...
    def create_release_request(self, state: Any, row: ReleaseRow, subset: tuple[int, ...] | None = None) -> ReleaseRequest: ...
    def handle_partial_decryption(self, state: Any, data: bytes) -> Any: ...
    def recover_release(self, state: Any, rid: bytes) -> tuple[Any, Release]: ...


class CommitteeMember(Protocol):
    def create_noise_contribution(self, round_index: int, public_key_hat: np.ndarray, prng: AesCtrPrng) -> bytes: ...
    def handle_release_request(
        self, state: Any, request: ReleaseRequest, trusted_head: bytes, prng: AesCtrPrng | None = None
    ) -> tuple[Any, bytes]: ...


class Verifier(Protocol):
    def verify_log(self, headers: tuple[LogHeader, ...], published_head: bytes) -> None: ...
    def verify_releases(self, releases: list[Release], num_rounds: int) -> None: ...
