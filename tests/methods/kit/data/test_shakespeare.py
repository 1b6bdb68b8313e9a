# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Federated Shakespeare: parsing, client counts, train/test separation, vocabulary, caching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loyal.methods.kit.data.shakespeare import SEQ_LEN, CharVocab, load_shakespeare, parse_play, texts_dir

PLAY = """THE TRAGEDY OF TESTING

PERSONS REPRESENTED.

Alpha, a tester.

ACT I.

Scene I. A lab.

[Enter ALPHA and BETA.]

ALPHA.
First speech of alpha,
spanning two lines.

BETA.
Beta speaks [Aside.] once.

ALPHA.
Second speech of alpha.

[Exeunt.]

FIRST LORD.
A lord speaks.
"""


@pytest.fixture(scope="module")
def data():
    return load_shakespeare()


def test_parse_play_groups_speeches_by_role():
    roles = parse_play(PLAY)
    assert roles == {
        "ALPHA": ["First speech of alpha, spanning two lines.", "Second speech of alpha."],
        "BETA": ["Beta speaks once."],
        "FIRST LORD": ["A lord speaks."],
    }


def test_client_count_is_close_to_leaf(data):
    # LEAF (arXiv 1812.01097, Table 1) reports 1,129 roles; ours differ by play edition and by the
    # >= 2-speech rule (see README "Federated Shakespeare").
    assert 1000 <= len(data.client_ids) <= 1200
    assert len(set(data.client_ids)) == len(data.client_ids)
    assert "HAMLET_HAM" in data.client_ids


def test_train_and_test_come_from_disjoint_speeches(data):
    texts = texts_dir()
    roles = parse_play((texts / "hamlet_gut.txt").read_text(encoding="utf-8"))
    speeches = roles["HAM"]
    cut = round(0.8 * len(speeches))
    vocab = data.vocab
    assert np.array_equal(data.train_text["HAMLET_HAM"], vocab.encode(" ".join(speeches[:cut])))
    assert np.array_equal(data.test_text["HAMLET_HAM"], vocab.encode(" ".join(speeches[cut:])))


def test_no_window_crosses_the_train_test_boundary(data):
    cid = "HAMLET_HAM"
    x, y = data.train_arrays(cid)
    train = data.train_text[cid]
    assert x.shape == (len(train) - SEQ_LEN, SEQ_LEN)
    assert np.array_equal(x[-1], train[-SEQ_LEN - 1 : -1]) and y[-1] == train[-1]
    xt, yt = data.test_arrays(cid)
    assert np.array_equal(xt[0], data.test_text[cid][:SEQ_LEN])


def test_vocabulary_is_fixed_leaf_alphabet():
    vocab = CharVocab.load()
    assert vocab.size == 81 and vocab.chars[0] == "<oov>"
    assert "".join(vocab.chars[1:]) == "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"
    ids = vocab.encode("To be, or not to be — ©")
    assert vocab.decode(ids) == "To be, or not to be ? ?"
    assert ids.dtype == np.uint8 and ids.max() < vocab.size


def test_cache_round_trip_is_identical(data, tmp_path, monkeypatch):
    monkeypatch.setenv("LOYAL_CACHE_DIR", str(tmp_path))
    fresh = load_shakespeare()
    assert list(tmp_path.glob("shakespeare-*.npz"))
    cached = load_shakespeare()
    assert fresh.client_ids == cached.client_ids == data.client_ids
    for cid in fresh.client_ids[::97]:
        assert np.array_equal(fresh.train_text[cid], cached.train_text[cid])
        assert np.array_equal(fresh.test_text[cid], cached.test_text[cid])


@pytest.mark.parametrize("kwargs,message", [
    ({"min_lines": 1}, "min_lines must be >= 2"),
    ({"train_fraction": 1.0}, r"train_fraction must be in \(0, 1\)"),
    ({"seq_len": 0}, "seq_len must be >= 1"),
])
def test_load_shakespeare_fails_if_parameter_out_of_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_shakespeare(**kwargs)
