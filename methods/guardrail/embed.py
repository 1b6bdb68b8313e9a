# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The guardrail's embeddings: the methods' one embedder (`loyal.methods.kit.embed`), float32 for the head."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loyal.methods.kit.embed import DIM, model_path

__all__ = ["DIM", "embed", "model_path"]


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Unit-norm embeddings, shape (len(texts), DIM), float32."""
    from loyal.methods.kit import embed as kit

    return kit.embed(texts, batch_size, dtype=np.float32)
