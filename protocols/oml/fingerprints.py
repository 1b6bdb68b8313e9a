# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The fingerprint record, its JSONL schema and validation (one JSON object per line).

Schema of one line (all fields required)::

    {"index": 0, "kind": "perinucleus", "key": "...", "response": "...",
     "key_ids": [..], "response_ids": [..], "tokenizer": "<sha256 of the tokenizer's vocabulary>"}

`key_ids`/`response_ids` are the source of truth (text can re-tokenize differently); `tokenizer` binds
the file to the tokenizer that produced the ids, so a mismatched model is rejected before any query.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Sequence


class FingerprintKind(enum.StrEnum):
    """How the response was chosen (Sec. 3 of arXiv 2502.07760 compares the three)."""

    PERINUCLEUS = "perinucleus"
    RANDOM = "random"
    ENGLISH = "english"


class TokenizerMismatchError(ValueError):
    """The fingerprints were generated with a different tokenizer than the model's."""


_FIELDS = ("index", "kind", "key", "response", "key_ids", "response_ids", "tokenizer")


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """One (key, response) pair. Secret until revealed: keep it out of logs (`repr` shows the index only).

    Attributes:
      index: position in the owner's list, ≥ 0, unique within a file.
      kind: how the response was chosen.
      key_ids: the L key token ids (L ≥ 1).
      response_ids: the response token ids (≥ 1).
      tokenizer: digest of the tokenizer (see `loyal.methods.oml.model.tokenizer_digest`).
      key / response: decoded text, for humans and for chat-template wrapping.
    """

    index: int
    kind: FingerprintKind
    key_ids: tuple[int, ...] = dataclasses.field(repr=False)
    response_ids: tuple[int, ...] = dataclasses.field(repr=False)
    tokenizer: str = dataclasses.field(repr=False)
    key: str = dataclasses.field(default="", repr=False)
    response: str = dataclasses.field(default="", repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise ValueError(f"fingerprint index must be an integer ≥ 0, got {self.index!r}")
        object.__setattr__(self, "kind", FingerprintKind(self.kind))
        for name in ("key_ids", "response_ids"):
            ids = getattr(self, name)
            if not isinstance(ids, (list, tuple)) or len(ids) == 0:
                raise ValueError(f"fingerprint {self.index}: {name} must be a non-empty list of token ids")
            if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
                raise ValueError(f"fingerprint {self.index}: {name} must hold integers ≥ 0, got {list(ids)!r}")
            object.__setattr__(self, name, tuple(ids))
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise ValueError(f"fingerprint {self.index}: tokenizer digest must be a non-empty string")

    def to_json(self) -> str:
        """One JSONL line (no trailing newline)."""
        return json.dumps({"index": self.index, "kind": str(self.kind), "key": self.key, "response": self.response,
                           "key_ids": list(self.key_ids), "response_ids": list(self.response_ids),
                           "tokenizer": self.tokenizer}, ensure_ascii=False)


def parse_fingerprints(lines: Iterable[str], source: str = "<fingerprints>") -> tuple[Fingerprint, ...]:
    """Parses and validates JSONL fingerprint lines (blank lines are skipped).

    Raises:
      ValueError: no fingerprint at all, a malformed line, a missing field, a duplicate index, a repeated key
        (a repeated key is one trial counted twice, which breaks the false-claim bound), or fingerprints made
        with different tokenizers; the message names the source and line number.
    """
    out: list[Fingerprint] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{source}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        missing = [f for f in _FIELDS if f not in obj]
        if missing:
            raise ValueError(f"{source}:{lineno}: missing field(s) {missing}")
        try:
            out.append(Fingerprint(index=obj["index"], kind=obj["kind"], key_ids=obj["key_ids"],
                                   response_ids=obj["response_ids"], tokenizer=obj["tokenizer"],
                                   key=str(obj["key"]), response=str(obj["response"])))
        except ValueError as e:
            raise ValueError(f"{source}:{lineno}: {e}") from None
    if not out:
        raise ValueError(f"{source}: fingerprint file is empty (expected one JSON object per line)")
    seen: set[int] = set()
    keys: dict[str, int] = {}
    for fp in out:
        if fp.index in seen:
            raise ValueError(f"{source}: duplicate fingerprint index {fp.index}")
        if fp.key in keys:
            raise ValueError(f"{source}: fingerprints {keys[fp.key]} and {fp.index} repeat the same key")
        seen.add(fp.index)
        keys[fp.key] = fp.index
    digests = {fp.tokenizer for fp in out}
    if len(digests) > 1:
        raise ValueError(f"{source}: fingerprints come from {len(digests)} different tokenizers")
    return tuple(out)


def check_tokenizer(fingerprints: Sequence[Fingerprint], tokenizer_digest: str, vocab_size: int) -> None:
    """Checks that the fingerprints were generated with the model's tokenizer.

    Raises:
      TokenizerMismatchError: the digests differ or a token id is outside the model's vocabulary.
    """
    if not fingerprints:
        raise ValueError("no fingerprints given")
    expected = fingerprints[0].tokenizer
    if expected != tokenizer_digest:
        raise TokenizerMismatchError(
            f"mismatched tokenizer: fingerprints were generated with tokenizer {expected[:12]}…, "
            f"the model's tokenizer is {tokenizer_digest[:12]}…"
        )
    top = max(max(fp.key_ids + fp.response_ids) for fp in fingerprints)
    if top >= vocab_size:
        raise TokenizerMismatchError(f"mismatched tokenizer: token id {top} ≥ model vocabulary size {vocab_size}")
