# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The user cache folder for derived data sets (override with LOYAL_CACHE_DIR)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import platformdirs


def cache_dir() -> Path:
    """Returns (and creates) the cache folder; `LOYAL_CACHE_DIR` overrides the user cache dir."""
    root = Path(os.environ.get("LOYAL_CACHE_DIR") or platformdirs.user_cache_dir("loyal"))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cache folder {root} is not writable ({e.strerror}); set LOYAL_CACHE_DIR") from e
    return root


def scratch_path(path: Path, suffix: str = "") -> Path:
    """A sibling of `path`, unique to this writer, to write a cache entry before `replace(path)` makes it
    appear whole: processes that build the same entry at once (a fleet's clients) never share a scratch
    file (a shared name let one writer's `replace` take the other's file away: FileNotFoundError).

    Args:
      suffix: ending the writer insists on (np.savez appends ".npz" to a name without it)."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}")


def cache_key(**params: Any) -> str:
    """A short stable digest of the parameters that define a cached artifact."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
