# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Lean 4 backend: drives a Pantograph REPL (arXiv 2410.16429) over JSON lines, when Lean is installed.

Lean cannot be installed on the development machines (no PyPI, npm or Debian package ships a Lean 4
toolchain), so this backend is untested here; the tested backend is the built-in kernel (`kernel.py`).
Commands follow the Pantograph REPL's `cmd {json}` line format: `goal.start {"expr": …}` answers
`{"stateId", "root"}`, `goal.tactic {"stateId", "goalId", "tactic"}` answers `{"nextStateId", "goals"}` or
`{"tacticErrors": […]}` / `{"parseError": …}`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from loyal.methods.proof_search.formula import Formula, atoms


class BackendUnavailable(RuntimeError):
    """The Lean/Pantograph backend cannot run on this machine (the message says what is missing)."""


class LeanTacticError(ValueError):
    """Lean rejected a tactic or an expression (the message carries Lean's errors)."""


def to_lean(f: Formula) -> str:
    """The Lean 4 statement ∀ (p q : Prop), … of a propositional formula."""
    def show(g: Formula) -> str:
        if g.op == "atom":
            return g.name
        if g.op == "bot":
            return "False"
        sym = {"imp": "→", "and": "∧", "or": "∨"}[g.op]
        return f"({show(g.left)} {sym} {show(g.right)})"

    names = sorted(atoms(f))
    return (f"∀ ({' '.join(names)} : Prop), " if names else "") + show(f)


@dataclasses.dataclass(frozen=True)
class LeanState:
    """A Pantograph goal state: its id in the REPL and the pretty-printed goals."""

    state_id: int
    goals: tuple[str, ...]

    @property
    def is_solved(self) -> bool:
        return not self.goals


def lean_available() -> bool:
    """Whether `lean` is on PATH."""
    return shutil.which("lean") is not None


class LeanBackend:
    """A running Pantograph REPL (use as a context manager).

    Args:
      command: the REPL command line, default `("pantograph-repl", "Init")`; it must be on PATH with `lean`.
      timeout_s: seconds to wait for each answer, > 0.

    Raises:
      BackendUnavailable: `lean` or the REPL binary is not on PATH.
    """

    def __init__(self, command: Sequence[str] = ("pantograph-repl", "Init"), timeout_s: float = 60.0):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if not lean_available():
            raise BackendUnavailable(
                "the Lean/Pantograph backend needs `lean` on PATH (a Lean 4 toolchain, e.g. from elan), which is "
                "not installed here; use the built-in offline backend (loyal.methods.proof_search.kernel)")
        if shutil.which(command[0]) is None:
            raise BackendUnavailable(f"`lean` is on PATH but the Pantograph REPL {command[0]!r} is not; build it "
                                     "with `lake build repl` in a Pantograph checkout and pass its path as command")
        self._command = tuple(command)
        self._timeout_s = timeout_s
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LeanBackend:
        self._proc = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._proc.wait(timeout=self._timeout_s)
            self._proc = None

    def _call(self, cmd: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self._proc is None:
            raise RuntimeError("LeanBackend used outside its `with` block")
        self._proc.stdin.write(f"{cmd} {json.dumps(payload)}\n")
        self._proc.stdin.flush()
        answer = json.loads(self._proc.stdout.readline())
        if "error" in answer or "parseError" in answer or answer.get("tacticErrors"):
            raise LeanTacticError(json.dumps(answer))
        return answer

    def start(self, theorem: Formula | str) -> LeanState:
        """`goal.start` on a formula (translated by `to_lean`) or a raw Lean expression."""
        expr = to_lean(theorem) if isinstance(theorem, Formula) else theorem
        answer = self._call("goal.start", {"expr": expr})
        return LeanState(int(answer["stateId"]), (expr,))

    def apply_tactic(self, state: LeanState, tactic: str, goal_id: int = 0) -> LeanState:
        """`goal.tactic` on goal `goal_id` of `state`; raises LeanTacticError when Lean rejects it."""
        answer = self._call("goal.tactic", {"stateId": state.state_id, "goalId": goal_id, "tactic": tactic})
        goals = tuple(g.get("target", {}).get("pp", "") for g in answer.get("goals", []))
        return LeanState(int(answer["nextStateId"]), goals)
