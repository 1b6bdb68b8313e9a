# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Federated data sets read from local files only: Shakespeare (LEAF-style) and sklearn digits."""

from loyal.methods.kit.data.digits import FederatedDigits, load_digits_federated
from loyal.methods.kit.data.shakespeare import CharVocab, FederatedShakespeare, load_shakespeare

#: Names accepted by `loyal data` and experiment configs.
DATASETS = ("shakespeare", "digits")

__all__ = [
    "DATASETS",
    "CharVocab",
    "FederatedDigits",
    "FederatedShakespeare",
    "load_digits_federated",
    "load_shakespeare",
]
