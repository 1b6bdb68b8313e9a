# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Committee enrollment a malicious server cannot pack or bend (issue 14, deliverable 4).

- **Member keys are pinned.** `Job.member_keys` lists the Ed25519 key of every member id and is hashed into the
  genesis; the server refuses a join under any other key, and every party checks member signatures
  against the pinned key, never against a key the server relays (`member_key`).
- **Exchange keys are authenticated.** A member's X25519 key travels with its join signature; a peer
  seals Shamir shares only to exchange keys signed by the pinned member key (`verify_join`).
- **Commit, then reveal.** Dealer j first publishes a signed commitment to its public-key part b_j
  (`commitment`) and reveals b_j only once it holds every dealer's signed commitment: a rushing dealer
  that sees the others' parts first could choose b_j = b* - sum_i b_i for a b* whose secret it knows
  and read every client key (Gennaro et al., "Secure distributed key generation for discrete-log
  based cryptosystems", J. Cryptology 2007, §3, the same bias attack on Pedersen's DKG).
- **Members sign the committee key.** Each member checks every revealed part against the commitment it
  saw and signs b = sum_j b_j (`key_message`); a client encrypts only under a key that t pinned members
  signed (`verify_committee_key`): fewer than t members are malicious, so one signer is honest, its
  own fresh b_i is in b, and no coalition of the others knows the secret of b.
What this does not give: verifiable secret sharing. A malicious dealer can deal shares inconsistent with
its b_j; decryption then fails (denial of service, detected), it does not leak.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from loyal.protocols.proto.convert import member_message
from loyal.protocols.ssa.errors import AuthenticationError
from loyal.protocols.ssa.job import Job


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Raises AuthenticationError unless `signature` is an Ed25519 signature of `message` under `public_key`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise AuthenticationError("signature does not verify under the sender's enrolled Ed25519 key") from None


def member_key(job: Job, member_id: int, relayed: bytes | None = None) -> bytes:
    """The key `member_id`'s signatures must verify under: the pinned one, else (unpinned, insecure
    jobs only) the key the server relayed.

    Raises:
      AuthenticationError: the relayed key differs from the pinned one, or an unpinned job relayed none.
    """
    pinned = job.member_key(member_id)
    if pinned is not None:
        if relayed is not None and relayed != pinned:
            raise AuthenticationError(f"member {member_id} is pinned to key {pinned.hex()[:16]}…, not {relayed.hex()[:16]}…")
        return pinned
    if relayed is None:
        raise AuthenticationError(f"member {member_id} has no pinned key and none was relayed")
    return relayed


def join_message(job: Job, member_id: int, exchange_key: bytes) -> bytes:
    return member_message("join", member_id, job.job_id, exchange_key)


def verify_join(job: Job, member_id: int, signing_key: bytes | None, exchange_key: bytes, signature: bytes) -> None:
    """Raises AuthenticationError unless the member's pinned key signed this exchange key for this job."""
    if len(exchange_key) != 32:
        raise AuthenticationError(f"member {member_id}'s exchange key must be 32 bytes, got {len(exchange_key)}")
    verify_signature(member_key(job, member_id, signing_key), signature, join_message(job, member_id, exchange_key))


def commitment(job: Job, dealer: int, public_part: bytes) -> bytes:
    """SHA-256 commitment to dealer `dealer`'s public-key part b_j (uint32 residues), bound to the job."""
    h = hashlib.sha256(b"loyal/ssa/keygen-commitment/v1")
    h.update(job.genesis)
    h.update(dealer.to_bytes(4, "little"))
    h.update(public_part)
    return h.digest()


def commitment_message(job: Job, dealer: int, digest: bytes) -> bytes:
    return member_message("keygen-commit", dealer, job.job_id, digest)


def verify_reveal(job: Job, dealer: int, public_part: bytes, committed: bytes) -> None:
    """Raises AuthenticationError unless `public_part` opens the commitment the member saw before revealing."""
    if commitment(job, dealer, public_part) != committed:
        raise AuthenticationError(f"dealer {dealer}'s public-key part does not open the commitment it signed")


def key_digest(public_key_hat: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(public_key_hat, dtype="<u4").tobytes()).digest()


def key_message(job: Job, member_id: int, public_key_hat: np.ndarray) -> bytes:
    """What member `member_id` signs for the committee public key: genesis and the key's digest."""
    return member_message("committee-key", member_id, job.job_id, job.genesis, key_digest(public_key_hat))


def verify_committee_key(
    job: Job, public_key_hat: np.ndarray, signatures: Mapping[int, bytes], relayed_keys: Mapping[int, bytes] | None = None,
) -> tuple[int, ...]:
    """Checks that at least t key-generation members signed `public_key_hat`; returns the signers.

    Args:
      relayed_keys: the server's member keys; used only for an unpinned (insecure) job.

    Raises:
      AuthenticationError: fewer than t valid signatures from distinct members of epoch 0.
    """
    members, t = job.committee(0)
    valid = []
    for m, sig in sorted(signatures.items()):
        if m not in members:
            continue
        try:
            verify_signature(member_key(job, m, (relayed_keys or {}).get(m)), sig, key_message(job, m, public_key_hat))
        except AuthenticationError:
            continue
        valid.append(m)
    if len(valid) < t:
        raise AuthenticationError(
            f"the committee public key carries {len(valid)} valid member signatures, needs t={t}: "
            "refusing to encrypt under a key the committee did not sign"
        )
    return tuple(valid)


__all__ = [
    "commitment", "commitment_message", "join_message", "key_digest", "key_message", "member_key",
    "verify_committee_key", "verify_join", "verify_reveal", "verify_signature",
]
