# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A committee member (Willow's decryptor, `willow/src/willow_v1/decryptor.rs`): key generation,
noise shares, policy-checked partial decryption of key combinations only, and hand-off.

A member never trusts a K* from the server: it checks the log chain against the trusted head,
checks the AHE sums of every touched round against their log digests, checks the row against the
published policy, and recomputes K* = sum_t c_t·K_t itself (design note ssa.md, "Threat model").
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from loyal.protocols.rlwe.ahe import KeyGenContribution, SecretShare
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.client import create_noise_contribution
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import LogIntegrityError, PolicyViolationError, ProtocolStateError
from loyal.protocols.ssa.messages import PartialDecryption, ReleaseRequest, serialize_partial
from loyal.protocols.ssa.policy import ReleasePolicy, quantized_rows
from loyal.protocols.ssa.server import key_combination, request_id


@dataclasses.dataclass
class MemberState:
    """A member's private state: its Shamir share and the requests it answered."""

    share: SecretShare | None = dataclasses.field(default=None, repr=False)
    answered: dict[tuple, tuple[int, ...]] = dataclasses.field(default_factory=dict)


def smudging_prng(share: SecretShare, row: tuple) -> AesCtrPrng:
    """The smudging stream of one row: AES-CTR keyed by SHA-256(share | row), secret because the share is.

    Deterministic per (member, row, subset), so no number of repeated requests gives the server more
    than one smudged view (issue: "a repeated request under a new head draws fresh smudging").
    """
    h = hashlib.sha256(b"loyal/ssa/smudging/v1")
    h.update(np.ascontiguousarray(share.share_hat, dtype="<i8").tobytes())
    h.update(repr(row).encode())
    return AesCtrPrng(h.digest(), b"loyal/ssa/smudging")


