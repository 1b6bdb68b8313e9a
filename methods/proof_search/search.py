# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Search over tactic applications: breadth-first, best-first (policy score + depth) and MCTS (UCT).

Pantograph (arXiv 2410.16429) drives Lean from outside with exactly this loop: take a goal state,
propose tactics, apply them through `goal.tactic`, keep the successful states. The node budget counts tactic
applications (successful or not), the unit of work of the REPL.

A policy is any callable `(goal, tactics) -> log-probabilities` (shape `len(tactics)`); `uniform_policy`
gives every candidate the same score.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from loyal.methods.proof_search.kernel import Goal, GoalState, Tactic, TacticError, apply_tactic, candidate_tactics

Policy = Callable[[Goal, Sequence[Tactic]], np.ndarray]
SEARCHERS = ("bfs", "best_first", "mcts")


def uniform_policy(goal: Goal, tactics: Sequence[Tactic]) -> np.ndarray:
    """log(1/n) for each of the n candidates."""
    return np.full(len(tactics), -math.log(max(1, len(tactics))))


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """A proof (tactics from the start state) or None, and the tactic applications spent."""

    proof: tuple[Tactic, ...] | None
    nodes: int


def _check_budget(budget: int) -> None:
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")


def _expand(state: GoalState) -> list[tuple[Tactic, GoalState | None]]:
    out = []
    for t in candidate_tactics(state.goals[0]):
        try:
            out.append((t, apply_tactic(state, t)))
        except TacticError:  # candidates apply by construction; kept for a stricter backend
            out.append((t, None))
    return out


def bfs(state: GoalState, budget: int, max_depth: int = 100) -> SearchResult:
    """Breadth-first search; states seen before are not revisited."""
    _check_budget(budget)
    return best_first(state, budget, policy=None, depth_weight=1.0, max_depth=max_depth)


def best_first(state: GoalState, budget: int, policy: Policy | None = uniform_policy, depth_weight: float = 0.1,
               max_depth: int = 100) -> SearchResult:
    """Best-first search on cost = −Σ log π(tactic | goal) + depth_weight × depth (lower first).

    Args:
      state: the start state.
      budget: tactic applications allowed, >= 1.
      policy: the tactic scorer; None scores every tactic 0, which with depth_weight = 1 is breadth-first.
      depth_weight: cost per step, >= 0; larger is closer to breadth-first.
      max_depth: states deeper than this are not expanded.
    """
    _check_budget(budget)
    if depth_weight < 0:
        raise ValueError(f"depth_weight must be >= 0, got {depth_weight}")
    if state.is_solved:
        return SearchResult((), 0)
    tie = itertools.count()
    frontier: list = [(0.0, next(tie), state, ())]
    seen = {state}
    nodes = 0
    while frontier:
        cost, _, s, path = heapq.heappop(frontier)
        if len(path) >= max_depth:
            continue
        tactics = candidate_tactics(s.goals[0])
        scores = np.zeros(len(tactics)) if policy is None else np.asarray(policy(s.goals[0], tactics), dtype=float)
        for t, score in zip(tactics, scores):
            if nodes >= budget:
                return SearchResult(None, nodes)
            nodes += 1
            try:
                child = apply_tactic(s, t)
            except TacticError:
                continue
            if child.is_solved:
                return SearchResult(path + (t,), nodes)
            if child not in seen:
                seen.add(child)
                heapq.heappush(frontier, (cost - float(score) + depth_weight, next(tie), child, path + (t,)))
    return SearchResult(None, nodes)


@dataclasses.dataclass
class _Node:
    state: GoalState
    prior: float = 1.0
    visits: int = 0
    value: float = 0.0
    children: list[tuple[Tactic, _Node]] | None = None  # None: not expanded yet
    dead: bool = False


