# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Propositional formulas: atoms, ⊥, →, ∧, ∨ (¬A is A → ⊥), a parser, and truth-table semantics.

Example:
  >>> str(parse("(p -> q) -> ~q -> ~p"))
  '(p → q) → ¬q → ¬p'
  >>> is_tautology(parse("p | ~p")), is_tautology(parse("p -> q"))
  (True, False)
"""

from __future__ import annotations

import dataclasses
import itertools
import re


@dataclasses.dataclass(frozen=True, order=True)
class Formula:
    """A formula node: `op` is "atom" (with `name`), "bot", "imp", "and" or "or" (with `left`, `right`)."""

    op: str
    name: str = ""
    left: Formula | None = None
    right: Formula | None = None

    def __str__(self) -> str:
        return _show(self, 0)

    @property
    def size(self) -> int:
        """Number of nodes."""
        return 1 + (self.left.size if self.left else 0) + (self.right.size if self.right else 0)


BOT = Formula("bot")
OPS = ("atom", "bot", "imp", "and", "or")


def atom(name: str) -> Formula:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"atom name must match [a-z][a-z0-9_]*, got {name!r}")
    return Formula("atom", name=name)


def imp(a: Formula, b: Formula) -> Formula:
    return Formula("imp", left=a, right=b)


def conj(a: Formula, b: Formula) -> Formula:
    return Formula("and", left=a, right=b)


def disj(a: Formula, b: Formula) -> Formula:
    return Formula("or", left=a, right=b)


def neg(a: Formula) -> Formula:
    return imp(a, BOT)


_PREC = {"imp": 1, "or": 2, "and": 3}
_SYM = {"imp": "→", "or": "∨", "and": "∧"}


def _show(f: Formula, outer: int) -> str:
    if f.op == "atom":
        return f.name
    if f.op == "bot":
        return "⊥"
    if f.op == "imp" and f.right == BOT:
        return "¬" + _show(f.left, 4)
    p = _PREC[f.op]
    # → is right-associative, ∧/∨ right-nested as parsed
    text = f"{_show(f.left, p + 1)} {_SYM[f.op]} {_show(f.right, p)}"
    return f"({text})" if p < outer else text


_TOKEN = re.compile(r"\s*(->|→|<->|&|∧|\||∨|~|¬|\(|\)|_\|_|⊥|false|[a-z][a-z0-9_]*)")


def parse(text: str) -> Formula:
    """Parses ASCII or Unicode syntax: `->`/`→`, `&`/`∧`, `|`/`∨`, `~`/`¬`, `false`/`⊥`; → and ∨, ∧ associate right.

    Raises:
      ValueError: the text is not a formula (the message gives the position).
    """
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse formula at position {pos}: {text[pos:pos + 10]!r}")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    out, rest = _parse_imp(tokens, 0)
    if rest != len(tokens):
        raise ValueError(f"unexpected token {tokens[rest]!r} in formula {text!r}")
    return out


def _parse_imp(t: list[str], i: int) -> tuple[Formula, int]:
    left, i = _parse_bin(t, i, ("|", "∨"), disj, lambda t, i: _parse_bin(t, i, ("&", "∧"), conj, _parse_unary))
    if i < len(t) and t[i] in ("->", "→"):
        right, i = _parse_imp(t, i + 1)
        return imp(left, right), i
    return left, i


def _parse_bin(t, i, syms, make, sub) -> tuple[Formula, int]:
    left, i = sub(t, i)
    if i < len(t) and t[i] in syms:
        right, i = _parse_bin(t, i + 1, syms, make, sub)
        return make(left, right), i
    return left, i


def _parse_unary(t: list[str], i: int) -> tuple[Formula, int]:
    if i >= len(t):
        raise ValueError("formula ends early")
    tok = t[i]
    if tok in ("~", "¬"):
        inner, i = _parse_unary(t, i + 1)
        return neg(inner), i
    if tok == "(":
        inner, i = _parse_imp(t, i + 1)
        if i >= len(t) or t[i] != ")":
            raise ValueError("missing ')'")
        return inner, i + 1
    if tok in ("_|_", "⊥", "false"):
        return BOT, i + 1
    if re.fullmatch(r"[a-z][a-z0-9_]*", tok):
        return atom(tok), i + 1
    raise ValueError(f"unexpected token {tok!r}")


def atoms(f: Formula) -> set[str]:
    """Atom names occurring in `f`."""
    if f.op == "atom":
        return {f.name}
    return (atoms(f.left) if f.left else set()) | (atoms(f.right) if f.right else set())


def evaluate(f: Formula, valuation: dict[str, bool]) -> bool:
    """Classical truth value of `f` under `valuation`."""
    if f.op == "atom":
        return valuation[f.name]
    if f.op == "bot":
        return False
    a, b = evaluate(f.left, valuation), evaluate(f.right, valuation)
    return (not a or b) if f.op == "imp" else (a and b) if f.op == "and" else (a or b)


def is_tautology(f: Formula) -> bool:
    """Brute-force truth table over all 2^|atoms| valuations (the oracle the tests use)."""
    names = sorted(atoms(f))
    return all(evaluate(f, dict(zip(names, bits))) for bits in itertools.product((False, True), repeat=len(names)))
