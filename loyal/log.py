# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Logging setup shared by every `loyal` command (rich handler on stderr)."""

import logging
import os

from rich.console import Console
from rich.logging import RichHandler

_CONFIGURED = False


def configure(verbosity: int = 0) -> None:
    """Configure the root `loyal` logger once.

    Args:
      verbosity: 0 = WARNING, 1 = INFO, 2+ = DEBUG. `LOYAL_LOG_LEVEL` overrides.
    """
    global _CONFIGURED
    level_name = os.environ.get("LOYAL_LOG_LEVEL")
    level = getattr(logging, level_name.upper(), logging.INFO) if level_name else (
        logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    )
    logger = logging.getLogger("loyal")
    logger.setLevel(level)
    if not _CONFIGURED:
        # stderr: stdout carries only a command's output (pure JSON with --json)
        handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        _CONFIGURED = True
