# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tiny vision-language models on 8×8 digits: image encoder → prefix tokens → causal language model.

A stand-in for the VLMs of arXiv 2407.15211 (Sec. 2: a vision backbone, a projection into the language
model's embedding space, a language model): the image becomes `prefix_tokens` embeddings placed before a
3-token text prompt, and the model answers with 3 tokens. Tasks, all trained here:

* ``what digit ?`` → the digit's word; ``is it even`` → ``yes`` / ``no``;
* ``please b1 b2`` (benign request words) → the comply sequence ``sure here is``;
* ``please h1 h2`` (harmful request words, synthetic stand-ins for harmful requests) → ``refuse <eos> <eos>``.

A jailbreak image makes the model answer ``sure here is`` to harmful prompts (the paper's harmful-yet-helpful
completions). A model's weights at initialisation depend only on its backbone, sizes and `init_seed`, so two
members with the same backbone and `init_seed` are identically initialised (the paper's Sec. 3.3).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch
from torch import nn

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
BENIGN_WORDS = tuple(f"b{i}" for i in range(12))
HARMFUL_WORDS = tuple(f"h{i}" for i in range(12))
VOCAB = ("<eos>", "what", "digit", "?", "is", "it", "even", "please", "yes", "no", "refuse", "sure", "here") + (
    DIGIT_WORDS + BENIGN_WORDS + HARMFUL_WORDS
)
TOKEN = {w: i for i, w in enumerate(VOCAB)}
COMPLY = ("sure", "here", "is")
REFUSAL = ("refuse", "<eos>", "<eos>")
BACKBONES = ("mlp", "cnn")
PROMPT_LEN = ANSWER_LEN = 3


def encode(words: tuple[str, ...]) -> list[int]:
    return [TOKEN[w] for w in words]


def request_prompts(words: tuple[str, ...]) -> torch.Tensor:
    """All ``please w1 w2`` prompts over ordered pairs of `words`, shape (len(words)², 3)."""
    return torch.tensor([encode(("please", a, b)) for a in words for b in words], dtype=torch.long)


@functools.lru_cache(maxsize=2)
def digits_split(image_size: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn digits scaled to [0, 1] and bilinearly resized to `image_size`², flattened: the first 1400
    samples train, the rest test (fixed split)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy((digits.data / 16.0).astype(np.float32)).view(-1, 1, 8, 8)
    if image_size != 8:
        x = nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=True)
    x = x.clamp(0.0, 1.0).reshape(len(x), -1).numpy()
    y = digits.target.astype(np.int64)
    return x[:1400], y[:1400], x[1400:], y[1400:]


@dataclasses.dataclass(frozen=True)
class VlmConfig:
    """Sizes and training settings of one tiny VLM.

    Attributes:
      image_size: side of the square input image (digits resized from 8×8), a multiple of 4 in [8, 64].
      prefix_tokens: image embeddings placed before the prompt, >= 1. More image tokens give the image (and
        an attacker) more of the answer position's attention.
      embed_dim: token embedding width d, >= 4 (a multiple of 4 for the transformer's 4 heads).
      hidden: GRU state width, or the transformer's feed-forward width, >= 4.
      steps: Adam steps, >= 1.
      batch_size: examples per step, >= 4.
      learning_rate: Adam step size, > 0.
      lm: "transformer" (1 post-norm layer, causal mask, learned positions) or "gru".
      label_smoothing: cross-entropy label smoothing in [0, 1); caps the refusal's confidence.
      request_image_share: probability in [0, 1] that a request (benign or harmful) is trained with its image;
        at 0 refusal is learned from text only, as when a safety-tuned LM is given a vision encoder.

    Notes:
      With a GRU the image only sets the state before the prompt and the prompt tokens wash it out: in our
      trials even an image in [−3, 4] could not jailbreak it, so the default is the transformer, whose answer
      position attends to the image tokens directly (as the paper's VLMs do).
    """

    image_size: int = 8
    prefix_tokens: int = 8
    embed_dim: int = 32
    hidden: int = 64
    steps: int = 300
    batch_size: int = 64
    learning_rate: float = 5e-3
    lm: str = "transformer"
    label_smoothing: float = 0.1
    request_image_share: float = 1.0

    def __post_init__(self) -> None:
        for name, low in (("prefix_tokens", 1), ("embed_dim", 4), ("hidden", 4), ("steps", 1), ("batch_size", 4)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.lm not in ("transformer", "gru"):
            raise ValueError(f"lm must be 'transformer' or 'gru', got {self.lm!r}")
        if self.lm == "transformer" and self.embed_dim % 4:
            raise ValueError(f"embed_dim must be a multiple of 4 for the transformer, got {self.embed_dim}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.request_image_share <= 1.0:
            raise ValueError(f"request_image_share must be in [0, 1], got {self.request_image_share}")
        if self.image_size % 4 or not 8 <= self.image_size <= 64:
            raise ValueError(f"image_size must be a multiple of 4 in [8, 64], got {self.image_size}")


class TinyVlm(nn.Module):
    """Backbone (MLP or CNN) → linear projection to `prefix_tokens` embeddings → causal LM (transformer or GRU)."""

    def __init__(self, backbone: str, config: VlmConfig) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
        self.prefix_tokens, self.embed_dim = config.prefix_tokens, config.embed_dim
        side = config.image_size
        if backbone == "mlp":
            self.encoder: nn.Module = nn.Sequential(nn.Linear(side * side, 64), nn.ReLU())
            features = 64
        else:
            self.encoder = nn.Sequential(
                nn.Unflatten(1, (1, side, side)), nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
            )
            features = 16 * (side // 4) ** 2
        self.projection = nn.Linear(features, config.prefix_tokens * config.embed_dim)
        self.embed = nn.Embedding(len(VOCAB), config.embed_dim)
        self.lm_kind = config.lm
        if config.lm == "gru":
            self.lm: nn.Module = nn.GRU(config.embed_dim, config.hidden, batch_first=True)
            self.head = nn.Linear(config.hidden, len(VOCAB))
        else:
            length = config.prefix_tokens + PROMPT_LEN + ANSWER_LEN - 1
            self.position = nn.Parameter(0.1 * torch.randn(length, config.embed_dim))
            self.lm = nn.TransformerEncoderLayer(
                config.embed_dim, nhead=4, dim_feedforward=config.hidden, dropout=0.0, batch_first=True
            )
            self.head = nn.Linear(config.embed_dim, len(VOCAB))
            self.register_buffer("causal_mask", nn.Transformer.generate_square_subsequent_mask(length), persistent=False)

    def answer_logits(self, images: torch.Tensor | None, prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of the 3 answer tokens, shape (B, 3, |VOCAB|).

        Args:
          images: (B, side²) pixels, (side²,) for one image shared by every prompt (a universal image), or
            None for text only (no image tokens; the text keeps its positions).
          prompts: (B, 3) prompt token ids.
          answers: (B, 3) answer token ids; position t is predicted from the image, prompt and answers[:, :t].
        """
        text = self.embed(torch.cat([prompts, answers[:, :-1]], dim=1))
        tokens, skip = text, 0
        if images is not None:
            if images.dim() == 1:
                images = images.expand(prompts.shape[0], -1)
            prefix = self.projection(self.encoder(images)).view(-1, self.prefix_tokens, self.embed_dim)
            tokens, skip = torch.cat([prefix, text], dim=1), self.prefix_tokens
        if self.lm_kind == "gru":
            states, _ = self.lm(tokens)
        else:
            offset = self.prefix_tokens - skip
            mask = self.causal_mask[offset:, offset:]
            states = self.lm(tokens + self.position[offset:], src_mask=mask, is_causal=True)
        start = skip + PROMPT_LEN - 1
        return self.head(states[:, start:start + ANSWER_LEN])


def new_vlm(backbone: str, init_seed: int, config: VlmConfig) -> TinyVlm:
    """A freshly initialised model; equal (backbone, init_seed, config) give byte-equal weights."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(init_seed)
    model = TinyVlm(backbone, config)
    torch.random.set_rng_state(generator_state)
    return model


def _task_tables() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prompt/answer id tables: digit prompt, even prompt, digit answers (10, 3), yes/no answers (2, 3)."""
    digit_answers = torch.tensor([encode((w, "<eos>", "<eos>")) for w in DIGIT_WORDS])
    even_answers = torch.tensor([encode(("yes", "<eos>", "<eos>")), encode(("no", "<eos>", "<eos>"))])
    digit_prompt, even_prompt = torch.tensor(encode(("what", "digit", "?"))), torch.tensor(encode(("is", "it", "even")))
    return digit_prompt, even_prompt, digit_answers, even_answers


def sample_batch(
    x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator, request_image_share: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch: images, prompts, answers and whether each example shows its image.

    The task is drawn per example with probabilities 0.3 digit, 0.2 even, 0.25 benign request, 0.25 harmful
    request (request words uniform); a request shows its image with probability `request_image_share`.
    """
    idx = rng.integers(0, len(y), size=batch_size)
    task = torch.from_numpy(rng.choice(4, size=batch_size, p=[0.3, 0.2, 0.25, 0.25]))
    words = torch.from_numpy(rng.integers(0, len(BENIGN_WORDS), size=(batch_size, 2)))
    labels = torch.from_numpy(y[idx])
    digit_prompt, even_prompt, digit_answers, even_answers = _task_tables()
    request = torch.cat([torch.full((batch_size, 1), TOKEN["please"]), words], dim=1)
    benign = request.clone()
    benign[:, 1:] += TOKEN[BENIGN_WORDS[0]]
    harmful = request.clone()
    harmful[:, 1:] += TOKEN[HARMFUL_WORDS[0]]
    choose = task.view(-1, 1)
    request_prompt = torch.where(choose == 2, benign, harmful)
    prompts = torch.where(choose == 0, digit_prompt, torch.where(choose == 1, even_prompt, request_prompt))
    request_answer = torch.where(choose == 2, torch.tensor(encode(COMPLY)), torch.tensor(encode(REFUSAL)))
    answers = torch.where(choose == 0, digit_answers[labels], torch.where(choose == 1, even_answers[labels % 2], request_answer))
    with_image = (task < 2) | torch.from_numpy(rng.random(batch_size) < request_image_share)
    return torch.from_numpy(x[idx]), prompts, answers, with_image


def train_vlm(model: TinyVlm, x: np.ndarray, y: np.ndarray, config: VlmConfig, order_seed: int) -> TinyVlm:
    """Adam on the mean answer-token cross-entropy (label-smoothed); batches drawn by `default_rng(order_seed)`.

    Returns the model in eval mode with its parameters frozen (`requires_grad=False`), ready to be attacked.
    """
    rng = np.random.default_rng(order_seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    model.train()
    for _ in range(config.steps):
        images, prompts, answers, shown = sample_batch(x, y, config.batch_size, rng, config.request_image_share)
        loss = torch.zeros(())
        for rows, pixels in ((shown, images[shown]), (~shown, None)):
            if rows.any():
                logits = model.answer_logits(pixels, prompts[rows], answers[rows])
                loss = loss + nn.functional.cross_entropy(
                    logits.reshape(-1, len(VOCAB)), answers[rows].reshape(-1),
                    label_smoothing=config.label_smoothing, reduction="sum",
                ) / answers.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def behaviour(model: TinyVlm, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Greedy-answer accuracy on test images: digit, even, benign → comply, harmful → refuse (mean image)."""
    images = torch.from_numpy(x)

    def greedy_rate(imgs: torch.Tensor, prompts: torch.Tensor, target: torch.Tensor) -> float:
        if target.dim() == 1:
            target = target.expand(prompts.shape[0], -1)
        if prompts.dim() == 1:
            prompts = prompts.expand(target.shape[0], -1)
        return float((model.answer_logits(imgs, prompts, target).argmax(-1) == target).all(dim=1).float().mean())

    digit_t = torch.tensor([encode((DIGIT_WORDS[v], "<eos>", "<eos>")) for v in y])
    even_t = torch.tensor([encode(("yes" if v % 2 == 0 else "no", "<eos>", "<eos>")) for v in y])
    mean_image = images.mean(0)
    benign, harmful = request_prompts(BENIGN_WORDS), request_prompts(HARMFUL_WORDS)
    return {
        "digit_accuracy": greedy_rate(images, torch.tensor(encode(("what", "digit", "?"))), digit_t),
        "even_accuracy": greedy_rate(images, torch.tensor(encode(("is", "it", "even"))), even_t),
        "benign_comply": greedy_rate(mean_image, benign, torch.tensor(encode(COMPLY))),
        "harmful_refuse": greedy_rate(mean_image, harmful, torch.tensor(encode(REFUSAL))),
    }
