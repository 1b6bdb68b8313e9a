# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The written K-12 policy (`policy.toml`) and the synthetic labelled prompts built from it.

The data set is synthetic: templated prompts (each category's templates × fillers, `policy.toml`) make the
train and validation splits, split by filler (every 4th filler goes to validation, so validation prompts use
fillers never seen in training); the hand-written prompts of `prompts.toml` form the held-out test split and are
never used for training or model selection.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
ALLOWED = "allowed"


@dataclasses.dataclass(frozen=True)
class Category:
    """One policy category: its definition, anchor examples, baseline keywords, and data templates."""

    name: str
    definition: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...]
    templates: tuple[str, ...]
    fillers: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Policy:
    """The categories (`allowed` last) and the refusal text shown to a student."""

    categories: tuple[Category, ...]
    refusal: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Prompts and labels of one split."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)


@functools.lru_cache(maxsize=2)
def load_policy(path: Path = _HERE / "policy.toml") -> Policy:
    """Parses the policy file.

    Raises:
      ValueError: a category lacks a field, a template has no `{x}` slot, or `allowed` is missing.
    """
    raw = tomllib.loads(Path(path).read_text())
    cats = []
    for name, body in raw["categories"].items():
        for key in ("definition", "examples", "keywords", "templates", "fillers"):
            if key not in body:
                raise ValueError(f"policy category {name!r} lacks {key!r}")
        bad = [t for t in body["templates"] if "{x}" not in t]
        if bad:
            raise ValueError(f"policy category {name!r}: template {bad[0]!r} has no {{x}} slot")
        cats.append(Category(name, body["definition"], tuple(body["examples"]), tuple(body["keywords"]),
                             tuple(body["templates"]), tuple(body["fillers"])))
    if ALLOWED not in [c.name for c in cats]:
        raise ValueError(f"policy must define the category {ALLOWED!r}")
    cats.sort(key=lambda c: c.name == ALLOWED)
    return Policy(tuple(cats), raw["refusal"])


@functools.lru_cache(maxsize=2)
def load_splits(policy_path: Path = _HERE / "policy.toml",
                prompts_path: Path = _HERE / "prompts.toml") -> dict[str, Dataset]:
    """The train / val (templated) and test (hand-written) splits.

    Raises:
      ValueError: `prompts.toml` names a category the policy does not define.
    """
    policy = load_policy(policy_path)
    split: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "val": ([], [])}
    for cat in policy.categories:
        for j, filler in enumerate(cat.fillers):
            texts, labels = split["val" if j % 4 == 3 else "train"]
            for template in cat.templates:
                texts.append(template.replace("{x}", filler))
                labels.append(cat.name)
    hand = tomllib.loads(Path(prompts_path).read_text())
    unknown = set(hand) - set(policy.names)
    if unknown:
        raise ValueError(f"prompts.toml names unknown categories {sorted(unknown)}; policy has {policy.names}")
    test = [(t, name) for name in policy.names for t in hand.get(name, [])]
    return {k: Dataset(tuple(t), tuple(lab)) for k, (t, lab) in split.items()} | {
        "test": Dataset(tuple(t for t, _ in test), tuple(n for _, n in test))}
