# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL release policies on the wire: a banded-Toeplitz policy committed into the job genesis,
releases equal to the pure protocol, compaction of rounds before the policy window in the SQLite
store (and a restart after it), members refusing rows outside the policy, and digest pinning."""

from __future__ import annotations

import dataclasses

import argparse
import time

import numpy as np
import pytest

from loyal.cli import _job as job_cli
from loyal.client.constants import Key
from loyal.client.runner import run_client
from loyal.protocols.proto import policies
from loyal.protocols.ssa.errors import PolicyViolationError
from loyal.protocols.ssa.policy import ReleaseRow
from loyal.protocols.ssa.rounds import RoundStage
from tests.server.harness import (
    InProcessServer,
    client_seed,
    make_spec,
    member_threads,
    reference_releases,
    tokens,
    update_for,
)
from tests.server.test_grpc_server import _releases, _run_rounds

CLIENTS = 3
# b = 2 bands, encoded form: release t = (C x)_t + sens·z_t touches rounds t-1 and t, so window_start(t) = t - 1.
BANDED = policies.canonical_policy_spec({
    "mechanism": "banded-toeplitz", "steps": 4, "participations": 2, "min_separation": 2, "bands": 2,
    "form": "encoded", "scale_bits": 10,
})


def _stored(srv) -> dict[str, set[int]]:
    db = srv.coord.store.db
    return {t: {r for (r,) in db.execute(f"SELECT DISTINCT round FROM {t}")}
            for t in ("submissions", "kahe_snapshots", "log_entries")}


def test_banded_policy_releases_equal_pure_protocol_across_compaction_and_restart(tmp_path):
    # Prepare
    spec = make_spec(clients=CLIENTS, noise=0.5, rounds=4, policy_spec=BANDED)
    db = str(tmp_path / "s.db")
    policy = spec.policy
    assert [policy.window_start(t) for t in range(4)] == [0, 0, 1, 2]
    # Execute: rounds 0-2, a clean restart on the same store and port, then round 3.
    with InProcessServer(db, spec, toks=tokens(4 * CLIENTS)) as srv:
        port = srv.port
        with member_threads(srv.address, 3) as results:
            _run_rounds(srv.address, 3)
            while len(srv.coord.releases) < 3:
                time.sleep(0.05)
            before = _stored(srv)
            srv.__exit__(None, None, None)
            with InProcessServer(db, None, port=port) as srv2:
                restored = _stored(srv2)
                stored_rounds = srv2.coord.status()["stored_rounds"]
                compacted = [e.compacted for e in srv2.coord.state.core.log]
                for c in range(CLIENTS):
                    run_client(srv2.address, lambda t, c=c: update_for(3, c), insecure=True, token=f"tok-{3 * CLIENTS + c}",
                               round_index=3, insecure_seed=client_seed(3, c))
                while len(results) < 3:
                    time.sleep(0.05)
                got = _releases(srv2.address)
                after = _stored(srv2)
    # Assert: every release (each touching 2 rounds) equals the pure protocol under the same policy.
    assert all(isinstance(v, dict) and v[Key.REFUSALS] == 0 for v in results.values()), results
    want = reference_releases(spec, 4, CLIENTS)
    assert len(got) == 4 and [g.policy_id for g in got] == [policy.policy_id] * 4
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.integer_values, w)
    assert set(got[3].data) == {2, 3} and set(got[3].noise) == {3}
    # Compaction: after round 2's release, round 0's uploads and KAHE sums are gone; headers stay
    # (round 3 is open: it may already hold members' noise shares, hence the intersection).
    for stored in (before, restored):
        assert stored["submissions"] & {0, 1, 2} == {1, 2}
        assert (stored["kahe_snapshots"], stored["log_entries"]) == ({1, 2}, {0, 1, 2})
    assert stored_rounds == 3 and compacted == [True, False, False]
    assert after == {"submissions": {2, 3}, "kahe_snapshots": {2, 3}, "log_entries": {0, 1, 2, 3}}


class _NoNoiseRows:
    """A server that asks for the data part of each row without its noise (outside the policy)."""

    def __init__(self, policy) -> None:
        self.policy, self.policy_id, self.scale_bits = policy, policy.policy_id, policy.scale_bits

    def release_rows(self, round_index: int):
        return tuple(ReleaseRow(r.round_index, r.data, {}) for r in self.policy.release_rows(round_index))

    def window_start(self, round_index: int) -> int:
        return self.policy.window_start(round_index)


def test_members_refuse_rows_outside_the_policy_over_grpc(tmp_path):
    # Prepare: a noisy job whose server tries to release data without noise.
    spec = make_spec(clients=CLIENTS, noise=0.5, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS)) as srv:
        srv.coord.driver.policy = _NoNoiseRows(srv.coord.driver.policy)
        with member_threads(srv.address, 3) as results:
            # Execute
            _run_rounds(srv.address, 1)
            end = time.monotonic() + 30
            while len(srv.coord.store.refusals()) < 2 and time.monotonic() < end:
                time.sleep(0.05)
            refusals = srv.coord.store.refusals()
            releases = list(srv.coord.releases)
            stage = srv.coord.state.stage
            srv.coord.state.stage = RoundStage.DONE  # end the job so the members exit
    # Assert: every member asked refused with the policy reason (a refusal reissues the row at once to
    # the members that have not refused it, so which two refused first depends on timing); nothing was released.
    refusers = {m for _, m, _ in refusals}
    assert len(refusers) >= 2 and refusers <= {1, 2, 3}
    assert all("is not a row the policy 'prefix-sum/v1' allows" in reason for _, _, reason in refusals)
    assert releases == [] and stage == RoundStage.RELEASE_REQUESTED
    assert all(results[m][Key.REFUSALS] >= 1 and results[m][Key.PARTIALS] == 0 for m in refusers)


def test_member_fails_if_the_served_job_differs_from_the_pinned_genesis(tmp_path):
    """The genesis binds every pinned field: a server that changes only the noise (or the policy) is refused."""
    spec = make_spec(clients=CLIENTS, rounds=1)
    published = dataclasses.replace(spec, noise_multiplier=spec.noise_multiplier + 1.0).genesis
    with InProcessServer(str(tmp_path / "s.db"), spec) as srv:
        with member_threads(srv.address, [1], genesis=published) as results:
            pass
    assert isinstance(results[1], PolicyViolationError)
    assert "not the published" in str(results[1])


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"policy": None, "rounds": 4, **{k: None for k in job_cli.POLICY_FLAGS}, **kw})


def test_cli_policy_toml_equals_flags(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text('[policy]\nmechanism = "banded-toeplitz"\nparticipations = 2\nmin_separation = 2\nbands = 2\n'
                    'form = "encoded"\nscale_bits = 10\n')
    assert job_cli.policy_spec_of(_args(policy=str(toml))) == BANDED  # steps default to --rounds
    assert job_cli.policy_spec_of(_args(mechanism="banded-toeplitz", steps=4, participations=2, min_separation=2,
                                         bands=2, form="encoded", scale_bits=10)) == BANDED
    assert job_cli.policy_spec_of(_args()) == ""


@pytest.mark.parametrize(("spec", "match"), [
    ({"mechanism": "banded-toeplitz", "steps": 4, "noise": 1}, r"unknown keys \['noise'\]"),
    ({"steps": 4}, "must name 'mechanism' and 'steps'"),
    ({"mechanism": "tree", "steps": "4"}, "steps must be an integer, got '4'"),
    ("not json", "policy_spec must be JSON"),
])
def test_canonical_policy_spec_fails_if_malformed(spec, match):
    with pytest.raises(ValueError, match=match):
        policies.canonical_policy_spec(spec)


def test_job_coefficient_l1_is_derived_from_the_policy_and_bounds_prefix_sum_jobs():
    # A finite mechanism: the largest quantized row; prefix sum: the rounds (row t has t+1 ones), so a
    # prefix-sum job can never release a row its plaintext space was not sized for.
    banded = make_spec(policy_spec=BANDED, rounds=4)
    assert banded.coefficient_l1 == policies.policy_l1(BANDED) > 1
    assert make_spec(rounds=50).coefficient_l1 == 50
    with pytest.raises(ValueError, match="rounds must be <= the policy's steps=4, got rounds=5"):
        dataclasses.replace(banded, rounds=5)
