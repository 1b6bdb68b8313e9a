# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Success rate vs node budget for BFS, best-first (uniform / learned policy) and MCTS (arXiv 2410.16429, small scale).

Backend: the built-in offline propositional kernel, not Lean. Each arm = (searcher, seed): train the tactic
ranker on proofs that exhaustive BFS finds for `train_theorems` generated theorems (levels 1–2, a seed
disjoint from the test set), then search every test theorem (levels `levels`, `per_level` each) with the
largest budget. Budgets do not change the search order, so "solved within budget b" is "nodes used ≤ b".
Every proof is replayed by the kernel from scratch and its theorem checked by truth table; random
non-tautologies are searched too and must never be proved.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from pathlib import Path

import numpy as np

from loyal.methods.harness.plots import line_plot
from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.proof_search import kernel, policy, search, theorems
from loyal.methods.proof_search.formula import is_tautology

logger = logging.getLogger(__name__)

#: Arm name -> (searcher, policy kind).
SEARCHERS = {
    "bfs": ("bfs", "none"),
    "best_first_uniform": ("best_first", "uniform"),
    "best_first_learned": ("best_first", "learned"),
    "mcts_learned": ("mcts", "learned"),
}


@dataclasses.dataclass(frozen=True)
class ProofSearchConfig:
    """Settings of the benchmark.

    Attributes:
      levels: theorem sizes (schema instances per theorem), each >= 1.
      per_level: test theorems per level, >= 1.
      budgets: node budgets reported, increasing, each >= 1; the last is the search budget.
      train_theorems: generated theorems whose BFS proofs train the policy, >= 1.
      train_budget: BFS budget when collecting training proofs, >= 1.
      policy_steps: Adam steps of the policy, >= 1.
      non_theorems: random non-tautologies searched (must all fail), >= 0.
      seeds: seeds per searcher, >= 1.
    """

    levels: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    per_level: int = 20
    budgets: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000)
    train_theorems: int = 200
    train_budget: int = 3000
    policy_steps: int = 300
    non_theorems: int = 30
    seeds: int = 2

    def __post_init__(self) -> None:
        if not self.levels or min(self.levels) < 1:
            raise ValueError(f"levels must be non-empty and each >= 1, got {self.levels}")
        if self.per_level < 1:
            raise ValueError(f"per_level must be >= 1, got {self.per_level}")
        if not self.budgets or min(self.budgets) < 1 or list(self.budgets) != sorted(set(self.budgets)):
            raise ValueError(f"budgets must be increasing and each >= 1, got {self.budgets}")
        for key in ("train_theorems", "train_budget", "policy_steps", "seeds"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.non_theorems < 0:
            raise ValueError(f"non_theorems must be >= 0, got {self.non_theorems}")


@functools.lru_cache(maxsize=4)
def trained_policy(seed: int, train_theorems: int, train_budget: int, steps: int) -> tuple[policy.LinearPolicy, dict]:
    """The ranker trained on BFS proofs of generated level-1/2 theorems (seed offset keeps them off the test set)."""
    rng = np.random.default_rng(10_000 + seed)
    examples, solved = [], 0
    for i in range(train_theorems):
        thm = theorems.theorem(rng, 1 + i % 2)
        found = search.bfs(kernel.start(thm), train_budget)
        if found.proof is not None:
            solved += 1
            examples += policy.examples_from_proof(kernel.start(thm), found.proof)
    trained = policy.train_policy(examples, steps=steps)
    stats = {"train_theorems_solved": solved, "train_examples": len(examples),
             "loss_uniform": policy.loss_and_grad(np.zeros(policy.N_FEATURES), examples, 0.0)[0],
             "loss_trained": policy.loss_and_grad(trained.weights, examples, 0.0)[0]}
    return trained, stats


def benchmark_set(config: ProofSearchConfig, seed: int) -> list[tuple[int, object]]:
    rng = np.random.default_rng(seed)
    return [(level, theorems.theorem(rng, level)) for level in config.levels for _ in range(config.per_level)]


def check_proof(thm, proof) -> bool:
    """The independent re-check: kernel replay from scratch closes every goal, and the truth table agrees."""
    return kernel.replay(thm, proof).is_solved and is_tautology(thm)


def run_arm(config: ProofSearchConfig, arm: dict) -> dict:
    seed = int(arm["seed"])
    rng = seed_everything(seed)
    name, kind = SEARCHERS[arm["searcher"]]
    stats: dict = {}
    pol: search.Policy = search.uniform_policy
    if kind == "learned":
        pol, stats = trained_policy(seed, config.train_theorems, config.train_budget, config.policy_steps)
    budget = config.budgets[-1]
    levels, nodes, lengths = [], [], []
    start = time.perf_counter()
    for level, thm in benchmark_set(config, seed):
        found = search.run_searcher(name, kernel.start(thm), budget, pol, rng)
        if found.proof is not None and not check_proof(thm, found.proof):
            raise AssertionError(f"{arm['searcher']} returned a proof the kernel does not replay for {thm}")
        levels.append(level)
        nodes.append(found.nodes if found.proof is not None else None)
        lengths.append(len(found.proof) if found.proof is not None else None)
    seconds = time.perf_counter() - start
    false_proofs = 0
    neg_rng = np.random.default_rng(20_000 + seed)
    for _ in range(config.non_theorems):
        bad = theorems.non_theorem(neg_rng)
        false_proofs += search.run_searcher(name, kernel.start(bad), min(budget, 300), pol, rng).proof is not None
    return {"searcher": arm["searcher"], "seed": seed, "level": levels, "nodes": nodes, "proof_length": lengths,
            "search_seconds": seconds, "false_proofs": false_proofs} | stats


def arms(config: ProofSearchConfig) -> list[dict]:
    return [{"searcher": s, "seed": seed} for seed in range(config.seeds) for s in SEARCHERS]


def summarize(config: ProofSearchConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    by = {s: [r for r in results if r["searcher"] == s] for s in SEARCHERS}

    def rate(rs: list[dict], b: int, level: int | None = None) -> float:
        hits = [n is not None and n <= b for r in rs for n, lv in zip(r["nodes"], r["level"]) if level in (None, lv)]
        return float(np.mean(hits))

    success = {s: [rate(rs, b) for b in config.budgets] for s, rs in by.items()}
    by_level = {s: {str(lv): rate(rs, config.budgets[-1], lv) for lv in config.levels} for s, rs in by.items()}
    figures = [
        line_plot(out_dir / "success_vs_budget.png", {s: (list(config.budgets), v) for s, v in success.items()},
                  title="Proofs found vs node budget (built-in propositional kernel)", xlabel="tactic applications",
                  ylabel="success rate", log_x=True),
        line_plot(out_dir / "success_vs_level.png",
                  {s: (list(config.levels), list(v.values())) for s, v in by_level.items()},
                  title=f"Success at budget {config.budgets[-1]} vs theorem size", xlabel="level (schema instances)",
                  ylabel="success rate"),
    ]
    learned = by["best_first_learned"]
    metrics = {
        "backend": "built-in offline backend (propositional kernel), not Lean",
        "budgets": list(config.budgets),
        "success_vs_budget": success,
        "success_by_level_at_max_budget": by_level,
        "mean_nodes_when_solved": {s: float(np.mean([n for r in rs for n in r["nodes"] if n is not None] or [np.nan]))
                                   for s, rs in by.items()},
        "false_proofs_of_non_tautologies": {s: int(sum(r["false_proofs"] for r in rs)) for s, rs in by.items()},
        "search_seconds": {s: float(np.mean([r["search_seconds"] for r in rs])) for s, rs in by.items()},
        "policy": {k: float(np.mean([r[k] for r in learned]))
                   for k in ("train_theorems_solved", "train_examples", "loss_uniform", "loss_trained")},
    }
    return metrics, figures


SPEC = MethodSpec(
    name="proof_search",
    paper="2410.16429",
    title="Pantograph: A Machine-to-Machine Interaction Interface for Advanced Theorem Proving, High Level "
    "Reasoning, and Data Extraction in Lean 4",
    claim="a goal-state/tactic interface supports best-first and MCTS proof search and proof sketches; a learned "
    "tactic policy solves more theorems per node budget than uninformed search (built-in propositional kernel).",
    quick_runtime="5–25 s wall (machine load), 5 s CPU (2 cores)",
    config_cls=ProofSearchConfig,
    quick={"levels": (1, 2, 3, 4), "per_level": 8, "budgets": (10, 30, 100, 300, 1000), "train_theorems": 80,
           "train_budget": 1500, "policy_steps": 200, "non_theorems": 10, "seeds": 1},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
