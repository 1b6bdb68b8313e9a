# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""CP-Δ, CP-k and k_x (Vyas et al., arXiv 2302.10870, Alg. 1-2; arXiv 2408.13278) against brute-force oracles."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.methods.harness import registry
from loyal.methods.near_access_freeness import maths
from loyal.methods.near_access_freeness.experiment import NafConfig, ShardModels, generate
from loyal.methods.near_access_freeness.ngram import NgramModel

#: Small explicit distributions (2-4 points), named.
PAIRS = {
    "two_point": ([0.9, 0.1], [0.2, 0.8]),
    "three_point": ([0.5, 0.3, 0.2], [0.1, 0.1, 0.8]),
    "four_point_zero": ([0.7, 0.3, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]),
    "identical": ([0.4, 0.6], [0.4, 0.6]),
}

dists = st.integers(2, 4).flatmap(
    lambda n: st.lists(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n), min_size=3, max_size=3)
).map(lambda rows: [np.array(r) / np.sum(r) for r in rows])


@pytest.mark.parametrize("name", PAIRS)
def test_cp_delta_kl_is_the_normalised_geometric_mean(name) -> None:
    q1, q2 = map(np.array, PAIRS[name])
    p = maths.cp_delta_kl(q1, q2)
    brute = [np.sqrt(a * b) for a, b in zip(q1, q2)]
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p, np.array(brute) / sum(brute))


@given(dists)
def test_cp_delta_kl_meets_its_bound_with_equality_in_the_sum(qs) -> None:
    # KL(p‖q1) + KL(p‖q2) = −2 log Z = −2 log(1 − H²), so each KL ≤ the bound (Vyas et al. Sec. 4).
    q1, q2, _ = qs
    p = maths.cp_delta_kl(q1, q2)
    bound = maths.cp_delta_kl_bound(q1, q2)
    assert maths.kl(p, q1) + maths.kl(p, q2) == pytest.approx(bound, abs=1e-10)
    assert maths.naf_k(p, q1, q2, "kl") <= bound + 1e-12


def test_cp_delta_kl_bound_closed_form_on_two_points() -> None:
    # q1 = (a, 1−a), q2 = (b, 1−b): Z = sqrt(ab) + sqrt((1−a)(1−b)).
    a, b = 0.9, 0.2
    Z = np.sqrt(a * b) + np.sqrt((1 - a) * (1 - b))
    assert maths.cp_delta_kl_bound(np.array([a, 1 - a]), np.array([b, 1 - b])) == pytest.approx(-2 * np.log(Z))
    # sqrt(0.18) + sqrt(0.08) = 5·sqrt(0.02) = 1/sqrt(2) exactly, so the bound is log 2.
    assert maths.cp_delta_kl_bound(np.array([a, 1 - a]), np.array([b, 1 - b])) == pytest.approx(np.log(2.0))


@given(dists)
def test_cp_delta_max_is_min_normalised_and_within_its_bound(qs) -> None:
    q1, q2, _ = qs
    p = maths.cp_delta_max(q1, q2)
    np.testing.assert_allclose(p, np.minimum(q1, q2) / np.minimum(q1, q2).sum())
    assert maths.naf_k(p, q1, q2, "max") <= maths.cp_delta_max_bound(q1, q2) + 1e-12
    assert maths.total_variation(q1, q2) == pytest.approx(1 - np.minimum(q1, q2).sum())


