# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Byte-pair counts replayed along a merge list, and a reference BPE trainer (arXiv 2407.16607, Sec. 3).

BPE training (Sennrich et al. 2016) repeatedly merges the most frequent adjacent pair of symbols inside
pre-tokens. Replaying a tokenizer's ordered merge list m_1..m_T over a sample of category i gives
c_{i,t}(p): the frequency of pair p in that sample after applying m_1..m_{t−1}; these are the counts the
linear program of `lp.py` constrains. Merges apply left to right without overlap inside each word, as
Hugging Face `tokenizers`' BpeTrainer does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

Pair = tuple[str, str]


class PairCounts:
    """Mutable pair counts of one sample of word frequencies, updated merge by merge.

    Example:
      >>> pc = PairCounts({"aaab": 2})
      >>> pc.count(("a", "a"))
      4
      >>> pc.apply_merge(("a", "a"))
      >>> pc.words[0], pc.count(("aa", "a"))
      (['aa', 'a', 'b'], 2)
    """

    def __init__(self, word_counts: Mapping[str, float]) -> None:
        self.words: list[list[str]] = [list(w) for w in word_counts]
        self.freqs: list[float] = list(word_counts.values())
        self.counts: Counter = Counter()
        self._where: dict[Pair, set[int]] = defaultdict(set)
        for i, word in enumerate(self.words):
            self._add(i, word, +1)

    def _add(self, i: int, word: list[str], sign: int) -> None:
        f = sign * self.freqs[i]
        for pair in zip(word, word[1:]):
            self.counts[pair] += f
            if sign > 0:
                self._where[pair].add(i)

    def count(self, pair: Pair) -> float:
        return self.counts.get(pair, 0)

    def top(self, k: int) -> list[tuple[Pair, float]]:
        """The k most frequent pairs with their counts."""
        return [(p, c) for p, c in self.counts.most_common(k) if c > 0]

    def apply_merge(self, pair: Pair) -> None:
        """Merges every occurrence of `pair` (left to right, no overlap) and updates the counts."""
        a, b = pair
        for i in list(self._where.pop(pair, ())):
            word = self.words[i]
            if len(word) < 2:
                continue
            merged, j, changed = [], 0, False
            while j < len(word):
                if j + 1 < len(word) and word[j] == a and word[j + 1] == b:
                    merged.append(a + b)
                    j += 2
                    changed = True
                else:
                    merged.append(word[j])
                    j += 1
            if changed:
                self._add(i, word, -1)
                self.words[i] = merged
                self._add(i, merged, +1)
        self.counts.pop(pair, None)


def train_bpe(word_counts: Mapping[str, float], num_merges: int) -> list[Pair]:
    """Reference BPE trainer: the ordered merges of the most frequent pair (ties: the smallest pair).

    Args:
      word_counts: pre-token -> frequency (weights may be real numbers, e.g. a weighted mixture).
      num_merges: merges to learn, >= 0; stops early when no pair is left.
    """
    if num_merges < 0:
        raise ValueError(f"num_merges must be >= 0, got {num_merges}")
    state = PairCounts(word_counts)
    merges: list[Pair] = []
    for _ in range(num_merges):
        live = [(c, p) for p, c in state.counts.items() if c > 0]
        if not live:
            break
        best = max(live, key=lambda cp: (cp[0], tuple(-ord(ch) for ch in cp[1][0] + "\0" + cp[1][1])))[1]
        merges.append(best)
        state.apply_merge(best)
    return merges


def mixture_word_counts(samples: Sequence[Mapping[str, float]], weights: Sequence[float]) -> Counter:
    """Σ_i w_i · counts_i: the word counts of a weighted mixture of category samples."""
    if len(samples) != len(weights):
        raise ValueError(f"got {len(samples)} samples and {len(weights)} weights")
    total: Counter = Counter()
    for counts, w in zip(samples, weights):
        for word, c in counts.items():
            total[word] += w * c
    return total


def pretokenize(texts: Iterable[str], pre_tokenizer, normalizer=None) -> Counter:
    """Pre-token frequencies of `texts` under a `tokenizers` pre-tokenizer (and optional normalizer)."""
    counts: Counter = Counter()
    for text in texts:
        if normalizer is not None:
            text = normalizer.normalize_str(text)
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(text))
    return counts
