# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The built-in offline backend: a goal-state API over intuitionistic natural deduction (sequent style).

This mirrors Pantograph's goal-state interface (arXiv 2410.16429: `goal.start`, `goal.tactic` on a
state returns a new state or an error, states are immutable) for propositional logic only. A goal is a sequent
Γ ⊢ A (hypotheses as a sorted, duplicate-free tuple); tactics act on the first goal, as Lean's do.
It is *not* Lean: the rules are the usual intro/elim rules of NJ plus ex falso; no classical axiom, so a proof
found here is an intuitionistic one (and hence a classical tautology, which the tests check by truth table).

Tactics (`Tactic.name`, argument):
  intro            Γ ⊢ A → B   ⇒  Γ, A ⊢ B
  assumption       Γ ⊢ A with A ∈ Γ ⇒ closed
  exact h          same, naming the hypothesis h = A
  apply h          h = A1 → … → An → A in Γ, goal A  ⇒  Γ ⊢ A1, …, Γ ⊢ An
  split            Γ ⊢ A ∧ B   ⇒  Γ ⊢ A, Γ ⊢ B
  left / right     Γ ⊢ A ∨ B   ⇒  Γ ⊢ A  /  Γ ⊢ B
  cases h          h = A ∨ B   ⇒  Γ−h, A ⊢ C and Γ−h, B ⊢ C
  destruct h       h = A ∧ B   ⇒  Γ−h, A, B ⊢ C
  mp h h2          h = A → B, h2 = A  ⇒  Γ, B ⊢ C (forward modus ponens)
  contradiction    ⊥ ∈ Γ, or both A and ¬A ∈ Γ ⇒ closed
  exfalso          Γ ⊢ C  ⇒  Γ ⊢ ⊥
  have A           Γ ⊢ C  ⇒  Γ ⊢ A, Γ, A ⊢ C  (the cut rule; used by proof sketches)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from loyal.methods.proof_search.formula import BOT, Formula, neg

TACTIC_NAMES = ("intro", "assumption", "exact", "apply", "split", "left", "right", "cases", "destruct", "mp",
                "contradiction", "exfalso", "have")
_ARITY = {"exact": 1, "apply": 1, "cases": 1, "destruct": 1, "mp": 2, "have": 1}


class TacticError(ValueError):
    """A tactic does not apply to the goal (the message says why)."""


@dataclasses.dataclass(frozen=True, order=True)
class Goal:
    """A sequent `hyps ⊢ target`; `hyps` is kept sorted and duplicate-free (so equal sequents compare equal)."""

    hyps: tuple[Formula, ...]
    target: Formula

    def __str__(self) -> str:
        return ", ".join(map(str, self.hyps)) + " ⊢ " + str(self.target)


def make_goal(hyps: Sequence[Formula], target: Formula) -> Goal:
    return Goal(tuple(sorted(set(hyps))), target)


@dataclasses.dataclass(frozen=True)
class GoalState:
    """An immutable proof state: the open goals, first goal is the one tactics act on. No goals = proved."""

    goals: tuple[Goal, ...]

    @property
    def is_solved(self) -> bool:
        return not self.goals

    def __str__(self) -> str:
        return "\n".join(str(g) for g in self.goals) or "no goals"