def _brute_cp_k_joint(p, q1, q2, k):
    """CP-k over sequences of 2 tokens, enumerated: joint laws from per-step conditionals, then Alg. 2."""
    joint = {}
    for y in itertools.product(range(len(p[0])), repeat=2):
        joint[y] = tuple(m[0][y[0]] * m[1][y[0]][y[1]] for m in (p, q1, q2))
    accepted = {y: v[0] for y, v in joint.items() if v[0] <= np.exp(k) * min(v[1], v[2])}
    nu = sum(accepted.values())
    return {y: accepted.get(y, 0.0) / nu for y in joint}, nu, joint


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_cp_k_matches_brute_force_enumeration_over_sequences(rng) -> None:
    # Prepare: three autoregressive models over 3 tokens × 2 positions, and the 9 sequences enumerated.
    def model():
        first = rng.dirichlet(np.ones(3))
        return first, [rng.dirichlet(np.ones(3)) for _ in range(3)]

    p, q1, q2 = model(), model(), model()
    k = 0.4
    brute, nu_brute, joint = _brute_cp_k_joint(p, q1, q2, k)
    # Execute: the vectorised CP-k on the flattened joint laws.
    order = sorted(joint)
    P, Q1, Q2 = (np.array([joint[y][i] for y in order]) for i in range(3))
    p_k, nu = maths.cp_k(P, Q1, Q2, k)
    # Assert
    assert nu == pytest.approx(nu_brute)
    np.testing.assert_allclose(p_k, [brute[y] for y in order])
    assert maths.naf_k(p_k, Q1, Q2, "max") <= maths.cp_k_bound(nu, k) + 1e-12


def test_cp_k_rejection_sampler_frequencies_match_the_output_law() -> None:
    p, q1, q2 = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.4, 0.4]), np.array([0.3, 0.3, 0.4])
    k = 0.5  # accepts y=1, y=2 (0.3 ≤ e^0.5·0.3, 0.1 ≤ e^0.5·0.4), rejects y=0 (0.6 > e^0.5·0.2)
    p_k, nu = maths.cp_k(p, q1, q2, k)
    np.testing.assert_allclose(p_k, [0.0, 0.75, 0.25])
    assert nu == pytest.approx(0.4)
    rng = np.random.default_rng(1)
    draws = [maths.cp_k_sample(p, q1, q2, k, rng) for _ in range(4000)]
    freq = np.bincount([y for y, _ in draws], minlength=3) / len(draws)
    np.testing.assert_allclose(freq, p_k, atol=0.03)  # 4 s.e. of a 0.25 frequency over 4000 draws
    assert np.mean([t for _, t in draws]) == pytest.approx(1 / nu, rel=0.05)  # geometric number of tries


@given(dists)
def test_k_of_a_model_against_itself_is_zero(qs) -> None:
    q, _, _ = qs
    assert maths.naf_k(q, q, q, "kl") == pytest.approx(0.0, abs=1e-12)
    assert maths.naf_k(q, q, q, "max") == pytest.approx(0.0, abs=1e-12)
    assert maths.cp_delta_kl_bound(q, q) == pytest.approx(0.0, abs=1e-12)


@given(dists, st.floats(0.0, 3.0), st.floats(0.0, 3.0))
def test_cp_k_acceptance_grows_with_k(qs, k_low, k_extra) -> None:
    p, q1, q2 = qs
    _, nu_low = maths.cp_k(p, q1, q2, k_low)
    _, nu_high = maths.cp_k(p, q1, q2, k_low + k_extra)
    assert nu_high >= nu_low


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_bounds_grow_as_the_shard_models_move_apart(t_low, t_extra) -> None:
    # Mixing q2 toward q1 by weight t shrinks H² and TV monotonically, so both bounds shrink.
    q1, q2 = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    near, far = (q1 + (1 - min(t, 1.0)) * (q2 - q1) for t in (t_low + t_extra, t_low))
    assert maths.cp_delta_kl_bound(q1, near) <= maths.cp_delta_kl_bound(q1, far) + 1e-12
    assert maths.cp_delta_max_bound(q1, near) <= maths.cp_delta_max_bound(q1, far) + 1e-12


def test_sequence_log_ratio_sums_positions() -> None:
    assert maths.sequence_log_ratio(np.array([0.5, 0.2]), np.array([0.25, 0.4])) == pytest.approx(np.log(2) + np.log(0.5))


def test_cp_delta_fails_if_supports_are_disjoint() -> None:
    with pytest.raises(ValueError, match=r"disjoint supports: CP-Δ \(KL\) is undefined"):
        maths.cp_delta_kl(np.array([1.0, 0.0]), np.array([0.0, 1.0]))


