# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Loyal: private, community-owned AI (SSA for DP-FTRL, OML fingerprints, on-chain registry)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("loyal-ai")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
