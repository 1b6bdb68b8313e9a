# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The auditor: checks the server's log chain and that every published release is a policy row.

Mirrors the role of `willow/src/willow_v1/verifier.rs` (recompute what the server claims).
"""

from __future__ import annotations

from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import PolicyViolationError
from loyal.protocols.ssa.messages import LogHeader, Release
from loyal.protocols.ssa.policy import ReleasePolicy, quantized_rows


class SsaVerifier:
    """Auditor for one job and policy."""

    def __init__(self, config: SsaConfig, policy: ReleasePolicy) -> None:
        self.config = config
        self.policy = policy

    def verify_log(self, headers: tuple[LogHeader, ...], published_head: bytes) -> None:
        """Raises LogIntegrityError unless the headers chain from genesis to the published head."""
        ssalog.verify_chain(headers, self.config.genesis, published_head)

    def verify_releases(self, releases: list[Release], num_rounds: int) -> None:
        """Raises PolicyViolationError if any release is not an allowed row of a stored round."""
        for rel in releases:
            if rel.policy_id != self.policy.policy_id or rel.round_index >= num_rounds:
                raise PolicyViolationError(f"release {rel.request_id.hex()[:16]}… is outside policy/stored rounds")
            allowed = [(r.data, r.noise) for r in quantized_rows(self.policy, rel.round_index)]
            if (rel.data, rel.noise) not in allowed:
                raise PolicyViolationError(
                    f"release after round {rel.round_index} with data={rel.data} noise={rel.noise} is not a policy row"
                )
