# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The two tasks of the headline experiment: a bigram softmax on federated Shakespeare, and digits.

`BigramTask`: the model is an 81 x 81 matrix of logits W, P = softmax(W) row-wise, and a client's loss is
its mean next-character cross-entropy over its bigram counts N (N[i, j] = times character j follows i):

    L(W) = -(1/T) sum_ij N_ij log P_ij,   dL/dW_ij = (n_i P_ij - N_ij) / T,   n_i = sum_j N_ij, T = sum n_i,

so local steps cost O(81^2) per client and a whole cohort is one batched array operation. Clients are the
(play, role) clients of `loyal.methods.kit.data.load_shakespeare` cut into chunks of `chunk_chars`
consecutive training characters (16,000 clients, so that 50 per round with k = 4 participations b = 250
rounds apart is feasible; one client per role gives only 1,060). Validation and test are the first and
second halves of each role's held-out text. `DigitsTask`: the existing digits MLP and local SGD.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import numpy as np
import torch

from loyal.methods.kit.data import load_digits_federated, load_shakespeare
from loyal.methods.kit.models import build_model
from loyal.methods.kit.train import LocalTrainConfig, evaluate, get_flat_params, local_update, set_flat_params

SPLITS = ("validation", "test")


def bigram_codes(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """The bigrams of a character-id sequence as codes prev * V + next (int64)."""
    ids = np.asarray(ids, dtype=np.int64)
    return ids[:-1] * vocab_size + ids[1:] if ids.size > 1 else np.zeros(0, np.int64)


def bigram_counts(codes: np.ndarray, vocab_size: int) -> np.ndarray:
    """The V x V count matrix of bigram codes."""
    return np.bincount(codes, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size).astype(np.float64)


def softmax_rows(weights: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis (max-shifted)."""
    e = np.exp(weights - weights.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def bigram_gradient(weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """dL/dW of the mean cross-entropy of `counts` (..., V, V) under logits `weights` (..., V, V) (module doc)."""
    total = counts.sum(axis=(-2, -1), keepdims=True)
    rows = counts.sum(axis=-1, keepdims=True)
    return (rows * softmax_rows(weights) - counts) / np.maximum(total, 1.0)


def bigram_loss_accuracy(weights: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy) of the bigram model on the counts."""
    if not np.all(np.isfinite(weights)):
        return float("inf"), 0.0
    shifted = weights - weights.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    total = counts.sum()
    hits = counts[np.arange(counts.shape[0]), weights.argmax(axis=-1)].sum()
    return float(-(counts * log_p).sum() / total), float(hits / total)


@dataclasses.dataclass(frozen=True)
class BigramTask:
    """Federated Shakespeare, bigram softmax (module doc).

    Attributes:
      chunk_chars: training characters per client, >= 2 (default 192: 16,000 clients).
      local_steps: full-batch gradient steps per client and round, >= 1 (default 1: the update is
        -lr * gradient, FedSGD; more steps cost one batched softmax each).
      client_learning_rate: > 0 (default 4.0; the loss is a mean, gradients are small).
    """

    chunk_chars: int = 192
    local_steps: int = 1
    client_learning_rate: float = 4.0
    name: str = "shakespeare-bigram"

    def __post_init__(self) -> None:
        if self.chunk_chars < 2:
            raise ValueError(f"chunk_chars must be >= 2, got chunk_chars={self.chunk_chars}")
        if self.local_steps < 1 or not self.client_learning_rate > 0:
            raise ValueError(f"local_steps must be >= 1 and client_learning_rate > 0, got {self.local_steps}, "
                             f"{self.client_learning_rate}")

    @cached_property
    def _data(self) -> tuple[list[np.ndarray], dict[str, np.ndarray], int]:
        data = load_shakespeare()
        v = data.vocab.size
        clients: list[np.ndarray] = []
        held = {s: np.zeros((v, v)) for s in SPLITS}
        for cid in data.client_ids:
            text = data.train_text[cid]
            cuts = list(range(0, len(text), self.chunk_chars))
            if len(cuts) > 1 and len(text) - cuts[-1] < self.chunk_chars // 2:
                cuts.pop()  # a short tail joins the previous chunk
            for lo, hi in zip(cuts, [*cuts[1:], len(text)]):
                codes = bigram_codes(text[lo:hi], v)
                if codes.size:
                    clients.append(codes)
            test = data.test_text[cid]
            half = len(test) // 2
            held["validation"] += bigram_counts(bigram_codes(test[:half], v), v)
            held["test"] += bigram_counts(bigram_codes(test[half:], v), v)
        return clients, held, v

    @property
    def vocab_size(self) -> int:
        return self._data[2]

    @property
    def num_clients(self) -> int:
        return len(self._data[0])

    @property
    def dim(self) -> int:
        return self.vocab_size**2

    def init_params(self) -> np.ndarray:
        """W = 0 (the uniform next-character distribution)."""
        return np.zeros(self.dim)

    def cohort_counts(self, clients: np.ndarray) -> np.ndarray:
        """(m, V, V) bigram counts of the cohort."""
        codes, v = self._data[0], self.vocab_size
        flat = np.concatenate([codes[int(c)] + i * v * v for i, c in enumerate(clients)])
        return np.bincount(flat, minlength=len(clients) * v * v).reshape(len(clients), v, v).astype(np.float64)

    def client_updates(self, params: np.ndarray, clients: np.ndarray, seed: int) -> np.ndarray:
        """(m, d) model deltas after `local_steps` full-batch steps from `params` (`seed` unused: deterministic)."""
        del seed
        v = self.vocab_size
        counts = self.cohort_counts(clients)
        start = params.reshape(1, v, v)
        # Every client starts from `params`: the first step's softmax is shared by the cohort.
        total = np.maximum(counts.sum(axis=(1, 2), keepdims=True), 1.0)
        w = start - self.client_learning_rate * (counts.sum(axis=2, keepdims=True) * softmax_rows(start) - counts) / total
        for _ in range(self.local_steps - 1):
            w -= self.client_learning_rate * bigram_gradient(w, counts)
        return (w - start).reshape(len(clients), -1)

    def evaluate(self, params: np.ndarray, split: str) -> tuple[float, float]:
        """(loss, accuracy) on the validation or test counts."""
        v = self.vocab_size
        return bigram_loss_accuracy(params.reshape(v, v), self._data[1][split])


@dataclasses.dataclass(frozen=True)
class DigitsTask:
    """Federated digits with the digits MLP and local SGD (`loyal.methods.kit`); validation = the held-out
    samples of even-numbered clients, test = those of odd-numbered ones.

    Attributes:
      clients: number of clients (Dirichlet partition, alpha 0.5, seed 0).
      local: local training settings.
    """

    clients: int = 300
    local: LocalTrainConfig = LocalTrainConfig(learning_rate=0.5, batch_size=16, max_steps=5)
    name: str = "digits"

    @cached_property
    def _data(self):
        data = load_digits_federated(num_clients=self.clients, alpha=0.5, seed=0)
        torch.manual_seed(0)
        model = build_model("digits-mlp")
        held = {}
        for parity, split in enumerate(SPLITS):
            ids = data.client_ids[parity::2]
            held[split] = (np.concatenate([data.test_arrays(c)[0] for c in ids]),
                           np.concatenate([data.test_arrays(c)[1] for c in ids]))
        return data, model, get_flat_params(model).double().numpy().copy(), held

    @property
    def num_clients(self) -> int:
        return len(self._data[0].client_ids)

    @property
    def dim(self) -> int:
        return self._data[2].size

    def init_params(self) -> np.ndarray:
        return self._data[2].copy()

    def client_updates(self, params: np.ndarray, clients: np.ndarray, seed: int) -> np.ndarray:
        data, model, _, _ = self._data
        set_flat_params(model, torch.as_tensor(params, dtype=torch.float32))
        out = np.empty((len(clients), params.size))
        for i, c in enumerate(clients):
            x, y = data.train_arrays(data.client_ids[int(c)])
            out[i] = local_update(model, x, y, self.local, seed + int(c))[0].double().numpy()
        return out

    def evaluate(self, params: np.ndarray, split: str) -> tuple[float, float]:
        if not np.all(np.isfinite(params)):
            return float("inf"), 0.0
        _, model, _, held = self._data
        set_flat_params(model, torch.as_tensor(params, dtype=torch.float32))
        return evaluate(model, *held[split])