@dataclasses.dataclass(frozen=True, order=True)
class Tactic:
    """A tactic and its formula arguments (hypotheses are named by their formula)."""

    name: str
    args: tuple[Formula, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in TACTIC_NAMES:
            raise TacticError(f"unknown tactic {self.name!r}; known: {', '.join(TACTIC_NAMES)}")
        if len(self.args) != _ARITY.get(self.name, 0):
            raise TacticError(f"tactic {self.name} takes {_ARITY.get(self.name, 0)} argument(s), got {len(self.args)}")

    def __str__(self) -> str:
        return " ".join([self.name] + [f"({a})" for a in self.args])


def start(theorem: Formula) -> GoalState:
    """The initial state of `theorem` (Pantograph's `goal.start`)."""
    return GoalState((make_goal((), theorem),))


def premises(f: Formula) -> tuple[list[Formula], Formula]:
    """A1 → … → An → C as ([A1, …, An], C) for the longest such chain."""
    prem = []
    while f.op == "imp":
        prem.append(f.left)
        f = f.right
    return prem, f


def _apply_goal(g: Goal, t: Tactic) -> list[Goal]:
    hyps, target = g.hyps, g.target
    name = t.name

    def need_hyp(h: Formula) -> None:
        if h not in hyps:
            raise TacticError(f"{name}: ({h}) is not a hypothesis of {g}")

    if name == "intro":
        if target.op != "imp":
            raise TacticError(f"intro: target {target} is not an implication")
        return [make_goal(hyps + (target.left,), target.right)]
    if name == "assumption":
        if target not in hyps:
            raise TacticError(f"assumption: target {target} is not among the hypotheses")
        return []
    if name == "exact":
        need_hyp(t.args[0])
        if t.args[0] != target:
            raise TacticError(f"exact: ({t.args[0]}) does not match target {target}")
        return []
    if name == "apply":
        h = t.args[0]
        need_hyp(h)
        prem, concl = [], h
        while concl != target:
            if concl.op != "imp":
                raise TacticError(f"apply: no suffix of ({h}) concludes the target {target}")
            prem.append(concl.left)
            concl = concl.right
        if not prem:
            raise TacticError(f"apply: ({h}) is the target itself; use exact")
        return [make_goal(hyps, a) for a in prem]
    if name == "split":
        if target.op != "and":
            raise TacticError(f"split: target {target} is not a conjunction")
        return [make_goal(hyps, target.left), make_goal(hyps, target.right)]
    if name in ("left", "right"):
        if target.op != "or":
            raise TacticError(f"{name}: target {target} is not a disjunction")
        return [make_goal(hyps, target.left if name == "left" else target.right)]
    if name in ("cases", "destruct"):
        h = t.args[0]
        need_hyp(h)
        want = "or" if name == "cases" else "and"
        if h.op != want:
            raise TacticError(f"{name}: hypothesis ({h}) is not a {'disjunction' if want == 'or' else 'conjunction'}")
        rest = tuple(x for x in hyps if x != h)
        if name == "cases":
            return [make_goal(rest + (h.left,), target), make_goal(rest + (h.right,), target)]
        return [make_goal(rest + (h.left, h.right), target)]
    if name == "mp":
        h, a = t.args
        need_hyp(h)
        need_hyp(a)
        if h.op != "imp" or h.left != a:
            raise TacticError(f"mp: ({h}) is not an implication from ({a})")
        if h.right in hyps:
            raise TacticError(f"mp: ({h.right}) is already a hypothesis")
        return [make_goal(hyps + (h.right,), target)]
    if name == "contradiction":
        if BOT in hyps or any(neg(h) in hyps for h in hyps):
            return []
        raise TacticError("contradiction: no ⊥ and no pair A, ¬A among the hypotheses")
    if name == "exfalso":
        if target == BOT:
            raise TacticError("exfalso: target is already ⊥")
        return [make_goal(hyps, BOT)]
    if name == "have":
        return [make_goal(hyps, t.args[0]), make_goal(hyps + (t.args[0],), target)]
    raise AssertionError(f"tactic {name} has no rule")


def apply_tactic(state: GoalState, tactic: Tactic) -> GoalState:
    """Runs `tactic` on the first goal of `state` (Pantograph's `goal.tactic`); returns the new state.

    Raises:
      TacticError: the state has no goals, or the tactic does not apply (the message names the goal).
    """
    if state.is_solved:
        raise TacticError(f"{tactic.name}: no goals left")
    return GoalState(tuple(_apply_goal(state.goals[0], tactic)) + state.goals[1:])


def candidate_tactics(goal: Goal) -> list[Tactic]:
    """Every tactic (except `have`, whose argument is unbounded) that applies to `goal`, in a fixed order."""
    hyps, target = goal.hyps, goal.target
    out: list[Tactic] = []
    if target in hyps:
        out.append(Tactic("assumption"))
    if BOT in hyps or any(neg(h) in hyps for h in hyps):
        out.append(Tactic("contradiction"))
    if target.op == "imp":
        out.append(Tactic("intro"))
    if target.op == "and":
        out.append(Tactic("split"))
    if target.op == "or":
        out += [Tactic("left"), Tactic("right")]
    for h in hyps:
        if h.op == "imp":
            if target in _conclusions(h):
                out.append(Tactic("apply", (h,)))
            if h.left in hyps and h.right not in hyps:
                out.append(Tactic("mp", (h, h.left)))
        if h.op == "or":
            out.append(Tactic("cases", (h,)))
        if h.op == "and":
            out.append(Tactic("destruct", (h,)))
    if target != BOT and any(premises(h)[1] == BOT for h in hyps if h.op == "imp"):
        out.append(Tactic("exfalso"))
    return out


def _conclusions(h: Formula) -> list[Formula]:
    """The proper suffixes B of h = A1 → … → B reachable by stripping at least one premise."""
    out = []
    while h.op == "imp":
        h = h.right
        out.append(h)
    return out


def replay(theorem: Formula, tactics: Sequence[Tactic]) -> GoalState:
    """Applies `tactics` in order from `start(theorem)`; raises TacticError on the first that fails."""
    state = start(theorem)
    for t in tactics:
        state = apply_tactic(state, t)
    return state
