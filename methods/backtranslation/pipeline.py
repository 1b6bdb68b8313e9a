# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The back-and-forth translation pipeline of arXiv 2408.04614 (Sec. 2, Fig. 1), generator-agnostic.

documents x → backtranslate (an instruction y for which x is a response, Li et al. 2023 "Humpback")
→ score the (y, x) pairs and keep the top fraction (Sec. 2.2) → rewrite x into a response grounded in x
(Sec. 2.3); the baseline distils a response from y alone (no document; Sec. 4.2). Each step is a
function of a `generator.Generator` (or a `generator.Scorer`) and plain lists, so the harness can shard the documents.
Records are written as JSONL, one object per document with the keys of `RECORD_KEYS`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from loyal.methods.backtranslation.generator import Generator, Scorer


@dataclasses.dataclass(frozen=True)
class PromptFormat:
    """The prompts of the three generation steps; `{document}` and `{instruction}` are filled in.

    Attributes:
      backtranslate: asks for an instruction that `{document}` answers (ends where the instruction starts).
      respond: asks for a response to `{instruction}` alone (distillation, and the likelihood scorer).
      rewrite: asks for a response to `{instruction}` grounded in `{document}`.
      rate: asks for a 1-5 quality rating of the pair (the paper's self-curation scorer), or "" if unused.
    """

    backtranslate: str
    respond: str
    rewrite: str
    rate: str = ""


#: The short markers the stand-in model is trained on (`standin.py`).
STAND_IN_FORMAT = PromptFormat(
    backtranslate="### Document:\n{document}\n### Instruction:\n",
    respond="### Instruction:\n{instruction}\n### Response:\n",
    rewrite="### Instruction:\n{instruction}\n### Document:\n{document}\n### Rewritten response:\n",
)

#: Prompts for an aligned LLM served at a URL, paraphrasing the paper's Appendix prompts.
CHAT_FORMAT = PromptFormat(
    backtranslate="Below is a web document. Write the instruction or question from a user to which this document "
    "would be a good answer. Reply with the instruction only.\n\nDocument:\n{document}\n\nInstruction:",
    respond="Respond to the following instruction.\n\nInstruction: {instruction}\n\nResponse:",
    rewrite="Below is an instruction from a user and a candidate answer taken from a web document. Rewrite the answer "
    "into a helpful, well-organised response to the instruction, keeping only information grounded in the "
    "document.\n\nInstruction: {instruction}\n\nDocument:\n{document}\n\nRewritten response:",
    rate="Below is an instruction from a user and a candidate answer. Rate on a scale of 1 to 5 how well the answer "
    "serves as an AI assistant's response to the instruction (5: a perfect, helpful answer; 1: irrelevant or "
    "incomplete). Reply as 'Score: N'.\n\nInstruction: {instruction}\n\nAnswer:\n{document}\n\n",
)

FORMATS = {"stand_in": STAND_IN_FORMAT, "chat": CHAT_FORMAT}

#: Keys of one JSONL record and their types (`None` allowed for `rewritten`/`distilled` of dropped pairs).
RECORD_KEYS: dict[str, type] = {
    "document_id": str, "document": str, "instruction": str, "score": float, "kept": bool,
    "rewritten": str, "distilled": str,
}


def _first_line(text: str) -> str:
    """A generated instruction: its first line, up to any section marker ("###")."""
    return text.split("###", 1)[0].strip().split("\n", 1)[0].strip()


def _response(text: str) -> str:
    """A generated response up to the next section marker ("###")."""
    return text.split("###", 1)[0].strip()


def backtranslate(generator: Generator, documents: Sequence[str], fmt: PromptFormat, max_new_tokens: int, seed: int) -> list[str]:
    """Instructions y_i for which documents x_i are responses (the backward model, Sec. 2.1); first line only."""
    prompts = [fmt.backtranslate.format(document=d) for d in documents]
    return [_first_line(t) for t in generator.generate(prompts, max_new_tokens, seed)]


