# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Search, sketches, the learned policy and the Lean backend, each against an independent oracle."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.methods.proof_search import lean, policy, search, theorems
from loyal.methods.proof_search.experiment import ProofSearchConfig, arms, run_arm, summarize
from loyal.methods.proof_search.formula import is_tautology, parse
from loyal.methods.proof_search.kernel import Tactic, TacticError, apply_tactic, candidate_tactics, replay, start
from loyal.methods.proof_search.sketch import HOLE, fill_sketch


def _shortest_by_brute_force(thm, max_len: int) -> int | None:
    """Oracle: iterative deepening over every candidate-tactic sequence, no pruning or dedup."""
    def dfs(state, left: int) -> bool:
        if state.is_solved:
            return True
        if left == 0:
            return False
        return any(dfs(apply_tactic(state, t), left - 1) for t in candidate_tactics(state.goals[0]))

    return next((n for n in range(max_len + 1) if dfs(start(thm), n)), None)


@pytest.mark.parametrize("text", ["p & q -> q & p", "(p -> q) -> ~q -> ~p", "p | q -> q | p", "~~~p -> ~p",
                                  "(p -> q -> r) -> (p -> q) -> p -> r"])
def test_bfs_finds_a_shortest_proof(text: str) -> None:
    thm = parse(text)
    found = search.bfs(start(thm), 5000)
    assert replay(thm, found.proof).is_solved
    assert len(found.proof) == _shortest_by_brute_force(thm, 7)


@given(st.integers(0, 10_000))
def test_searchers_never_prove_a_non_tautology(seed: int) -> None:
    bad = theorems.non_theorem(np.random.default_rng(seed))
    assert not is_tautology(bad)  # the truth-table oracle
    for name in search.SEARCHERS:
        assert search.run_searcher(name, start(bad), 200, rng=np.random.default_rng(seed)).proof is None


@given(st.integers(0, 10_000))
def test_every_proof_found_replays_and_its_theorem_is_a_tautology(seed: int) -> None:
    rng = np.random.default_rng(seed)
    f = theorems.random_formula(rng, 3)
    for name in search.SEARCHERS:
        found = search.run_searcher(name, start(f), 300, rng=rng)
        if found.proof is not None:
            assert replay(f, found.proof).is_solved and is_tautology(f)


def test_every_schema_instance_is_proved_by_each_searcher() -> None:
    rng = np.random.default_rng(1)
    for i in range(len(theorems.SCHEMAS)):
        thm = theorems.substitute(theorems._PARSED[i], {m: theorems.random_formula(rng, 1) for m in ("ma", "mb", "mc")})
        assert is_tautology(thm)
        for name in search.SEARCHERS:
            found = search.run_searcher(name, start(thm), 5000, rng=np.random.default_rng(0))
            assert found.proof is not None and replay(thm, found.proof).is_solved, (name, str(thm))


def test_search_budget_is_respected_and_checked() -> None:
    thm = theorems.theorem(np.random.default_rng(3), 4)
    for name in search.SEARCHERS:
        assert search.run_searcher(name, start(thm), 7).nodes <= 7
    with pytest.raises(ValueError, match="budget must be >= 1, got 0"):
        search.bfs(start(thm), 0)
    with pytest.raises(ValueError, match="searcher must be one of"):
        search.run_searcher("dfs", start(thm), 10)


def test_policy_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    examples = []
    for _ in range(6):
        t = theorems.theorem(rng, 1)
        examples += policy.examples_from_proof(start(t), search.bfs(start(t), 2000).proof)
    w = rng.normal(size=policy.N_FEATURES) * 0.1
    _, grad = policy.loss_and_grad(w, examples, 0.01)
    for i in rng.choice(policy.N_FEATURES, 8, replace=False):
        e = np.zeros_like(w)
        e[i] = 1e-6
        fd = (policy.loss_and_grad(w + e, examples, 0.01)[0] - policy.loss_and_grad(w - e, examples, 0.01)[0]) / 2e-6
        assert grad[i] == pytest.approx(fd, abs=1e-6)


def test_trained_policy_is_a_log_softmax_and_beats_uniform_on_held_out_proofs() -> None:
    rng = np.random.default_rng(5)

    def collect(n: int) -> list:
        out = []
        for i in range(n):
            t = theorems.theorem(rng, 1 + i % 2)
            found = search.bfs(start(t), 2000)
            out += policy.examples_from_proof(start(t), found.proof) if found.proof else []
        return out

    train, held = collect(40), collect(20)
    pol = policy.train_policy(train, steps=150)
    goal = start(parse("(p -> q) & p -> q")).goals[0]
    logp = pol(goal, candidate_tactics(goal))
    assert np.exp(logp).sum() == pytest.approx(1.0)
    assert policy.loss_and_grad(pol.weights, held, 0)[0] < 0.7 * policy.loss_and_grad(0 * pol.weights, held, 0)[0]


def test_sketch_holes_are_filled_and_the_result_replays() -> None:
    thm = parse("(p -> q) -> (q -> r) -> p -> r")
    steps = [Tactic("intro"), Tactic("intro"), Tactic("intro"), Tactic("have", (parse("q"),)), HOLE, HOLE]
    found = fill_sketch(thm, steps, budget=100)
    assert found.proof[:4] == tuple(steps[:4]) and replay(thm, found.proof).is_solved


def test_sketch_with_an_unprovable_lemma_fails_and_a_bad_step_raises() -> None:
    thm = parse("p -> p")
    assert fill_sketch(thm, [Tactic("intro"), Tactic("have", (parse("q"),)), HOLE], budget=200).proof is None
    with pytest.raises(TacticError, match="split: target"):
        fill_sketch(thm, [Tactic("split")])


def test_lean_backend_reports_that_lean_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert not lean.lean_available()
    with pytest.raises(lean.BackendUnavailable, match="needs `lean` on PATH.*built-in offline backend"):
        lean.LeanBackend()


def test_lean_backend_reports_a_missing_repl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/lean" if name == "lean" else None)
    with pytest.raises(lean.BackendUnavailable, match="Pantograph REPL 'pantograph-repl' is not"):
        lean.LeanBackend()


def test_to_lean_writes_a_closed_prop_statement() -> None:
    assert lean.to_lean(parse("p & q -> ~r")) == "∀ (p q r : Prop), ((p ∧ q) → (r → False))"


def test_experiment_arms_replay_and_summarize(tmp_path) -> None:
    config = ProofSearchConfig(levels=(1, 2), per_level=3, budgets=(10, 100), train_theorems=10, train_budget=500,
                               policy_steps=20, non_theorems=3, seeds=1)
    results = [run_arm(config, arm) for arm in arms(config)]
    metrics, figures = summarize(config, results, tmp_path)
    assert all((tmp_path / f).is_file() for f in figures)
    assert metrics["false_proofs_of_non_tautologies"] == {s: 0 for s in metrics["success_vs_budget"]}
    for curve in metrics["success_vs_budget"].values():
        assert curve == sorted(curve) and curve[-1] > 0


def test_config_fails_if_budgets_are_not_increasing() -> None:
    with pytest.raises(ValueError, match=r"budgets must be increasing and each >= 1, got \(10, 5\)"):
        ProofSearchConfig(budgets=(10, 5))
