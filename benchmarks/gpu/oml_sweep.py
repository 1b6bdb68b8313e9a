# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Embedding sweep behind docs/oml.md's base-model-size table: 1,024 perinucleus fingerprints in a 0.94M and a
4.24M-parameter Shakespeare GPT-2, accuracy / held-out perplexity ratio / one-epoch persistence per λ.

    python benchmarks/gpu/oml_sweep.py [--tiny] [--budget-s 215] [--out DIR]

CUDA when present (about 4 minutes on one H100); the CPU takes about 10 minutes per 4.24M-parameter row.
--tiny runs every row on throwaway 26k-parameter models with 8 fingerprints (a smoke check). One JSON line
per row goes to stdout and DIR/sweep.jsonl; rows past the budget are skipped.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import traceback
from pathlib import Path

import numpy as np

from loyal.methods.oml.embed import EmbedConfig, average_with_base, embed_fingerprints
from loyal.methods.oml.experiments import CAPACITY_BASE, further_fine_tune
from loyal.methods.oml.generate import generate_fingerprints
from loyal.methods.oml.model import (
    BaseModelConfig, load_model_and_tokenizer, perplexity, shakespeare_text, train_base_model,
)
from loyal.methods.oml.verify import matched_indices

BASES = {"b094": BaseModelConfig(), "b424": CAPACITY_BASE}
ROWS: tuple[tuple[str, dict, str], ...] = (  # (base, EmbedConfig overrides, response kind)
    ("b094", {"benign_seq_len": 32}, "perinucleus"),
    ("b424", {"benign_seq_len": 32}, "perinucleus"),
    ("b424", {}, "perinucleus"),
    ("b424", {"learning_rate": 3e-4, "epochs": 60, "benign_seq_len": 32}, "perinucleus"),
    ("b424", {}, "random"),
)
LAMBDAS = (1.0, 0.9, 0.8, 0.7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="smoke check on throwaway tiny models")
    parser.add_argument("--budget-s", type=float, default=215.0, help="skip rows that start after this")
    parser.add_argument("--out", default="benchmarks/results/oml_sweep")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.perf_counter() + args.budget_s
    log = (out / "sweep.jsonl").open("a")

    def emit(row: dict) -> None:
        line = json.dumps(row)
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    text = shakespeare_text()
    tiny = BaseModelConfig(vocab_size=300, width=32, layers=1, heads=2, steps=5)
    models = {}
    for name, cfg in BASES.items():
        t = time.perf_counter()
        model, tok = load_model_and_tokenizer(train_base_model(tiny if args.tiny else cfg, text))
        ppl = perplexity(model, tok, text.heldout, max_tokens=20_000)
        models[name] = (model, tok, ppl)
        emit({"base": name, "params": sum(p.numel() for p in model.parameters()), "ppl": ppl,
              "seconds": round(time.perf_counter() - t, 1)})
    further = {name: np.asarray(tok(text.further)["input_ids"], dtype=np.int64) for name, (_, tok, _) in models.items()}
    for name, over, kind in ROWS:
        if time.perf_counter() > deadline:
            emit({"skipped": [name, over, kind]})
            continue
        try:
            emit(_row(name, over, kind, models[name], further[name], text, args.tiny))
        except Exception as e:  # one failed row must not lose the others on a leased GPU
            emit({"base": name, "over": over, "kind": kind, "error": repr(e), "traceback": traceback.format_exc()[-1500:]})
    return 0


def _row(name: str, over: dict, kind: str, base_entry, further_ids: np.ndarray, text, tiny: bool) -> dict:
    base, tok, base_ppl = base_entry
    n = 8 if tiny else 1024
    fps = generate_fingerprints(base, tok, n, kind=kind, rng=np.random.default_rng(0))
    config = EmbedConfig(**{"epochs": 1 if tiny else 30, "averaging_lambda": 1.0, **over})
    t = time.perf_counter()
    model = copy.deepcopy(base)
    embed_fingerprints(model, tok, fps, config, text.train, progress=False)
    tuned = copy.deepcopy(model.state_dict())
    base_state = base.state_dict()
    res = []
    for lam in LAMBDAS:  # model averaging θ = λ·θ_ft + (1 − λ)·θ_base, evaluated for each λ from one run
        model.load_state_dict(tuned)
        average_with_base(model, base_state, lam)
        hit = set(matched_indices(model, tok, fps))
        row = {"lambda": lam, "accuracy": round(len(hit) / n, 4),
               "ppl_ratio": round(perplexity(model, tok, text.heldout, max_tokens=20_000) / base_ppl, 4)}
        if lam >= 0.9:  # one epoch of further fine-tuning on held-out text (as in capacity_experiment)
            further = copy.deepcopy(model)
            further_fine_tune(further, further_ids)
            row["survived"] = round(len(set(matched_indices(further, tok, fps))) / n, 4)
        res.append(row)
    return {"base": name, "kind": kind, "count": n, "over": over, "results": res,
            "seconds": round(time.perf_counter() - t, 1)}


if __name__ == "__main__":
    raise SystemExit(main())
