# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Pluggable generators for the pipeline: a local `transformers` model folder, or an OpenAI-compatible URL.

Both satisfy `Generator`; the local one is also a `Scorer` (it can read log-likelihoods).
Neither reaches a model hub: local folders load with `local_files_only=True`, and a URL is only ever the
one the user gave (plain http only on loopback).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)


class Generator(Protocol):
    """Text continuation: one completion per prompt, reproducible for a given `seed`."""

    def generate(self, prompts: list[str], max_new_tokens: int, seed: int) -> list[str]: ...


class Scorer(Protocol):
    """Mean per-token log-likelihood of each continuation given its prompt (natural log)."""

    def mean_log_likelihood(self, prompts: list[str], continuations: list[str]) -> list[float]: ...


class GenerationError(RuntimeError):
    """A generation server answered with an error, or an answer of the wrong shape."""


class TransformersGenerator:
    """Sampling from a causal LM saved with `save_pretrained` (model and tokenizer in one local folder).

    Args:
      model_dir: the folder; must hold config.json and the tokenizer files.
      temperature: sampling temperature, >= 0 (0: greedy decoding).
      batch_size: prompts per forward batch, >= 1.

    Raises:
      FileNotFoundError: `model_dir` is not a folder or has no config.json.
      ValueError: `temperature` or `batch_size` out of range.
    """

    def __init__(self, model_dir: str | Path, temperature: float = 0.7, batch_size: int = 32) -> None:
        path = Path(model_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"model_dir {str(path)!r} is not a folder")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model_dir {str(path)!r} has no config.json (save it with save_pretrained)")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from loyal.methods.kit.train import device

        self.temperature = temperature
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device()
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(self.device).eval()
        self.context = int(getattr(self.model.config, "n_positions", None) or self.model.config.max_position_embeddings)

    def _encode(self, text: str, budget: int) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > budget:
            logger.warning("prompt of %d tokens cut to its last %d", len(ids), budget)
            ids = ids[-budget:]
        return ids

    def generate(self, prompts: list[str], max_new_tokens: int, seed: int) -> list[str]:
        """One sampled continuation per prompt (prompts longer than the context keep their end)."""
        import torch

        if not 1 <= max_new_tokens < self.context:
            raise ValueError(f"max_new_tokens must be in [1, {self.context - 1}], got {max_new_tokens}")
        torch.manual_seed(seed)
        pad, out = self.tokenizer.pad_token_id, []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self._encode(p, self.context - max_new_tokens) for p in prompts[start : start + self.batch_size]]
            width = max(len(ids) for ids in batch)
            ids = torch.tensor([[pad] * (width - len(b)) + b for b in batch], device=self.device)  # left padding
            mask = torch.tensor([[0] * (width - len(b)) + [1] * len(b) for b in batch], device=self.device)
            sample = self.temperature > 0
            with torch.no_grad():
                gen = self.model.generate(
                    input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=sample,
                    temperature=self.temperature if sample else None, top_k=0 if sample else None, top_p=None,
                    pad_token_id=pad, eos_token_id=self.tokenizer.eos_token_id,
                )
            out += self.tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
        return out

    def mean_log_likelihood(self, prompts: list[str], continuations: list[str]) -> list[float]:
        """Mean per-token log p(continuation | prompt) in nats (continuations cut to fit the context)."""
        import torch

        if len(prompts) != len(continuations):
            raise ValueError(f"got {len(prompts)} prompts and {len(continuations)} continuations")
        scores = []
        for start in range(0, len(prompts), self.batch_size):
            pairs = []
            for p, c in zip(prompts[start : start + self.batch_size], continuations[start : start + self.batch_size]):
                head = self._encode(p, self.context // 2)
                tail = self.tokenizer(c, add_special_tokens=False)["input_ids"][: self.context - len(head)]
                if not tail:
                    raise ValueError(f"continuation {c[:40]!r} has no tokens")
                pairs.append((head, tail))
            width = max(len(h) + len(t) for h, t in pairs)
            ids = torch.tensor([h + t + [0] * (width - len(h) - len(t)) for h, t in pairs], device=self.device)
            with torch.no_grad():
                logp = torch.log_softmax(self.model(input_ids=ids).logits.float(), dim=-1)
            for row, (h, t) in enumerate(pairs):
                positions = torch.arange(len(h) - 1, len(h) + len(t) - 1, device=self.device)
                scores.append(float(logp[row, positions, ids[row, positions + 1]].mean()))
        return scores


def check_url(base_url: str) -> str:
    """`base_url` without a trailing slash, if it is https, or http to a loopback host.

    Raises:
      ValueError: another scheme, plain http to a non-loopback host, credentials, query or fragment in the URL.
    """
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"base_url must not carry credentials, a query or a fragment, got {base_url!r}")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError(f"base_url must use https unless the host is loopback, got {base_url!r}")
    return base_url.rstrip("/")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        raise GenerationError(f"server redirected to {newurl!r} (HTTP {code}); give the final URL instead")


