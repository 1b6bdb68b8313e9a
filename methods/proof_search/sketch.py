# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Proof sketches: a partial proof whose holes are filled by search (Pantograph's draft-sketch-prove mode, arXiv 2410.16429).

A sketch is a list of steps, each a `Tactic` or `HOLE`. Steps run in order on the first goal; at a `HOLE`
the first goal alone is handed to a searcher and its proof is spliced in. Goals left open after the last step
are filled the same way. Sketches typically state intermediate lemmas with `have A` (the cut rule), leaving
both the lemma and the rest as holes.

Example:
  >>> from loyal.methods.proof_search.formula import parse
  >>> from loyal.methods.proof_search.kernel import Tactic
  >>> thm = parse("(p -> q) -> (q -> r) -> p -> r")
  >>> steps = [Tactic("intro"), Tactic("intro"), Tactic("intro"), Tactic("have", (parse("q"),)), HOLE]
  >>> proof = fill_sketch(thm, steps, budget=200).proof
  >>> replay(thm, proof).is_solved
  True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loyal.methods.proof_search.formula import Formula
from loyal.methods.proof_search.kernel import GoalState, Tactic, apply_tactic, replay, start
from loyal.methods.proof_search.search import SearchResult, best_first

HOLE = None
Searcher = Callable[[GoalState, int], SearchResult]

__all__ = ["HOLE", "fill_sketch", "replay"]


def fill_sketch(theorem: Formula, steps: Sequence[Tactic | None], budget: int = 1000,
                searcher: Searcher = best_first) -> SearchResult:
    """Completes a sketch of `theorem`; returns the full tactic proof (None if some hole was not filled).

    Args:
      theorem: the statement.
      steps: tactics and `HOLE`s.
      budget: tactic applications per hole, >= 1.
      searcher: `(state, budget) -> SearchResult`, run on the single focused goal.

    Raises:
      TacticError: a written (non-hole) step does not apply.
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    state, proof, nodes = start(theorem), [], 0

    def fill() -> bool:
        nonlocal state, nodes
        focus = GoalState(state.goals[:1])
        found = searcher(focus, budget)
        nodes += found.nodes
        if found.proof is None:
            return False
        for t in found.proof:
            state = apply_tactic(state, t)
        proof.extend(found.proof)
        return True

    for step in steps:
        if step is HOLE:
            if not state.is_solved and not fill():
                return SearchResult(None, nodes)
        else:
            state = apply_tactic(state, step)
            proof.append(step)
    while not state.is_solved:
        if not fill():
            return SearchResult(None, nodes)
    return SearchResult(tuple(proof), nodes)
