# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The character LSTM of TFF's Shakespeare baseline, as a `transformers` model (save/load with HF APIs).

Architecture from Reddi et al., "Adaptive Federated Optimization" (arXiv 2003.00295, Table 8 /
TFF `shakespeare` baseline): embedding of size 8, two LSTM layers of 256 units, dense to the vocabulary.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput


class CharLstmConfig(PretrainedConfig):
    """Config of `CharLstmForCausalLM`."""

    model_type = "loyal-char-lstm"

    def __init__(self, vocab_size: int = 81, embedding_size: int = 8, hidden_size: int = 256, num_layers: int = 2, **kwargs):
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        super().__init__(**kwargs)


class CharLstmForCausalLM(PreTrainedModel):
    """Predicts the next character at every position; `logits` has shape (batch, seq, vocab)."""

    config_class = CharLstmConfig
    base_model_prefix = "lstm"

    def __init__(self, config: CharLstmConfig):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.embedding_size)
        self.lstm = nn.LSTM(config.embedding_size, config.hidden_size, config.num_layers, batch_first=True)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, **_) -> CausalLMOutput:
        hidden, _ = self.lstm(self.embed(input_ids))
        logits = self.head(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
        return CausalLMOutput(loss=loss, logits=logits)
