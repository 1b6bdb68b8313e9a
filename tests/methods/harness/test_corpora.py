# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Local corpora: every category has files here, documents are deterministic and sized."""

from __future__ import annotations

import pytest

from loyal.methods.harness.corpora import CATEGORIES, category_files, load_documents, split_lines


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_reads_local_documents(category) -> None:
    docs = load_documents(category, 500, 20_000)
    assert docs == load_documents(category, 500, 20_000)
    assert sum(map(len, docs)) >= 20_000 and all(len(d) >= 125 for d in docs)
    assert category_files(category)


def test_split_lines_cuts_at_line_boundaries() -> None:
    docs = split_lines("aaaa\nbbbb\ncccc\nd\n", 8)
    assert docs == ["aaaa\nbbbb\n", "cccc\nd\n"]


def test_category_files_fails_if_category_is_unknown() -> None:
    with pytest.raises(ValueError, match="unknown category 'latin'"):
        category_files("latin")
