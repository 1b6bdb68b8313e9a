# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Data mixture inference (arXiv 2407.16607): pair-count replay, the LP (Sec. 3.1), a real tokenizers run."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.methods.bpe_mixture import experiment as E
from loyal.methods.bpe_mixture.bpe import PairCounts, mixture_word_counts, pretokenize, train_bpe
from loyal.methods.bpe_mixture.lp import merge_constraints, solve_mixture


def _recount(words: list[list[str]], freqs: list[float]) -> Counter:
    counts: Counter = Counter()
    for word, f in zip(words, freqs):
        for pair in zip(word, word[1:]):
            counts[pair] += f
    return +counts


def _synthetic_categories(rng: np.random.Generator) -> list[Counter]:
    """Three categories of words over overlapping alphabets with different letter and length statistics."""
    alphabets = ["abcdefgh", "efghijkl", "aeimquy"]
    cats = []
    for k, alphabet in enumerate(alphabets):
        p = rng.dirichlet(np.ones(len(alphabet)) * 0.7)
        words = ["".join(rng.choice(list(alphabet), size=rng.integers(2, 7 + k), p=p)) for _ in range(3000)]
        cats.append(Counter(words))
    return cats


@given(st.lists(st.text(alphabet="abc", min_size=1, max_size=8), min_size=1, max_size=12))
def test_pair_counts_match_a_fresh_recount_after_every_merge(words) -> None:
    state = PairCounts(Counter(words))
    for merge in train_bpe(Counter(words), 6):
        state.apply_merge(merge)
        assert +state.counts == _recount(state.words, state.freqs)


def test_train_bpe_merges_the_most_frequent_pair_first() -> None:
    # "low"×5, "lower"×2, "newest"×6, "widest"×3 (Sennrich et al. 2016's example): es (9), est (9), lo (7).
    merges = train_bpe({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 3)
    assert merges == [("e", "s"), ("es", "t"), ("l", "o")]


def test_lp_recovers_exact_proportions_from_a_merge_list_of_known_counts() -> None:
    # Prepare: the merge list BPE learns on Σ α_i counts_i / size_i (exact counts, no sampling noise).
    rng = np.random.default_rng(0)
    cats = _synthetic_categories(rng)
    sizes = [float(sum(len(w) * c for w, c in cat.items())) for cat in cats]
    alpha = np.array([0.5, 0.3, 0.2])
    merges = train_bpe(mixture_word_counts(cats, alpha / np.array(sizes)), 120)
    # Execute
    estimate = solve_mixture(merge_constraints([PairCounts(c) for c in cats], sizes, merges, top_k=40))
    # Assert: the true α is feasible with zero slack, and the LP pins it down to within 0.005.
    np.testing.assert_allclose(estimate, alpha, atol=0.005)
    assert estimate.sum() == pytest.approx(1.0)


def test_true_mixture_has_zero_slack_on_noise_free_constraints() -> None:
    rng = np.random.default_rng(1)
    cats = _synthetic_categories(rng)
    sizes = [float(sum(len(w) * c for w, c in cat.items())) for cat in cats]
    alpha = np.array([0.2, 0.2, 0.6])
    merges = train_bpe(mixture_word_counts(cats, alpha / np.array(sizes)), 60)
    constraints = merge_constraints([PairCounts(c) for c in cats], sizes, merges, top_k=40)
    assert np.min(constraints.diffs @ alpha) >= -1e-12


def test_real_tokenizers_merges_give_back_the_mixture_from_its_own_training_counts() -> None:
    # Oracle: counts taken from the very texts the Hugging Face BpeTrainer saw, so the only error left is
    # the LP's; the merge list pins α to 1e-3 (measured: 4 decimals on these seeds).
    cats = ("english", "python", "c")
    for seed in range(2):
        rng = np.random.default_rng(seed)
        alpha = rng.dirichlet(np.ones(3))
        parts = [E._take(E._documents(c)[0], int(a * 100_000), rng) for c, a in zip(cats, alpha)]
        tokenizer = E.train_tokenizer([t for part in parts for t in part], 100)
        counts = [pretokenize(part, tokenizer.pre_tokenizer) for part in parts]
        sizes = [float(sum(map(len, part))) for part in parts]
        estimate = solve_mixture(merge_constraints([PairCounts(c) for c in counts], sizes, E.merge_list(tokenizer), 20))
        np.testing.assert_allclose(estimate, alpha, atol=1e-3)


def test_real_tokenizers_run_on_held_out_samples_beats_a_uniform_guess() -> None:
    # Held-out estimation samples add sampling noise at this tiny scale (100k training characters, 100
    # merges): measured MSE ≈ 0.002-0.02 per mixture, versus ≈ 0.056 for guessing (1/3, 1/3, 1/3).
    config = E.BpeMixtureConfig(categories=("english", "python", "c"), mixtures=2, train_chars=100_000,
                                sample_chars=300_000, merges=100, top_k=20)
    results = [E.mixture_arm(config, seed) for seed in range(2)]
    uniform = np.mean([np.mean((np.array(r["alpha"]) - 1 / 3) ** 2) for r in results])
    assert np.mean([r["squared_error"] for r in results]) < min(0.03, 0.5 * uniform)
    assert all(r["merges"] == 100 for r in results)


def test_tokenizer_dir_mode_reads_a_saved_tokenizer(tmp_path) -> None:
    # Prepare: a tokenizer trained on 80% Python, 20% English, saved like any local tokenizer folder.
    rng = np.random.default_rng(3)
    texts = E._take(E._documents("python")[0], 80_000, rng) + E._take(E._documents("english")[0], 20_000, rng)
    E.train_tokenizer(texts, 100).save(str(tmp_path / "tokenizer.json"))
    config = E.BpeMixtureConfig(categories=("english", "python"), mixtures=1, sample_chars=100_000, merges=100,
                                tokenizer_dir=str(tmp_path))
    # Execute
    result = E.tokenizer_dir_arm(config)
    # Assert
    assert result["merges"] == 100
    assert sum(result["estimate"]) == pytest.approx(1.0)
    assert result["estimate"][1] > 0.6  # measured 0.69: held-out sampling noise at 100k characters


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"categories": ("english",)}, "categories must be >= 2 distinct names"),
        ({"categories": ("english", "klingon")}, r"categories must be among .* got \['klingon'\]"),
        ({"merges": 5}, r"merges must be in \[10, 5000\], got 5"),
        ({"tokenizer_dir": "/nonexistent"}, "tokenizer_dir must hold a tokenizer.json"),
    ],
)
def test_config_fails_if_value_is_bad(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        E.BpeMixtureConfig(**kwargs)
