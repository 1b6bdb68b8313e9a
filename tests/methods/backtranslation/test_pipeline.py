# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Pipeline steps of arXiv 2408.04614 (Sec. 2): top-k filtering against brute force, JSONL schema, parsing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loyal.methods.backtranslation import pipeline
from loyal.methods.backtranslation.experiment import BacktranslationConfig


def _brute_force_top(scores: list[float], k: int) -> list[int]:
    """Among all k-subsets, the one with the largest sorted score vector, then the smallest indices."""
    best = None
    for subset in itertools.combinations(range(len(scores)), k):
        key = (sorted((scores[i] for i in subset), reverse=True), [-i for i in subset])
        if best is None or key > best[0]:
            best = (key, subset)
    return list(best[1])


@settings(max_examples=60, derandomize=True, deadline=None)
@given(scores=st.lists(st.sampled_from([-2.0, -1.0, -0.5, 0.0, 1.5]), min_size=1, max_size=8),
       keep=st.sampled_from([0.1, 0.25, 0.5, 0.75, 1.0]))
@example(scores=[1.0, 1.0, 1.0, 1.0], keep=0.5)
def test_filter_pairs_keeps_exactly_the_top_k_found_by_brute_force(scores: list[float], keep: float) -> None:
    # Execute
    kept = pipeline.filter_pairs(scores, keep)
    # Assert: k = ceil(keep · n) and the same set as exhaustive search (ties to the lower index)
    assert len(kept) == math.ceil(keep * len(scores))
    assert kept.tolist() == _brute_force_top(scores, len(kept))


def test_filter_pairs_ranks_nan_scores_last() -> None:
    assert pipeline.filter_pairs([math.nan, -5.0, math.nan, 2.0], 0.75).tolist() == [0, 1, 3]


@pytest.mark.parametrize("keep", [0.0, -0.1, 1.5])
def test_filter_pairs_fails_if_keep_fraction_out_of_range(keep: float) -> None:
    with pytest.raises(ValueError, match=rf"keep_fraction must be in \(0, 1\], got {keep}"):
        pipeline.filter_pairs([1.0, 2.0], keep)


def _record(i: int, kept: bool) -> dict:
    return {"document_id": f"python:m.f{i}", "document": f"def f{i}():\n    'ünïcode'", "instruction": f"Explain f{i}.",
            "score": -1.5 * i if i else math.nan, "kept": kept,
            "rewritten": f"Does {i}." if kept else None, "distilled": f"Maybe {i}." if kept else None}


def test_jsonl_round_trip_keeps_every_record(tmp_path) -> None:
    records = [_record(i, kept=i % 2 == 0) for i in range(5)]
    pipeline.write_jsonl(tmp_path / "pairs.jsonl", records)
    back = pipeline.read_jsonl(tmp_path / "pairs.jsonl")
    assert len(back) == 5 and math.isnan(back[0]["score"])
    for a, b in zip(records[1:], back[1:]):
        assert a == b
    assert len((tmp_path / "pairs.jsonl").read_text(encoding="utf-8").splitlines()) == 5


@pytest.mark.parametrize(("change", "message"), [
    ({"extra": 1}, r"record keys must be"),
    ({"kept": "yes"}, r"record\['kept'\] must be bool, got 'yes'"),
    ({"rewritten": None}, r"record\['rewritten'\] must be str, got None"),
    ({"score": "high"}, r"record\['score'\] must be float, got 'high'"),
])
def test_write_jsonl_fails_if_a_record_breaks_the_schema(tmp_path, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pipeline.write_jsonl(tmp_path / "bad.jsonl", [_record(1, kept=True) | change])


@pytest.mark.parametrize(("reply", "rating"), [
    ("Score: 4", 4.0), ("score:5 because", 5.0), (" 3", 3.0), ("The answer is good.\nScore - 2", 2.0),
    ("Score: 9", math.nan), ("no idea", math.nan),
])
def test_parse_rating_reads_the_paper_style_score(reply: str, rating: float) -> None:
    got = pipeline.parse_rating(reply)
    assert (math.isnan(got) and math.isnan(rating)) or got == rating


class _EchoGenerator:
    """Answers every prompt with its length and a trailing section marker."""

    def generate(self, prompts: list[str], max_new_tokens: int, seed: int) -> list[str]:
        return [f" {len(p)} chars\nsecond line\n### Document:\nleak" for p in prompts]


def test_steps_fill_their_prompts_and_cut_replies() -> None:
    gen, fmt = _EchoGenerator(), pipeline.STAND_IN_FORMAT
    docs, instr = ["abc", "defgh"], ["Say a.", "Say b."]
    expected_bt = [f"{len(fmt.backtranslate.format(document=d))} chars" for d in docs]
    assert pipeline.backtranslate(gen, docs, fmt, 8, 0) == expected_bt
    rewritten = pipeline.rewrite(gen, instr, docs, fmt, 8, 0)
    assert rewritten[1] == f"{len(fmt.rewrite.format(instruction='Say b.', document='defgh'))} chars\nsecond line"
    assert pipeline.distill(gen, instr, fmt, 8, 0)[0].startswith(f"{len(fmt.respond.format(instruction='Say a.'))} chars")


def test_rating_scores_fail_if_the_format_has_no_rating_prompt() -> None:
    with pytest.raises(ValueError, match="no rating prompt"):
        pipeline.rating_scores(_EchoGenerator(), ["y"], ["x"], pipeline.STAND_IN_FORMAT, 0)
    assert np.isnan(pipeline.rating_scores(_EchoGenerator(), ["y"], ["x"], pipeline.CHAT_FORMAT, 0)[0])


@pytest.mark.parametrize(("values", "message"), [
    ({"model_dir": "/m", "base_url": "https://x"}, "give model_dir or base_url, not both"),
    ({"base_url": "https://x", "prompt_format": "chat"}, "scorer='likelihood' needs a local model"),
    ({"prompt_format": "chat"}, "the stand-in is trained on prompt_format='stand_in'"),
    ({"keep_fraction": 0.0}, "keep_fraction out of range, got 0.0"),
    ({"documents": 8, "shards": 2, "keep_fraction": 0.5}, "keeps 4 pairs; the rewritten-vs-distilled probe needs >= 5"),
])
def test_config_fails_if_settings_conflict(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BacktranslationConfig(**values)
