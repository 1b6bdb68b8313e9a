# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A small character-level causal transformer (GPT-2 architecture from a `transformers` config)."""

from __future__ import annotations

from transformers import GPT2Config, GPT2LMHeadModel


def char_transformer(
    vocab_size: int, seq_len: int = 80, width: int = 128, layers: int = 3, heads: int = 4
) -> GPT2LMHeadModel:
    """Builds a GPT-2 style char LM (Radford et al. 2019) trained from scratch; ~0.62M parameters by default.

    Args:
      vocab_size: characters in the vocabulary (81 for Shakespeare).
      seq_len: longest context (the 80-character window).
      width: embedding size; must be divisible by `heads`.
      layers: transformer blocks.
      heads: attention heads.
    """
    if width % heads:
        raise ValueError(f"width must be divisible by heads, got width={width}, heads={heads}")
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=seq_len, n_embd=width, n_layer=layers, n_head=heads,
        n_inner=4 * width, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0,
    )
    return GPT2LMHeadModel(config)