def mcts(state: GoalState, budget: int, policy: Policy = uniform_policy, rng: np.random.Generator | None = None,
         exploration: float = 1.0, rollout_depth: int = 8) -> SearchResult:
    """Monte Carlo tree search with UCT selection (policy prior as in PUCT) and policy-sampled rollouts.

    Each iteration selects a leaf by argmax Q + c·P·√N/(1+n), expands it (every candidate tactic, one node
    each), and rolls out `rollout_depth` sampled tactics from the best new child; a rollout that closes all
    goals ends the search with its proof. Reward: 1 if solved, else 1/(1 + open goals) / 2; a leaf with no
    candidate tactic is dead (reward 0, never selected again).

    Args:
      state: the start state.
      budget: tactic applications (expansions and rollout steps), >= 1.
      policy: prior over tactics and rollout sampler.
      rng: randomness of rollouts (default seed 0).
      exploration: c in the UCT bonus, > 0.
      rollout_depth: steps per rollout, >= 0.
    """
    _check_budget(budget)
    if exploration <= 0:
        raise ValueError(f"exploration must be > 0, got {exploration}")
    rng = rng or np.random.default_rng(0)
    if state.is_solved:
        return SearchResult((), 0)
    root = _Node(state)
    nodes = 0
    while nodes < budget:
        node, path, trail = root, (), [root]
        while node.children is not None:  # selection
            live = [(t, c) for t, c in node.children if not c.dead]
            if not live:
                node.dead = True
                break
            sq = math.sqrt(node.visits + 1)
            t, node = max(live, key=lambda tc: (tc[1].value / tc[1].visits if tc[1].visits else 0.0)
                          + exploration * tc[1].prior * sq / (1 + tc[1].visits))
            path += (t,)
            trail.append(node)
        if root.dead:
            break
        if node.dead:
            continue
        tactics = candidate_tactics(node.state.goals[0])  # expansion
        logp = np.asarray(policy(node.state.goals[0], tactics), dtype=float) if tactics else np.zeros(0)
        prior = np.exp(logp - logp.max()) if tactics else logp
        prior = prior / prior.sum() if tactics else prior
        node.children = []
        for t, p in zip(tactics, prior):
            if nodes >= budget:
                break
            nodes += 1
            child = apply_tactic(node.state, t)
            if child.is_solved:
                return SearchResult(path + (t,), nodes)
            node.children.append((t, _Node(child, prior=float(p))))
        if not node.children:
            node.dead, reward = True, 0.0
        else:
            t0, start_node = max(node.children, key=lambda tc: tc[1].prior)
            reward, proof, nodes = _rollout(start_node.state, policy, rng, rollout_depth, budget, nodes)
            if proof is not None:
                return SearchResult(path + (t0,) + proof, nodes)
        for n in trail:  # backpropagation
            n.visits += 1
            n.value += reward
    return SearchResult(None, nodes)


def _rollout(state: GoalState, policy: Policy, rng: np.random.Generator, depth: int, budget: int,
             nodes: int) -> tuple[float, tuple[Tactic, ...] | None, int]:
    proof: tuple[Tactic, ...] = ()
    for _ in range(depth):
        tactics = candidate_tactics(state.goals[0])
        if not tactics or nodes >= budget:
            break
        logp = np.asarray(policy(state.goals[0], tactics), dtype=float)
        p = np.exp(logp - logp.max())
        t = tactics[int(rng.choice(len(tactics), p=p / p.sum()))]
        nodes += 1
        state = apply_tactic(state, t)
        proof += (t,)
        if state.is_solved:
            return 1.0, proof, nodes
    return 0.5 / (1 + len(state.goals)), None, nodes


def run_searcher(name: str, state: GoalState, budget: int, policy: Policy = uniform_policy,
                 rng: np.random.Generator | None = None) -> SearchResult:
    """Dispatches to `bfs`, `best_first` or `mcts` by name."""
    if name == "bfs":
        return bfs(state, budget)
    if name == "best_first":
        return best_first(state, budget, policy)
    if name == "mcts":
        return mcts(state, budget, policy, rng)
    raise ValueError(f"searcher must be one of {SEARCHERS}, got {name!r}")
