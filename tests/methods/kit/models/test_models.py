# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Models: sizes, save_pretrained / from_pretrained(local_dir) round trip, bad names."""

from __future__ import annotations

import pytest
import torch

from loyal.methods.kit.models import MODELS, build_model, load_model, num_parameters


def _inputs(name: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if MODELS[name] == "shakespeare":
        return {"input_ids": torch.randint(0, 81, (2, 80), generator=g)}
    return {"pixel_values": torch.rand(3, 64, generator=g)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_and_load_round_trip(name, tmp_path):
    # Prepare
    torch.manual_seed(1)
    model = build_model(name).eval()
    # Execute
    model.save_pretrained(tmp_path / name)
    loaded = load_model(tmp_path / name).eval()
    # Assert
    assert type(loaded) is type(model)
    with torch.no_grad():
        assert torch.equal(model(**_inputs(name)).logits, loaded(**_inputs(name)).logits)


@pytest.mark.parametrize("name", ["char-transformer", "char-transformer-small", "char-lstm"])
def test_char_models_fit_the_one_million_parameter_budget(name):
    n = num_parameters(build_model(name))
    assert 100_000 < n <= 1_000_000


def test_char_lstm_matches_tff_baseline_shape():
    # TFF Shakespeare baseline: embedding 8, 2 x LSTM(256), dense to vocab (Reddi et al. 2020, Table 8).
    model = build_model("char-lstm")
    assert model.embed.embedding_dim == 8
    assert model.lstm.hidden_size == 256 and model.lstm.num_layers == 2


def test_build_model_fails_if_name_unknown():
    with pytest.raises(ValueError, match="unknown model 'gpt-5'"):
        build_model("gpt-5")


def test_load_model_fails_if_folder_has_no_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model at"):
        load_model(tmp_path)
