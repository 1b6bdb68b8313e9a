# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Formula syntax and the kernel's tactics: parse/print round trip, truth tables, rules rejecting ill-formed uses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.methods.proof_search.formula import BOT, evaluate, is_tautology, parse
from loyal.methods.proof_search.kernel import (
    GoalState, Tactic, TacticError, apply_tactic, candidate_tactics, make_goal, replay, start,
)
from loyal.methods.proof_search.theorems import random_formula

P, Q, R = parse("p"), parse("q"), parse("r")


@given(st.integers(0, 10_000), st.integers(0, 4))
def test_printing_then_parsing_gives_the_same_formula(seed: int, depth: int) -> None:
    f = random_formula(np.random.default_rng(seed), depth)
    assert parse(str(f)) == f


@pytest.mark.parametrize(("text", "tautology"), [
    ("p -> p", True), ("p | ~p", True), ("((p -> q) -> p) -> p", True), ("~~p -> p", True),
    ("p -> q", False), ("p & ~p", False), ("false", False), ("(p -> q) -> q -> p", False),
])
def test_truth_table_matches_known_cases(text: str, tautology: bool) -> None:
    assert is_tautology(parse(text)) is tautology


def test_evaluate_follows_the_connective_tables() -> None:
    for a in (False, True):
        for b in (False, True):
            v = {"p": a, "q": b}
            assert evaluate(parse("p -> q"), v) == (not a or b)
            assert evaluate(parse("p & q"), v) == (a and b)
            assert evaluate(parse("p | q"), v) == (a or b)
            assert evaluate(parse("~p"), v) == (not a)


def test_parse_fails_on_malformed_text() -> None:
    with pytest.raises(ValueError, match="missing '\\)'"):
        parse("(p -> q")
    with pytest.raises(ValueError, match="unexpected token"):
        parse("p q")


def _state(hyps: str, target: str) -> GoalState:
    return GoalState((make_goal([parse(h) for h in hyps.split(",") if h], parse(target)),))


# Named table: (name, hypotheses, target, tactic, expected message).
ILL_FORMED = {
    "intro_on_atom": ("", "p", Tactic("intro"), "not an implication"),
    "assumption_missing": ("q", "p", Tactic("assumption"), "not among the hypotheses"),
    "exact_wrong_hyp": ("q", "p", Tactic("exact", (Q,)), "does not match target"),
    "exact_not_hyp": ("", "p", Tactic("exact", (P,)), "is not a hypothesis"),
    "apply_wrong_conclusion": ("q -> r", "p", Tactic("apply", (parse("q -> r"),)), "concludes the target"),
    "split_on_or": ("", "p | q", Tactic("split"), "not a conjunction"),
    "left_on_and": ("", "p & q", Tactic("left"), "not a disjunction"),
    "cases_on_and": ("p & q", "p", Tactic("cases", (parse("p & q"),)), "not a disjunction"),
    "destruct_on_or": ("p | q", "p", Tactic("destruct", (parse("p | q"),)), "not a conjunction"),
    "mp_without_premise": ("p -> q", "q", Tactic("mp", (parse("p -> q"), P)), "is not a hypothesis"),
    "contradiction_consistent": ("p,q", "r", Tactic("contradiction"), "no ⊥"),
    "exfalso_on_bot": ("", "false", Tactic("exfalso"), "already ⊥"),
}


@pytest.mark.parametrize("case", ILL_FORMED.values(), ids=ILL_FORMED.keys())
def test_apply_tactic_fails_if_the_rule_does_not_match(case: tuple) -> None:
    hyps, target, tactic, message = case
    with pytest.raises(TacticError, match=message):
        apply_tactic(_state(hyps, target), tactic)


def test_tactic_fails_if_name_or_arity_is_wrong() -> None:
    with pytest.raises(TacticError, match="unknown tactic 'auto'"):
        Tactic("auto")
    with pytest.raises(TacticError, match="tactic apply takes 1 argument"):
        Tactic("apply")
    with pytest.raises(TacticError, match="no goals left"):
        apply_tactic(GoalState(()), Tactic("intro"))


def test_rules_produce_the_textbook_subgoals() -> None:
    s = apply_tactic(_state("p -> q -> r", "r"), Tactic("apply", (parse("p -> q -> r"),)))
    assert [str(g.target) for g in s.goals] == ["p", "q"]
    s = apply_tactic(_state("p | q", "r"), Tactic("cases", (parse("p | q"),)))
    assert [g.hyps for g in s.goals] == [(P,), (Q,)]
    s = apply_tactic(_state("", "(p -> q) -> p"), Tactic("intro"))
    assert s.goals[0].hyps == (parse("p -> q"),) and s.goals[0].target == P
    s = apply_tactic(_state("", "p"), Tactic("have", (Q,)))
    assert [str(g) for g in s.goals] == [" ⊢ q", "q ⊢ p"]


def test_states_are_immutable_and_tactics_leave_the_input_alone() -> None:
    s0 = start(parse("p & q -> q & p"))
    s1 = apply_tactic(s0, Tactic("intro"))
    assert s0 == start(parse("p & q -> q & p")) and s1 != s0


def test_every_candidate_tactic_applies() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        hyps = [random_formula(rng, 2) for _ in range(int(rng.integers(0, 4)))] + [BOT] * int(rng.random() < 0.1)
        state = GoalState((make_goal(hyps, random_formula(rng, 2)),))
        for t in candidate_tactics(state.goals[0]):
            apply_tactic(state, t)  # raises if a candidate were ill-formed


def test_replay_of_a_hand_written_proof_closes_the_goal() -> None:
    thm = parse("(p -> q) -> ~q -> ~p")
    proof = [Tactic("intro"), Tactic("intro"), Tactic("intro"), Tactic("mp", (parse("p -> q"), P)),
             Tactic("contradiction")]
    assert replay(thm, proof).is_solved
    assert not replay(thm, proof[:-1]).is_solved
