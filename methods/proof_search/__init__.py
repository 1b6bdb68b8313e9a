# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Proof search in the style of Pantograph (arXiv 2410.16429): goal states, tactics, best-first and MCTS search.

The tested backend is a small built-in propositional kernel (`kernel.py`, "built-in offline backend"); a Lean 4 /
Pantograph REPL backend (`lean.py`) is used only when `lean` is on PATH.
"""
