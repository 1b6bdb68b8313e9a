# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Exceptions of the zero-knowledge package."""

from __future__ import annotations


class ProofError(ValueError):
    """A proof is malformed or does not verify. The message says which check failed."""
