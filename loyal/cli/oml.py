# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal oml`: generate, embed and verify Perinucleus fingerprints; run the capacity/collusion experiments."""

from __future__ import annotations

import argparse

from loyal.cli._common import emit_json, positive_float, positive_int


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    parser = sub.add_parser("oml", help=help_text, description=help_text)
    oml = parser.add_subparsers(dest="oml_command", metavar="SUBCOMMAND", required=True)

    gen = oml.add_parser("generate", help="generate fingerprints from a saved base model")
    gen.add_argument("--model", required=True, help="folder with a save_pretrained causal LM and tokenizer")
    gen.add_argument("--num", type=positive_int, required=True, help="number of fingerprints")
    gen.add_argument("--out", required=True, help="output JSONL file")
    gen.add_argument("--kind", choices=("perinucleus", "random", "english"), default="perinucleus")
    gen.add_argument("--key-length", type=positive_int, default=16, help="key tokens L (default 16)")
    gen.add_argument("--response-length", type=positive_int, default=1, help="response tokens (default 1)")
    gen.add_argument("--nucleus-mass", type=float, default=0.8, help="t in (0, 1) (default 0.8)")
    gen.add_argument("--width", type=int, default=3, help="k ≥ 1 (default 3)")
    gen.add_argument("--seed", type=int, default=None, help="seed (default: fresh OS randomness)")
    gen.add_argument("--json", action="store_true", help="print JSON")
    gen.set_defaults(func=_generate)

    emb = oml.add_parser("embed", help="fine-tune a saved model so it carries the fingerprints")
    emb.add_argument("--model", required=True, help="base model folder")
    emb.add_argument("--fingerprints", required=True, help="JSONL from `loyal oml generate`")
    emb.add_argument("--out", required=True, help="output folder (save_pretrained)")
    emb.add_argument("--epochs", type=positive_int, default=30)
    emb.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (use ~2e-5 for 1B+ models)")
    emb.add_argument("--batch-size", type=positive_int, default=64)
    emb.add_argument("--lam", type=float, default=0.75, help="model averaging λ in (0, 1] (default 0.75)")
    emb.add_argument("--beta", type=float, default=0.5, help="benign data fraction β in [0, 1) (default 0.5)")
    emb.add_argument("--augment", type=float, default=0.25, help="prompt augmentation fraction (default 0.25)")
    emb.add_argument("--benign", default=None, help="text file of benign data (default: Shakespeare train text)")
    emb.add_argument("--seed", type=int, default=0)
    emb.add_argument("--json", action="store_true", help="print JSON")
    emb.set_defaults(func=_embed)

    ver = oml.add_parser("verify", help="query a suspect model with the fingerprints and decide")
    ver.add_argument("--model", required=True, help="suspect model folder")
    ver.add_argument("--fingerprints", required=True, help="JSONL of the owner's fingerprints")
    ver.add_argument("--null-model", action="append", default=[], help="non-fingerprinted model folder to "
                     "estimate p0 (repeat for several seeds); overrides --p0")
    ver.add_argument("--p0", type=float, default=0.05, help="chance-match probability (default 0.05)")
    ver.add_argument("--fpr", type=float, default=1e-6, help="target false-claim rate (default 1e-6)")
    ver.add_argument("--num", type=positive_int, default=None, help="query only this many unspent fingerprints")
    ver.add_argument("--ledger", default=None, help="burnt-fingerprint ledger JSON (read and updated)")
    ver.add_argument("--seed", type=int, default=None)
    ver.add_argument("--json", action="store_true", help="print JSON")
    ver.set_defaults(func=_verify)

    exp = oml.add_parser("experiment", help="capacity or collusion experiment (JSON + PNG)")
    exp.add_argument("name", choices=("capacity", "collusion"))
    exp.add_argument("--quick", action="store_true", help="small settings (≤ 5 minutes on 2 cores)")
    exp.add_argument("--out", default=None, help="output folder (default oml-<name>)")
    exp.add_argument("--seed", type=int, default=0)
    exp.add_argument("--json", action="store_true", help="print JSON")
    exp.set_defaults(func=_experiment)


def _print(args: argparse.Namespace, obj: dict) -> int:
    if args.json:
        emit_json(obj)
    else:
        from rich.console import Console

        Console().print(obj)
    return 0


def _generate(args: argparse.Namespace) -> int:
    import numpy as np

    from loyal.methods.oml.generate import generate_fingerprints, write_fingerprints
    from loyal.methods.oml.model import load_model_and_tokenizer
    from loyal.protocols.oml.perinucleus import PerinucleusParams

    params = PerinucleusParams(nucleus_mass=args.nucleus_mass, width=args.width)
    model, tokenizer = load_model_and_tokenizer(args.model)
    fps = generate_fingerprints(model, tokenizer, args.num, kind=args.kind, key_length=args.key_length,
                                response_length=args.response_length, params=params,
                                rng=np.random.default_rng(args.seed))
    path = write_fingerprints(fps, args.out)
    return _print(args, {"out": str(path), "num": len(fps), "kind": args.kind, "tokenizer": fps[0].tokenizer})


def _embed(args: argparse.Namespace) -> int:
    from pathlib import Path

    from loyal.methods.oml.embed import EmbedConfig, embed_to_dir

    config = EmbedConfig(epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size,
                         averaging_lambda=args.lam, benign_fraction=args.beta,
                         augmentation_fraction=args.augment, seed=args.seed)
    benign = Path(args.benign).read_text(encoding="utf-8") if args.benign else None
    return _print(args, embed_to_dir(args.model, args.fingerprints, args.out, config, benign))


def _verify(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from loyal.methods.oml.generate import read_fingerprints
    from loyal.methods.oml.model import load_model_and_tokenizer
    from loyal.methods.oml.verify import estimate_p0, verify_model
    from loyal.protocols.oml.ledger import BurntLedger, choose_queries, spend

    fps = read_fingerprints(args.fingerprints)
    by_index = {fp.index: fp for fp in fps}
    ledger_path = Path(args.ledger) if args.ledger else None
    ledger = (BurntLedger.from_dict(json.loads(ledger_path.read_text())) if ledger_path and ledger_path.exists()
              else BurntLedger(total=max(by_index) + 1, spent=frozenset(set(range(max(by_index) + 1)) - set(by_index))))
    num = args.num or ledger.remaining
    query = [by_index[int(i)] for i in choose_queries(ledger, num, np.random.default_rng(args.seed))]
    model, tokenizer = load_model_and_tokenizer(args.model)
    p0 = args.p0
    if args.null_model:
        p0 = estimate_p0([load_model_and_tokenizer(d) for d in args.null_model], query)["p0"]
    result = verify_model(model, tokenizer, query, p0, args.fpr)
    if ledger_path:  # every queried fingerprint is now public
        ledger_path.write_text(json.dumps(spend(ledger, [fp.index for fp in query]).to_dict()))
    result.pop("matched")
    return _print(args, result)


def _experiment(args: argparse.Namespace) -> int:
    from loyal.methods.oml.experiments import QUICK_CAPACITY, CapacitySettings, capacity_experiment, collusion_experiment

    out = args.out or f"oml-{args.name}"
    if args.name == "capacity":
        result = capacity_experiment(QUICK_CAPACITY if args.quick else CapacitySettings(), out, args.seed)
    else:
        result = collusion_experiment(args.quick, out, args.seed)
    return _print(args, result)