class SsaCommitteeMember:
    """Committee member `index` for one job.

    Args:
      config: job configuration.
      index: this member's Shamir evaluation point (in config.committee, or a new committee's).
      policy: the published release policy the member enforces.
    """

    def __init__(self, config: SsaConfig, index: int, policy: ReleasePolicy) -> None:
        if index < 1:
            raise ValueError(f"index must be >= 1, got {index}")
        self.config = config
        self.index = index
        self.policy = policy

    # ---- key generation / hand-off -----------------------------------------------------------
    def create_keygen_contribution(self, prng: AesCtrPrng) -> KeyGenContribution:
        return self.config.ahe.create_keygen_contribution(
            self.index, self.config.committee, self.config.threshold, prng
        )

    def handle_keygen(self, state: MemberState, contributions: list[KeyGenContribution]) -> MemberState:
        """Sums the shares every dealer sent this member."""
        if len(contributions) != len(self.config.committee):
            raise ProtocolStateError(
                f"key generation needs one contribution per member ({len(self.config.committee)}), got {len(contributions)}"
            )
        state.share = self.config.ahe.combine_secret_share(self.index, contributions)
        return state

    def create_handoff(
        self, state: MemberState, subset: tuple[int, ...], new_committee: tuple[int, ...], new_threshold: int,
        prng: AesCtrPrng,
    ) -> dict[int, np.ndarray]:
        """Sub-shares of this member's share for the incoming committee; then forget the share."""
        share = self._share(state)
        out = self.config.ahe.create_reshare(share, subset, new_committee, new_threshold, prng)
        state.share = None  # the outgoing member never needs to return
        return out

    def handle_handoff(self, state: MemberState, subshares: list[np.ndarray], old_threshold: int) -> MemberState:
        state.share = self.config.ahe.combine_reshare(self.index, subshares, old_threshold)
        return state

    # ---- noise -------------------------------------------------------------------------------
    def create_noise_contribution(self, round_index: int, public_key_hat: np.ndarray, prng: AesCtrPrng) -> bytes:
        return create_noise_contribution(
            self.config, round_index=round_index, member_index=self.index, public_key_hat=public_key_hat, prng=prng
        )

    # ---- release -----------------------------------------------------------------------------
    def check_request(self, request: ReleaseRequest, trusted_head: bytes) -> None:
        """All checks a member runs before decrypting; raises on the first failure."""
        cfg = self.config
        ssalog.verify_chain(request.headers, cfg.genesis, trusted_head)
        expect = request_id(
            request.policy_id, request.round_index, request.data, request.noise, request.scale_bits,
            request.subset, trusted_head,
        )
        if expect != request.request_id:
            raise LogIntegrityError("request_id does not match the request's contents")
        if request.policy_id != self.policy.policy_id or request.scale_bits != self.policy.scale_bits:
            raise PolicyViolationError(
                f"request for policy {request.policy_id!r}/scale {request.scale_bits}, member enforces "
                f"{self.policy.policy_id!r}/scale {self.policy.scale_bits}"
            )
        if request.round_index >= len(request.headers):
            raise PolicyViolationError(f"row for round {request.round_index} not yet stored ({len(request.headers)} rounds)")
        allowed = [(r.data, r.noise) for r in quantized_rows(self.policy, request.round_index)]
        if (request.data, request.noise) not in allowed:
            raise PolicyViolationError(
                f"row data={request.data} noise={request.noise} is not a row the policy "
                f"{self.policy.policy_id!r} allows after round {request.round_index}"
            )
        if self.index not in request.subset or len(set(request.subset)) < cfg.threshold:
            raise PolicyViolationError(f"subset {request.subset} must include member {self.index} and >= t members")
        if not set(request.subset) <= set(cfg.committee):
            raise PolicyViolationError(f"subset {request.subset} names members outside the committee {cfg.committee}")
        touched = set(request.data) | set(request.noise)
        if set(request.ahe_entries) != touched:
            raise LogIntegrityError(f"request carries AHE sums for rounds {sorted(request.ahe_entries)}, row touches {sorted(touched)}")
        for r in touched:
            d, z = request.ahe_entries[r]
            h = request.headers[r]
            if ssalog.digest_ahe(d) != h.data_ahe_digest or ssalog.digest_ahe(z) != h.noise_ahe_digest:
                raise LogIntegrityError(f"AHE sums for round {r} do not match the log")

    def handle_release_request(self, state: MemberState, request: ReleaseRequest, trusted_head: bytes) -> tuple[MemberState, bytes]:
        """Checks the request, recomputes K*, and returns the framed smudged partial decryption.

        The smudging is derived from this member's share and the row (`smudging_prng`): a row asked again
        (a reissue, or the same row under a later head) gets the identical partial, never a fresh view.

        Raises:
          LogIntegrityError: the log or the AHE sums do not match the trusted head.
          PolicyViolationError: the row is not allowed, or this row was already answered for another subset.
        """
        share = self._share(state)
        self.check_request(request, trusted_head)
        row_key = (request.policy_id, request.round_index, tuple(sorted(request.data.items())), tuple(sorted(request.noise.items())))
        previous = state.answered.get(row_key)
        if previous is not None and previous != request.subset:
            # Two partials of the same K* for different subsets would give the server two
            # independently smudged views of this member's share; refuse (reissues keep the subset).
            raise PolicyViolationError(f"row already answered for subset {previous}, refusing subset {request.subset}")
        k_ct = key_combination(self.config, request)
        d = self.config.ahe.partial_decrypt(share, k_ct, request.subset, smudging_prng(share, (*row_key, request.subset)))
        state.answered[row_key] = request.subset
        part = PartialDecryption(request.request_id, self.index, d)
        return state, serialize_partial(part, self.config.job_id, request.round_index)

    def _share(self, state: MemberState) -> SecretShare:
        if state.share is None:
            raise ProtocolStateError(f"member {self.index} holds no key share (key generation or hand-off missing)")
        return state.share
