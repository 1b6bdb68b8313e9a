# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The scripted world of the challenge tests: a registered model, an unlicensed `pirate` and a licensed `host`."""

from __future__ import annotations

from loyal.contracts import eip712
from loyal.contracts.client import ChallengeItem
from loyal.contracts.demo import stand_in_fingerprints
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.merkle import hash_text
from loyal.contracts.workflow import ChallengePlan, OwnerCommitment, license_host
from loyal.protocols.oml.statistics import to_wad

N, STAKE, CAP = 16, 10**18, 6 * 10**17
P0, FPR = to_wad(0.01), to_wad(1e-6)  # τ(8) = 4
MODEL_HASH = b"\x42" * 32
SALT = b"\x07" * 32


class World:
    """A registered model; `pirate` joined the platform unlicensed, `host` joined and is licensed on 0..7."""

    def __init__(self, env):
        self.env, self.registry, self.chain = env, env.registry, env.chain
        self.commitment = OwnerCommitment.create(stand_in_fingerprints(N), b"owner-secret-0123456789", MODEL_HASH)
        self.model_id, _ = env.registry.register_model(env.owner, MODEL_HASH, self.commitment.tree.root, N, P0, FPR,
                                                       CAP, "uri")
        self.pirate, self.host = env.stranger, env.host
        for account, endpoint in ((self.pirate, "pirate"), (self.host, "host")):
            env.registry.join_platform(account, hash_text(endpoint), STAKE)
        self.assigned, self.assignment = self.commitment.subset(list(range(8)))
        offer = LicenseOffer(self.model_id, self.assignment.root, 30 * 86400, env.chain.now() + 3600, 5, 1)
        license_host(env.registry, env.owner, self.host, offer)

    def sign(self, account, fp, output=None, timestamp=None, endpoint=None):
        """`account`'s signed answer to `fp` (default: the committed response, now, its own endpoint)."""
        out = hash_text(fp.response if output is None else output)
        ts = self.chain.now() if timestamp is None else timestamp
        name = {self.pirate.address: "pirate", self.host.address: "host"}.get(account.address, "other")
        endpoint_hash = hash_text(name if endpoint is None else endpoint)
        return out, ts, eip712.sign_response(account, self.registry.domain, fp.key_hash, out, ts, endpoint_hash)

    def commit(self, account, fps):
        plan = ChallengePlan.create(account.address, fps, SALT)
        challenge_id, tx = self.registry.commit_challenge(self.env.owner, self.model_id, len(fps), plan.commitment)
        return plan, challenge_id, tx

    def items(self, plan, answers):
        """Reveal items in plan order; `answers[i]` = (output_hash, timestamp, signature)."""
        return [ChallengeItem(fp, self.commitment.proof(fp), *answer) for fp, answer in zip(plan.fingerprints, answers)]

    def reveal(self, plan, challenge_id, answers, host=None):
        return self.registry.reveal_challenge(self.env.owner, challenge_id, host or plan.host, plan.salt,
                                              self.items(plan, answers))