class OpenAIGenerator:
    """An OpenAI-compatible server (vLLM, llama.cpp, TGI, …): POSTs to `{base_url}/v1/completions` (one
    request per batch) or `{base_url}/v1/chat/completions` (one request per prompt), stdlib only.

    Args:
      base_url: server root, https or loopback http (`check_url`).
      model: the served model's name.
      api_key_env: name of the environment variable holding the bearer key, or "" for none.
      endpoint: "completions" or "chat".
      temperature: sampling temperature, >= 0.
      timeout: seconds per request, > 0.

    Raises:
      ValueError: a bad URL, an empty model, an unknown endpoint, or `api_key_env` naming an unset variable.
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "", endpoint: str = "completions",
                 temperature: float = 0.7, timeout: float = 60.0) -> None:
        self.base_url = check_url(base_url)
        if not model:
            raise ValueError("model must name the served model, got ''")
        if endpoint not in ("completions", "chat"):
            raise ValueError(f"endpoint must be 'completions' or 'chat', got {endpoint!r}")
        if temperature < 0 or timeout <= 0:
            raise ValueError(f"temperature must be >= 0 and timeout > 0, got {temperature}, {timeout}")
        self._key = ""
        if api_key_env:
            if not os.environ.get(api_key_env):
                raise ValueError(f"api_key_env names {api_key_env!r}, which is not set")
            self._key = os.environ[api_key_env]
        self.model, self.endpoint, self.temperature, self.timeout = model, endpoint, temperature, timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return f"OpenAIGenerator(base_url={self.base_url!r}, model={self.model!r}, endpoint={self.endpoint!r})"

    def _post(self, path: str, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{self.base_url}{path}", data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", errors="replace")[:200]
            raise GenerationError(f"POST {path} failed: HTTP {e.code}: {detail}") from e
        except urllib.error.URLError as e:
            raise GenerationError(f"POST {path} failed: {e.reason}") from e
        except json.JSONDecodeError as e:
            raise GenerationError(f"POST {path} answered with invalid JSON: {e}") from e

    def generate(self, prompts: list[str], max_new_tokens: int, seed: int) -> list[str]:
        """One completion per prompt, in order."""
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        common = {"model": self.model, "max_tokens": max_new_tokens, "temperature": self.temperature, "seed": seed}
        try:
            if self.endpoint == "completions":
                if not prompts:
                    return []
                choices = self._post("/v1/completions", common | {"prompt": list(prompts)})["choices"]
                by_index = {int(c["index"]): c["text"] for c in choices}
                return [by_index[i] for i in range(len(prompts))]
            return [self._post("/v1/chat/completions", common | {"messages": [{"role": "user", "content": p}]})
                    ["choices"][0]["message"]["content"] for p in prompts]
        except (KeyError, IndexError, TypeError) as e:
            raise GenerationError(f"server answer lacks the expected choices ({type(e).__name__}: {e})") from e