def test_cp_k_fails_if_k_negative() -> None:
    with pytest.raises(ValueError, match="k must be >= 0, got -1"):
        maths.cp_k(np.array([0.5, 0.5]), np.array([0.5, 0.5]), np.array([0.5, 0.5]), -1)


def test_cp_delta_fails_if_not_a_distribution() -> None:
    with pytest.raises(ValueError, match="q1 must be non-negative and sum to 1"):
        maths.cp_delta_kl(np.array([0.5, 0.6]), np.array([0.5, 0.5]))


def test_ngram_witten_bell_matches_hand_count() -> None:
    # "012012013": after "01" came 2, 2, 3 -> c = (0, 0, 2, 1), T = 2; P_1 after "1": c = (0, 0, 2, 1), T = 2;
    # P_0 = (c + 1)/(N + V) = (4, 4, 3, 2)/13.
    m = NgramModel.fit(np.array([0, 1, 2, 0, 1, 2, 0, 1, 3]), 3, 4)
    p0 = np.array([4, 4, 3, 2]) / 13
    p1 = (np.array([0, 0, 2, 1]) + 2 * p0) / 5
    p2 = (np.array([0, 0, 2, 1]) + 2 * p1) / 5
    np.testing.assert_allclose(m.probs(np.array([[0, 1]]))[0], p2)
    np.testing.assert_allclose(m.probs(np.array([[3, 3]]))[0], p0)  # unseen context backs off to P_0


def test_generate_k_of_single_models_against_themselves_is_zero() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, 2000)
    q = NgramModel.fit(ids, 3, 5)
    out = generate(ShardModels(q, q, q), ids[None, :10].repeat(4, 0), "cp_delta_kl", 20, 1.0, rng)
    np.testing.assert_allclose(out["k_max"], 0.0, atol=1e-9)
    np.testing.assert_allclose(out["k_bound"], 0.0, atol=1e-9)


def test_config_fails_if_prompt_shorter_than_context() -> None:
    with pytest.raises(ValueError, match="prompt_len is out of range"):
        NafConfig(order=8, prompt_len=5)


def test_tiny_run_writes_result_and_pngs(tmp_path, monkeypatch) -> None:
    # Registers the method for this test only (the registry entry belongs to methods/harness/registry.py).
    monkeypatch.setitem(registry.METHODS, "near_access_freeness", "loyal.methods.near_access_freeness.experiment")
    from loyal.methods.harness import load_config, run_method
    from loyal.methods.near_access_freeness import experiment

    monkeypatch.setattr(experiment, "dp_equivalent", lambda eps, config, group: {"epsilon_item": eps, "group_size": group})
    config = load_config(NafConfig, None, {
        "seeds": 1, "order": 4, "shard_chars": 20_000, "heldout_chars": 2_000, "prompts": 4, "prompt_len": 10,
        "gen_len": 10, "passage_len": 40, "samples_per_passage": 2,
    })
    result, run_dir = run_method("near_access_freeness", config, out=tmp_path, quick=True)
    saved = json.loads((run_dir / "result.json").read_text())
    assert sorted(saved["figures"]) == ["k_x_hist.png", "quality_vs_k.png"]
    assert all((run_dir / f).stat().st_size > 0 for f in saved["figures"])
    algs = saved["metrics"]["algorithms"]
    assert set(algs) == {"q1", "q2", "full", "cp_delta_kl", "cp_delta_max", "cp_k"}
    # Per position KL(p‖q_i) ≤ −2 log Z and log p/q_i ≤ −log(1 − TV) or k + log 1/ν, so the sums obey them too.
    assert algs["cp_delta_kl"]["k_kl_mean"] <= algs["cp_delta_kl"]["k_bound_mean"] + 1e-9
    for name in ("cp_delta_max", "cp_k"):
        assert algs[name]["k_max_mean"] <= algs[name]["k_bound_mean"] + 1e-9
    assert algs["q1"]["k_bound_mean"] == 0.0
