# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Models for the federated tasks; every one saves with `save_pretrained` and loads with `load_model`."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, PreTrainedModel
from transformers.utils import logging as hf_logging

from loyal.methods.kit.models.char_lstm import CharLstmConfig, CharLstmForCausalLM
from loyal.methods.kit.models.char_transformer import char_transformer
from loyal.methods.kit.models.digits import DigitsClassifier, DigitsConfig

hf_logging.disable_progress_bar()  # our own rich bars show progress; keep CLI output clean
AutoConfig.register(CharLstmConfig.model_type, CharLstmConfig, exist_ok=True)
AutoConfig.register(DigitsConfig.model_type, DigitsConfig, exist_ok=True)
AutoModelForCausalLM.register(CharLstmConfig, CharLstmForCausalLM, exist_ok=True)
AutoModel.register(DigitsConfig, DigitsClassifier, exist_ok=True)

#: Model names accepted by configs and the CLI, with the task each one solves.
MODELS = {"char-transformer": "shakespeare", "char-transformer-small": "shakespeare", "char-lstm": "shakespeare", "digits-mlp": "digits", "digits-cnn": "digits"}


def build_model(name: str, vocab_size: int = 81) -> PreTrainedModel:
    """Builds a freshly initialised model by name (see `MODELS`)."""
    if name == "char-transformer":
        return char_transformer(vocab_size)
    if name == "char-transformer-small":  # ~0.11M parameters: the demo's model on 2 CPU cores
        return char_transformer(vocab_size, width=64, layers=2)
    if name == "char-lstm":
        return CharLstmForCausalLM(CharLstmConfig(vocab_size=vocab_size))
    if name in ("digits-mlp", "digits-cnn"):
        return DigitsClassifier(DigitsConfig(architecture=name.removeprefix("digits-")))
    raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")


def load_model(path: str | Path) -> PreTrainedModel:
    """Loads any model saved by `save_pretrained` from a local folder (never from a hub)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no saved model at {path} (config.json missing)")
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    auto = AutoModel if isinstance(config, DigitsConfig) else AutoModelForCausalLM
    return auto.from_pretrained(path, local_files_only=True)


def num_parameters(model: PreTrainedModel) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["MODELS", "build_model", "load_model", "num_parameters", "CharLstmForCausalLM", "DigitsClassifier"]
