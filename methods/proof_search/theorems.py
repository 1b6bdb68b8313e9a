# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A generated benchmark: intuitionistic tautologies of increasing size, and non-tautologies as negatives.

A theorem of level L is the conjunction of L substitution instances of textbook intuitionistic schemas (the
metavariables A, B, C replaced by random formulas over atoms p, q, r); substitution instances and conjunctions
of theorems are theorems, so every generated item is provable in the kernel by construction, and the proof
length grows linearly in L while the search space grows much faster.
"""

from __future__ import annotations

import numpy as np

from loyal.methods.proof_search.formula import Formula, atom, conj, disj, imp, is_tautology, neg, parse

SCHEMAS = (
    "A -> B -> A",
    "(A -> B -> C) -> (A -> B) -> A -> C",
    "A & B -> B & A",
    "A | B -> B | A",
    "(A -> B) -> (B -> C) -> A -> C",
    "(A -> B) -> ~B -> ~A",
    "A -> ~~A",
    "~~~A -> ~A",
    "~(A | B) -> ~A & ~B",
    "~A & ~B -> ~(A | B)",
    "A & (B | C) -> (A & B) | (A & C)",
    "(A -> C) -> (B -> C) -> A | B -> C",
    "(A & B -> C) -> A -> B -> C",
    "(A -> B -> C) -> A & B -> C",
    "~~(A | ~A)",
    "A & ~A -> B",
    "(A -> B) & (A -> C) -> A -> B & C",
    "(A | B) & ~A -> B",
)
ATOMS = ("p", "q", "r")


def substitute(f: Formula, sub: dict[str, Formula]) -> Formula:
    """Replaces atoms named in `sub` (the schema's metavariables) by formulas."""
    if f.op == "atom":
        return sub.get(f.name, f)
    if f.op == "bot":
        return f
    return Formula(f.op, left=substitute(f.left, sub), right=substitute(f.right, sub))


def random_formula(rng: np.random.Generator, depth: int) -> Formula:
    """A random formula over `ATOMS` of depth ≤ `depth` (depth 0: an atom)."""
    if depth <= 0 or rng.random() < 0.4:
        return atom(ATOMS[int(rng.integers(len(ATOMS)))])
    op = int(rng.integers(4))
    a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
    return (imp, conj, disj)[op](a, b) if op < 3 else neg(a)


_PARSED = tuple(parse(s.replace("A", "ma").replace("B", "mb").replace("C", "mc")) for s in SCHEMAS)


def schema_instance(rng: np.random.Generator, sub_depth: int = 1) -> Formula:
    """A random schema with random formulas of depth ≤ `sub_depth` for its metavariables."""
    schema = _PARSED[int(rng.integers(len(_PARSED)))]
    return substitute(schema, {m: random_formula(rng, sub_depth) for m in ("ma", "mb", "mc")})


def theorem(rng: np.random.Generator, level: int, sub_depth: int = 1) -> Formula:
    """Conjunction of `level` schema instances (level >= 1)."""
    if level < 1:
        raise ValueError(f"level must be >= 1, got {level}")
    parts = [schema_instance(rng, sub_depth) for _ in range(level)]
    out = parts[-1]
    for p in reversed(parts[:-1]):
        out = conj(p, out)
    return out


def non_theorem(rng: np.random.Generator, depth: int = 3) -> Formula:
    """A random formula that the truth table refutes (so no sound kernel may prove it)."""
    while True:
        f = random_formula(rng, depth)
        if not is_tautology(f):
            return f
