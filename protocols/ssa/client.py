# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The ephemeral SSA client: clip, encode, KAHE-encrypt, AHE-encrypt the key, upload once, leave.

Mirrors `willow/src/willow_v1/client.rs` (`create_client_message`).
"""

from __future__ import annotations

import struct

import numpy as np

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.sampling import discrete_gaussian
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.messages import CONTRIBUTIONS, ClientContribution, Kind, serialize_contribution
from loyal.protocols.zk import ahe as zk


#: Fresh AHE encryptions tried before giving up on one whose errors the prover accepts.
_ENCRYPTION_ATTEMPTS = 8


def proof_context(config: SsaConfig, kind: Kind, round_index: int, sender: int) -> bytes:
    """What an upload's proof is bound to (Fiat–Shamir): job genesis, message kind, round and sender,
    so a proof never verifies for another job, round, sender or role (issue 14, deliverable 1)."""
    return b"loyal/ssa/upload-proof/v1" + config.genesis + struct.pack("<BII", int(kind), round_index, sender)


def encrypt_vector(
    config: SsaConfig, values: np.ndarray, public_key_hat: np.ndarray, prng: AesCtrPrng, context: bytes = b"",
) -> tuple[KaheCiphertext, AheCiphertext, bytes]:
    """KAHE-encrypts an integer vector under a fresh key and AHE-encrypts the key; with
    `config.prove_uploads`, also proves the AHE ciphertext well formed under `context`:
    (kahe_ct, ahe_ct, proof or b"").

    Residues come out as uint32, the wire form (`messages.py`): the frame uses them as they are and
    the client never holds an int64 copy (1.7 MB for d = 10^5).
    """
    k, key = config.kahe.create_key(prng)
    kahe_ct = config.kahe.encrypt(key, values, prng, dtype=np.uint32)
    if not config.prove_uploads:
        return kahe_ct, config.ahe.encrypt(public_key_hat, k, prng, dtype=np.uint32), b""
    for _ in range(_ENCRYPTION_ATTEMPTS):
        ahe_ct, witness = config.ahe.encrypt_with_witness(public_key_hat, k, prng, dtype=np.uint32)
        statement = zk.AheStatement.from_ahe(config.ahe, public_key_hat, ahe_ct)
        try:
            return kahe_ct, ahe_ct, zk.prove_encryption(statement, zk.AheWitness(*witness), context=context, prng=prng)
        except ValueError:  # errors above the prover's l2 cap (~1e-3 at N = 1024, ~0 at N >= 4096): fresh ones
            continue
    raise ValueError(f"no encryption within the prover's error bounds in {_ENCRYPTION_ATTEMPTS} attempts")


class SsaClient:
    """Stateless client role (clients are online once; nothing to keep between rounds).

    Args:
      config: the job configuration.
    """

    def __init__(self, config: SsaConfig) -> None:
        self.config = config

    def create_contribution(
        self,
        update: np.ndarray,
        *,
        round_index: int,
        client_id: int,
        public_key_hat: np.ndarray,
        prng: AesCtrPrng | None = None,
    ) -> bytes:
        """Clips and encodes `update` (length d, real), encrypts it, and returns the framed upload.

        Args:
          update: real vector of length config.dim.
          round_index: the open round (the server rejects any other).
          client_id: the client's identifier in this round (duplicates are rejected).
          public_key_hat: the committee's AHE public key (NTT form).
          prng: randomness (default: fresh AES-CTR seeded from os.urandom).
        """
        prng = prng or AesCtrPrng.from_os(b"loyal/ssa/client")
        v = np.asarray(update)
        if v.shape != (self.config.dim,):
            raise ValueError(f"update must have shape ({self.config.dim},), got {v.shape}")
        # The encoded vector is an argument only: freed before the frame is built.
        context = proof_context(self.config, Kind.CLIENT_CONTRIBUTION, round_index, client_id)
        kahe_ct, ahe_ct, proof = encrypt_vector(self.config, self.config.encoder.encode(v, prng), public_key_hat, prng, context)
        msg = ClientContribution(round_index, client_id, kahe_ct, ahe_ct, proof)
        return serialize_contribution(msg, self.config.job_id)


def create_noise_contribution(
    config: SsaConfig, *, round_index: int, member_index: int, public_key_hat: np.ndarray, prng: AesCtrPrng
) -> bytes:
    """A committee member's noise share: discrete Gaussian z with sigma_m = z·C·s/sqrt(h + h_c), encrypted
    exactly like a client update (design note ssa.md, "Where the DP noise comes from")."""
    return _noise_share(config, Kind.NOISE_CONTRIBUTION, round_index, member_index, public_key_hat, prng)


def create_cohort_noise(
    config: SsaConfig, *, round_index: int, client_id: int, public_key_hat: np.ndarray, prng: AesCtrPrng
) -> bytes:
    """A cohort client's noise-only share (issue 15, deliverable 2): the same draw as a member's, framed as
    `CohortNoise` and proven under its own kind, so it can only be added to the round's noise sum."""
    return _noise_share(config, Kind.COHORT_NOISE, round_index, client_id, public_key_hat, prng)


def _noise_share(config: SsaConfig, kind: Kind, round_index: int, sender: int, public_key_hat: np.ndarray,
                 prng: AesCtrPrng) -> bytes:
    z = discrete_gaussian(prng, config.member_noise_sigma, (config.dim,))
    kahe_ct, ahe_ct, proof = encrypt_vector(config, z, public_key_hat, prng, proof_context(config, kind, round_index, sender))
    return serialize_contribution(CONTRIBUTIONS[kind](round_index, sender, kahe_ct, ahe_ct, proof), config.job_id)
