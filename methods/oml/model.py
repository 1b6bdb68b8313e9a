# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Models and tokenizers for OML fingerprinting: tiny Shakespeare base LMs, loading, perplexity.

Any Hugging Face causal LM saved with `save_pretrained` beside its tokenizer works with the OML methods
(`load_model_and_tokenizer`); this module also builds the small ones trained here from scratch:
a byte-level BPE tokenizer trained offline with the `tokenizers` library and a GPT-2 config LM
(`train_base_model`, cached in the user cache folder). Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, PreTrainedModel, PreTrainedTokenizerFast

from loyal.methods.kit.data.cache import cache_dir, cache_key, scratch_path
from loyal.methods.kit.data.shakespeare import CharVocab, load_shakespeare
from loyal.methods.kit.train import device

logger = logging.getLogger(__name__)

#: The end-of-text token every tokenizer built here carries (also used as BOS and padding).
EOS = "<|endoftext|>"
_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ShakespeareText:
    """Plain-text splits of the federated Shakespeare data (speeches of every role, joined).

    Attributes:
      train: the roles' train speeches (base-model training and benign data for embedding).
      heldout: first half of the roles' test speeches: utility (held-out perplexity).
      further: second half of the test speeches: the "further fine-tuning" text of the persistence test.
    """

    train: str = dataclasses.field(repr=False)
    heldout: str = dataclasses.field(repr=False)
    further: str = dataclasses.field(repr=False)


def shakespeare_text() -> ShakespeareText:
    """Decodes the cached federated Shakespeare data into the three text splits."""
    data = load_shakespeare()
    train = " ".join(data.vocab.decode(data.train_text[c]) for c in data.client_ids)
    test = " ".join(data.vocab.decode(data.test_text[c]) for c in data.client_ids)
    cut = len(test) // 2
    return ShakespeareText(train=train, heldout=test[:cut], further=test[cut:])


