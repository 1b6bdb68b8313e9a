# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Fingerprint schema, burnt-fingerprint ledger and per-host assignment."""

import numpy as np
import pytest

from loyal.protocols.oml.assignment import (
    assign_hosts, detection_rate, false_accusations, identify_hosts,
)
from loyal.protocols.oml.fingerprints import (
    Fingerprint, TokenizerMismatchError, check_tokenizer, parse_fingerprints,
)
from loyal.protocols.oml.ledger import BurntLedger, FingerprintSpentError, choose_queries, spend


def _fp(i: int, tok: str = "abc") -> Fingerprint:
    return Fingerprint(index=i, kind="perinucleus", key_ids=(1, 2, 3), response_ids=(4,), tokenizer=tok,
                       key=f"k{i}", response="r")


def test_fingerprint_jsonl_round_trip():
    fps = [_fp(0), _fp(5)]
    assert parse_fingerprints([f.to_json() for f in fps]) == tuple(fps)
    assert "key_ids" not in repr(fps[0])  # secrets stay out of repr


@pytest.mark.parametrize(
    ("lines", "message"),
    [([], "fingerprint file is empty"), (["", "  "], "fingerprint file is empty"),
     (["{not json"], ":1: not valid JSON"), (['{"index": 0}'], ":1: missing field"),
     ([_fp(0).to_json(), _fp(0).to_json()], "duplicate fingerprint index 0"),
     ([_fp(0).to_json(), _fp(1).to_json().replace('"key": "k1"', '"key": "k0"')],
      r"f.jsonl: fingerprints 0 and 1 repeat the same key"),
     ([_fp(0).to_json(), _fp(1, "xyz").to_json()], "different tokenizers"),
     ([_fp(0).to_json().replace('"response_ids": [4]', '"response_ids": []')], "response_ids must be a non-empty")],
)
def test_parse_fingerprints_fails_if_malformed(lines, message):
    with pytest.raises(ValueError, match=message):
        parse_fingerprints(lines, source="f.jsonl")


def test_check_tokenizer_fails_if_mismatched():
    with pytest.raises(TokenizerMismatchError, match="mismatched tokenizer: fingerprints were generated"):
        check_tokenizer([_fp(0)], "other-digest", vocab_size=10)
    with pytest.raises(TokenizerMismatchError, match="token id 4 ≥ model vocabulary size 4"):
        check_tokenizer([_fp(0)], "abc", vocab_size=4)
    check_tokenizer([_fp(0)], "abc", vocab_size=10)


def test_ledger_spends_once_and_round_trips():
    ledger = spend(BurntLedger(total=10), [1, 2])
    assert ledger.remaining == 8 and ledger.unspent().tolist() == [0, 3, 4, 5, 6, 7, 8, 9]
    assert BurntLedger.from_dict(ledger.to_dict()) == ledger
    with pytest.raises(FingerprintSpentError, match=r"already spent: \[2\]"):
        spend(ledger, [2, 3])
    with pytest.raises(FingerprintSpentError, match=r"already spent: \[5\]"):
        spend(ledger, [5, 5])
    queries = choose_queries(ledger, 8, np.random.default_rng(0))
    assert set(queries.tolist()) == {0, 3, 4, 5, 6, 7, 8, 9}
    with pytest.raises(ValueError, match=r"num must be in \[1, 8\]"):
        choose_queries(ledger, 9, np.random.default_rng(0))


def test_assignment_identifies_leaking_host_only():
    rng = np.random.default_rng(0)
    assignment = assign_hosts(400, [f"h{i}" for i in range(8)], 50, rng)
    assert all(len(s) == 50 == len(set(s)) for s in assignment.subsets.values())
    leaked = set(assignment.subsets["h3"])
    noise = set(rng.choice(400, size=4, replace=False).tolist())  # a few chance matches
    verdicts = identify_hosts(assignment, leaked | noise, p0=0.02, target_fpr=1e-4)
    assert detection_rate(verdicts, ["h3"]) == 1.0
    assert false_accusations(verdicts, ["h3"]) == 0
    # Counting shared fingerprints too accuses innocent hosts that overlap with h3: why exclusive is the default.
    shared = identify_hosts(assignment, leaked | noise, p0=0.02, target_fpr=1e-4, exclusive=False)
    assert false_accusations(shared, ["h3"]) > 0


def test_assign_hosts_fails_if_subset_too_large():
    with pytest.raises(ValueError, match=r"per_host must be in \[1, total=5\], got 6"):
        assign_hosts(5, ["a"], 6, np.random.default_rng(0))
