# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Per-round aggregate snapshots: what `SsaServer.close_round` appended to the log, as bytes for the
store, and back — checked against the hash-chained log before the server trusts them.

A restart then costs O(rounds) (one header, two AHE sums and, inside the policy window, two KAHE
sums per round) instead of O(uploads). Every snapshot is verified: the headers must chain from the
job genesis (`ssa.log.verify_chain`) and each stored sum must hash to its header's digest, so a
corrupted or swapped row is refused (`LogIntegrityError`), never decrypted.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from loyal.protocols.proto.convert import residues_to_bytes
from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.messages import LogHeader, Release, RoundAggregate


def header_to_json(h: LogHeader) -> str:
    return json.dumps({k: (v.hex() if isinstance(v, bytes) else v) for k, v in dataclasses.asdict(h).items()}, sort_keys=True)


def header_from_json(text: str) -> LogHeader:
    d = json.loads(text)
    return LogHeader(**{k: (bytes.fromhex(v) if isinstance(v, str) else int(v)) for k, v in d.items()})


def encode(agg: RoundAggregate) -> tuple[str, bytes, bytes, bytes, bytes]:
    """(header JSON, data AHE, noise AHE, data KAHE, noise KAHE) as little-endian uint32 residues."""
    if agg.compacted:
        raise ValueError(f"round {agg.header.round_index} is compacted; snapshot it when it is stored")
    ahe = [residues_to_bytes(np.stack([c.c0_hat, c.c1_hat])) for c in (agg.data_ahe, agg.noise_ahe)]
    kahe = [residues_to_bytes(c.b_hat) for c in (agg.data_kahe, agg.noise_kahe)]
    return header_to_json(agg.header), ahe[0], ahe[1], kahe[0], kahe[1]


def _array(data: bytes, shape: tuple[int, ...], q: np.ndarray, name: str) -> np.ndarray:
    if len(data) != 4 * int(np.prod(shape)):
        raise LogIntegrityError(f"snapshot {name} has {len(data)} bytes, expected {4 * int(np.prod(shape))} for shape {shape}")
    a = np.frombuffer(data, dtype="<u4").reshape(shape).astype(np.int64)
    if (a >= q).any():
        raise LogIntegrityError(f"snapshot {name} has residues outside [0, q)")
    return a


def decode(
    config: SsaConfig, header: str, data_ahe: bytes, noise_ahe: bytes, data_kahe: bytes | None, noise_kahe: bytes | None,
) -> RoundAggregate:
    """A stored round back as a `RoundAggregate` (KAHE None when compacted), digests checked.

    Raises:
      LogIntegrityError: a sum does not hash to its header's digest, or has the wrong shape.
    """
    h = header_from_json(header)
    a, k = config.ahe.ring, config.kahe.ring
    ahe = []
    for name, blob, digest in (("data AHE", data_ahe, h.data_ahe_digest), ("noise AHE", noise_ahe, h.noise_ahe_digest)):
        arr = _array(blob, (2, a.num_moduli, a.degree), a.q[None], f"{name} of round {h.round_index}")
        ct = AheCiphertext(arr[0], arr[1])
        if ssalog.digest_ahe(ct) != digest:
            raise LogIntegrityError(f"snapshot {name} of round {h.round_index} does not match its log digest")
        ahe.append(ct)
    kahe: list[KaheCiphertext | None] = [None, None]
    if data_kahe is not None and noise_kahe is not None:
        shape = (config.num_polys, k.num_moduli, k.degree)
        for i, (name, blob, digest) in enumerate(
            (("data KAHE", data_kahe, h.data_kahe_digest), ("noise KAHE", noise_kahe, h.noise_kahe_digest))
        ):
            ct = KaheCiphertext(_array(blob, shape, k.q[None], f"{name} of round {h.round_index}"))
            if ssalog.digest_kahe(ct) != digest:
                raise LogIntegrityError(f"snapshot {name} of round {h.round_index} does not match its log digest")
            kahe[i] = ct
    return RoundAggregate(h, kahe[0], kahe[1], ahe[0], ahe[1])


def check_chain(log: list[RoundAggregate], genesis: bytes) -> bytes:
    """Verifies the snapshots' headers chain from `genesis`; returns the head."""
    headers = tuple(e.header for e in log)
    head = headers[-1].entry_hash if headers else genesis
    ssalog.verify_chain(headers, genesis, head)
    return head


# ---- published releases ----------------------------------------------------------------------
def release_to_store(rel: Release) -> tuple[str, bytes, bytes]:
    meta = json.dumps({"policy_id": rel.policy_id, "data": sorted(rel.data.items()), "noise": sorted(rel.noise.items())})
    return (meta, np.ascontiguousarray(rel.integer_values, dtype="<i8").tobytes(),
            np.ascontiguousarray(rel.values, dtype="<f8").tobytes())


def release_from_store(row: tuple[bytes, str, bytes, bytes], digests: dict[bytes, bytes], round_index: int) -> Release:
    """A published release from the store; its integers must hash to the digest stored with it."""
    rid, meta, ints, values = row
    m = json.loads(meta)
    rel = Release(rid, m["policy_id"], round_index, dict(map(tuple, m["data"])), dict(map(tuple, m["noise"])),
                  np.frombuffer(ints, dtype="<i8").copy(), np.frombuffer(values, dtype="<f8").copy())
    if digests.get(rid) != release_digest(rel):
        raise LogIntegrityError(f"stored release {rid.hex()[:16]}… does not match its digest")
    return rel


def release_digest(rel: Release) -> bytes:
    return ssalog.release_digest(rel.integer_values)