def likelihood_scores(scorer: Scorer, instructions: Sequence[str], documents: Sequence[str], fmt: PromptFormat) -> list[float]:
    """Score of (y, x): mean per-token log p(x | y) under the forward format (a stated stand-in for the
    paper's rating prompt, which a small model cannot follow); higher is better."""
    prompts = [fmt.respond.format(instruction=y) for y in instructions]
    return [float(s) for s in scorer.mean_log_likelihood(prompts, list(documents))]


def parse_rating(text: str) -> float:
    """The 1-5 rating in a reply such as "Score: 4" (the first digit 1-5 after "score"), NaN if none."""
    match = re.search(r"score\D{0,5}([1-5])", text, flags=re.IGNORECASE) or re.match(r"\s*([1-5])\b", text)
    return float(match.group(1)) if match else math.nan


def rating_scores(generator: Generator, instructions: Sequence[str], documents: Sequence[str], fmt: PromptFormat, seed: int) -> list[float]:
    """Score of (y, x): the generator's own 1-5 rating (the paper's curation step, Sec. 2.2)."""
    if not fmt.rate:
        raise ValueError("prompt format has no rating prompt; use the likelihood scorer")
    prompts = [fmt.rate.format(instruction=y, document=x) for y, x in zip(instructions, documents, strict=True)]
    return [parse_rating(t) for t in generator.generate(prompts, 8, seed)]


def filter_pairs(scores: Sequence[float], keep_fraction: float) -> np.ndarray:
    """Indices of the top ceil(keep_fraction · n) scores, in index order (ties: lower index first; NaN last).

    Args:
      scores: one score per pair, higher is better.
      keep_fraction: in (0, 1].

    Raises:
      ValueError: `keep_fraction` out of range.
    """
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    values = np.asarray(scores, dtype=float)
    k = math.ceil(keep_fraction * len(values))
    order = np.lexsort((np.arange(len(values)), -np.nan_to_num(values, nan=-np.inf)))
    return np.sort(order[:k])


def rewrite(generator: Generator, instructions: Sequence[str], documents: Sequence[str], fmt: PromptFormat, max_new_tokens: int, seed: int) -> list[str]:
    """Responses to y_i rewritten from and grounded in x_i (Sec. 2.3)."""
    prompts = [fmt.rewrite.format(instruction=y, document=x) for y, x in zip(instructions, documents, strict=True)]
    return [_response(t) for t in generator.generate(prompts, max_new_tokens, seed)]


def distill(generator: Generator, instructions: Sequence[str], fmt: PromptFormat, max_new_tokens: int, seed: int) -> list[str]:
    """Responses to y_i from the instruction alone (the distillation baseline, Sec. 4.2)."""
    prompts = [fmt.respond.format(instruction=y) for y in instructions]
    return [_response(t) for t in generator.generate(prompts, max_new_tokens, seed)]


def validate_record(record: dict) -> dict:
    """`record` if it has exactly the keys of `RECORD_KEYS` with their types.

    Raises:
      ValueError: a missing or extra key, or a value of the wrong type.
    """
    if set(record) != set(RECORD_KEYS):
        raise ValueError(f"record keys must be {sorted(RECORD_KEYS)}, got {sorted(record)}")
    for key, kind in RECORD_KEYS.items():
        value = record[key]
        if value is None and key in ("rewritten", "distilled") and not record["kept"]:
            continue
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise ValueError(f"record[{key!r}] must be {kind.__name__}, got {value!r}")
    return record


def write_jsonl(path: Path, records: Sequence[dict]) -> None:
    """Writes validated records, one JSON object per line (UTF-8; NaN scores are written as null)."""
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            validate_record(record)
            clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
            f.write(json.dumps(clean, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """Records written by `write_jsonl`, validated (null scores read back as NaN)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("score", 0.0) is None:
                record["score"] = math.nan
            records.append(validate_record(record))
    return records
