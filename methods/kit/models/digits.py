# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Small classifiers for 8x8 digits (MLP and CNN) as `transformers` models."""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

ARCHITECTURES = ("mlp", "cnn")


class DigitsConfig(PretrainedConfig):
    """Config of `DigitsClassifier`: `architecture` is "mlp" (64-128-10) or "cnn" (two 3x3 convs)."""

    model_type = "loyal-digits"

    def __init__(self, architecture: str = "mlp", hidden_size: int = 128, num_labels: int = 10, **kwargs):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.architecture = architecture
        self.hidden_size = hidden_size
        super().__init__(num_labels=num_labels, **kwargs)


class DigitsClassifier(PreTrainedModel):
    """Input `pixel_values` of shape (batch, 64) with values in [0, 1]."""

    config_class = DigitsConfig
    base_model_prefix = "net"

    def __init__(self, config: DigitsConfig):
        super().__init__(config)
        if config.architecture == "mlp":
            self.net = nn.Sequential(nn.Linear(64, config.hidden_size), nn.ReLU(), nn.Linear(config.hidden_size, config.num_labels))
        else:
            self.net = nn.Sequential(
                nn.Unflatten(1, (1, 8, 8)),
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(32 * 2 * 2, config.num_labels),
            )
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **_) -> SequenceClassifierOutput:
        logits = self.net(pixel_values)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