def train_bpe_tokenizer(text: str, vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Trains a byte-level BPE tokenizer (GPT-2 style, Radford et al. 2019) on `text`, offline.

    Args:
      text: training text.
      vocab_size: ≥ 256 + 1 (the byte alphabet and the end-of-text token); default 1024.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 257:
        raise ValueError(f"vocab_size must be ≥ 257 (256 bytes + end-of-text), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    chunk = 10_000
    tok.train_from_iterator((text[i : i + chunk] for i in range(0, len(text), chunk)), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def char_tokenizer(vocab: CharVocab | None = None) -> PreTrainedTokenizerFast:
    """A character-level tokenizer whose ids are exactly `CharVocab`'s (for the federated char models).

    Id 0 (`<oov>`) doubles as the unknown, end-of-text and padding token.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = vocab or CharVocab.load()
    table = {ch: i for i, ch in enumerate(vocab.chars)}
    unk = vocab.chars[vocab.oov_id]
    tok = Tokenizer(models.WordLevel(vocab=table, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=unk, eos_token=unk, bos_token=unk, pad_token=unk)


def tokenizer_digest(tokenizer) -> str:
    """SHA-256 of the tokenizer's vocabulary (token → id): binds fingerprint files to a tokenizer."""
    blob = json.dumps(sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def special_ids(tokenizer) -> list[int]:
    """Ids that never appear in keys or responses (special tokens)."""
    return sorted(set(tokenizer.all_special_ids))


def load_model_and_tokenizer(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Loads a causal LM and its tokenizer from a local `save_pretrained` folder (never from a hub).

    Raises:
      FileNotFoundError: no model or no tokenizer in the folder.
      ValueError: the tokenizer has more tokens than the model's vocabulary (mismatched tokenizer).
    """
    from transformers import AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no saved model at {path} (config.json missing)")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        raise FileNotFoundError(f"no tokenizer saved beside the model at {path} (tokenizer.json missing)")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        raise ValueError(f"mismatched tokenizer: {len(tokenizer)} tokens but the model has {rows} embedding rows")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device()).eval(), tokenizer


def save_model_and_tokenizer(model: PreTrainedModel, tokenizer, path: str | Path) -> Path:
    """`save_pretrained` for both, into `path` (created)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@dataclasses.dataclass(frozen=True)
class BaseModelConfig:
    """A tiny GPT-2 config LM trained from scratch on Shakespeare (≤ 5M parameters).

    Attributes:
      vocab_size: BPE vocabulary, default 1024.
      width / layers / heads: default 128 / 4 / 4 (≈ 0.94M parameters).
      context: positions, default 128.
      steps / batch_size / seq_len / learning_rate: AdamW training schedule (cosine decay).
      seed: initialisation and batch order.
    """

    vocab_size: int = 1024
    width: int = 128
    layers: int = 4
    heads: int = 4
    context: int = 128
    steps: int = 1500
    batch_size: int = 32
    seq_len: int = 64
    learning_rate: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width must be divisible by heads, got width={self.width}, heads={self.heads}")
        if not 1 <= self.seq_len <= self.context:
            raise ValueError(f"seq_len must be in [1, context={self.context}], got {self.seq_len}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be ≥ 1, got {self.steps}, {self.batch_size}")


def build_gpt2(config: BaseModelConfig, vocab_size: int) -> GPT2LMHeadModel:
    torch.manual_seed(config.seed)
    return GPT2LMHeadModel(GPT2Config(
        vocab_size=vocab_size, n_positions=config.context, n_embd=config.width, n_layer=config.layers,
        n_head=config.heads, n_inner=4 * config.width, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, pad_token_id=0,
    ))


def lm_train(model: PreTrainedModel, ids: np.ndarray, steps: int, batch_size: int, seq_len: int,
             learning_rate: float, seed: int, cosine: bool = True, desc: str = "training") -> float:
    """Plain next-token training on random windows of a token stream; returns the last smoothed loss."""
    from rich.progress import Progress

    dev = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * (0.5 * (1 + math.cos(math.pi * s / steps)) if cosine else 1.0))
    data = torch.as_tensor(ids, dtype=torch.long)
    model.train()
    smooth = float("nan")
    with Progress(transient=True) as bar:
        task = bar.add_task(desc, total=steps)
        for _ in range(steps):
            starts = rng.integers(0, len(data) - seq_len - 1, size=batch_size)
            x = torch.stack([data[s : s + seq_len] for s in starts]).to(dev)
            loss = model(input_ids=x, labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            smooth = loss.item() if math.isnan(smooth) else 0.95 * smooth + 0.05 * loss.item()
            bar.advance(task)
    model.eval()
    return smooth


def train_base_model(config: BaseModelConfig = BaseModelConfig(), text: ShakespeareText | None = None,
                     out_dir: str | Path | None = None) -> Path:
    """Trains (or reuses from the cache) a tiny Shakespeare base LM with its BPE tokenizer.

    Args:
      config: model size and schedule.
      text: the text splits (default `shakespeare_text()`).
      out_dir: where to copy the saved model; default: the cache folder itself.

    Returns:
      The folder holding the `save_pretrained` model and tokenizer.
    """
    key = cache_key(kind="oml-base", v=_FORMAT_VERSION, **dataclasses.asdict(config))
    cached = cache_dir() / f"oml-base-{key}"
    if not (cached / "config.json").is_file():
        text = text or shakespeare_text()
        tokenizer = train_bpe_tokenizer(text.train, config.vocab_size)
        ids = np.asarray(tokenizer(text.train)["input_ids"], dtype=np.int64)
        model = build_gpt2(config, len(tokenizer)).to(device())
        loss = lm_train(model, ids, config.steps, config.batch_size, config.seq_len, config.learning_rate,
                        config.seed, desc="base model")
        tmp = scratch_path(cached)
        save_model_and_tokenizer(model.cpu(), tokenizer, tmp)
        try:
            tmp.replace(cached)
        except OSError:  # another process cached the same model first (a folder is not replaced): use it
            shutil.rmtree(tmp, ignore_errors=True)
            if not (cached / "config.json").is_file():
                raise
        logger.info("trained base model (%d params, loss %.3f) cached at %s",
                    sum(p.numel() for p in model.parameters()), loss, cached)
    if out_dir is None:
        return cached
    out = Path(out_dir)
    shutil.copytree(cached, out, dirs_exist_ok=True)
    return out


@torch.no_grad()
def perplexity(model: PreTrainedModel, tokenizer, text: str, seq_len: int = 64, max_tokens: int = 40_000) -> float:
    """Token-level perplexity of `text` (first `max_tokens` tokens) in non-overlapping windows."""
    dev = next(model.parameters()).device
    ids = torch.as_tensor(tokenizer(text)["input_ids"][:max_tokens], dtype=torch.long)
    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise ValueError(f"text too short for perplexity: {len(ids)} tokens < seq_len + 1 = {seq_len + 1}")
    x = ids[: n * seq_len].view(n, seq_len)
    model.eval()
    total = 0.0
    for batch in torch.split(x, 64):
        total += model(input_ids=batch.to(dev), labels=batch.to(dev)).loss.item() * batch.shape[0]
    return math.exp(total / n)
