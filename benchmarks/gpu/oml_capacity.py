# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OML capacity experiment on a bigger model when CUDA is present (≤ 5 minutes on one H100).

On CUDA: a ~20M-parameter GPT-2 config LM trained from scratch on Shakespeare (4096-token BPE), then
perinucleus vs random-token fingerprints at 256 / 1024 / 4096, with persistence and false-claim checks.
Without CUDA (or with --tiny): the quick CPU settings, so the script can be checked anywhere.

    python benchmarks/gpu/oml_capacity.py [--tiny] [--out benchmarks/results/oml_capacity_gpu]

Writes capacity.json + capacity.png under --out. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

import torch

from loyal.methods.oml.embed import EmbedConfig
from loyal.methods.oml.experiments import QUICK_CAPACITY, CapacitySettings, capacity_experiment
from loyal.methods.oml.model import BaseModelConfig

GPU_SETTINGS = CapacitySettings(
    base=BaseModelConfig(vocab_size=4096, width=384, layers=6, heads=6, context=128, steps=600, batch_size=64,
                         seq_len=128, learning_rate=1e-3),
    counts=(1024, 4096), kinds=("perinucleus", "random"),
    embed=EmbedConfig(epochs=20, batch_size=128, learning_rate=5e-4), null_models=5, ppl_tokens=60_000,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="force the quick CPU settings")
    parser.add_argument("--out", default="benchmarks/results/oml_capacity_gpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)7.0f ms %(name)s: %(message)s")
    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda:
        torch.set_num_threads(1)
    settings = GPU_SETTINGS if cuda else QUICK_CAPACITY
    result = capacity_experiment(settings, args.out)
    result["device"] = torch.cuda.get_device_name(0) if cuda else "cpu"
    result["settings"] = {"counts": settings.counts, "kinds": settings.kinds, "base": dataclasses.asdict(settings.base)}
    json.dump(result, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
