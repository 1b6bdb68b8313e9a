# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The ephemeral SSA client: clip, encode, KAHE-encrypt, AHE-encrypt the key, upload once, leave.

Mirrors `willow/src/willow_v1/client.rs` (`create_client_message`).
"""

from __future__ import annotations

import numpy as np

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.sampling import discrete_gaussian
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.messages import ClientContribution, NoiseContribution, serialize_contribution


def encrypt_vector(
    config: SsaConfig, values: np.ndarray, public_key_hat: np.ndarray, prng: AesCtrPrng
) -> tuple[KaheCiphertext, AheCiphertext]:
    """KAHE-encrypts an integer vector under a fresh key and AHE-encrypts the key: (kahe_ct, ahe_ct).

    Residues come out as uint32, the wire form (`messages.py`): the frame uses them as they are and
    the client never holds an int64 copy (1.7 MB for d = 10^5).
    """
    k, key = config.kahe.create_key(prng)
    kahe_ct = config.kahe.encrypt(key, values, prng, dtype=np.uint32)
    ahe_ct = config.ahe.encrypt(public_key_hat, k, prng, dtype=np.uint32)
    return kahe_ct, ahe_ct


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
        kahe_ct, ahe_ct = encrypt_vector(self.config, self.config.encoder.encode(v, prng), public_key_hat, prng)
        msg = ClientContribution(round_index, client_id, kahe_ct, ahe_ct)
        return serialize_contribution(msg, self.config.job_id)


def create_noise_contribution(
    config: SsaConfig, *, round_index: int, member_index: int, public_key_hat: np.ndarray, prng: AesCtrPrng
) -> bytes:
    """A committee member's noise share: discrete Gaussian z with sigma_m = z·C·s/sqrt(h), encrypted
    exactly like a client update (design note ssa.md, "Where the DP noise comes from")."""
    z = discrete_gaussian(prng, config.member_noise_sigma, (config.dim,))
    kahe_ct, ahe_ct = encrypt_vector(config, z, public_key_hat, prng)
    return serialize_contribution(NoiseContribution(round_index, member_index, kahe_ct, ahe_ct), config.job_id)
