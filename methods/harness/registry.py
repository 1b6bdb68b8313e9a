# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The method registry: one `MethodSpec` per method, found by name, each module imported only when asked for.

A method module (`loyal.methods.<name>.experiment`) defines `SPEC = MethodSpec(...)`. Its experiment is split
into arms so the harness can fan arms out over Ray actors:

* `arms(config) -> list[dict]`: the independent units of work (an arm × seed each), JSON-able.
* `run_arm(config, arm) -> dict`: the work of one arm; pure apart from reading local corpora.
* `summarize(config, results, out_dir) -> (metrics, figures)`: merges the arm results (in `arms` order)
  into the metrics of `result.json` and writes PNGs under `out_dir`, returning their file names.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: Method name -> module defining `SPEC`, in the order of the issue's priority list.
METHODS: dict[str, str] = {
    "self_distillation": "loyal.methods.self_distillation.experiment",
    "bpe_mixture": "loyal.methods.bpe_mixture.experiment",
    "zip_fit": "loyal.methods.zip_fit.experiment",
    "model_collapse": "loyal.methods.model_collapse.experiment",
    "near_access_freeness": "loyal.methods.near_access_freeness.experiment",
    "backtranslation": "loyal.methods.backtranslation.experiment",
    "ttt": "loyal.methods.ttt.experiment",
    "weightnorm": "loyal.methods.weightnorm.experiment",
    "s4s": "loyal.methods.s4s.experiment",
    "dp_inversion": "loyal.methods.dp_inversion.experiment",
    "guardrail": "loyal.methods.guardrail.experiment",
    "proof_search": "loyal.methods.proof_search.experiment",
    "lota": "loyal.methods.lota.experiment",
    "jailbreak_transfer": "loyal.methods.jailbreak_transfer.experiment",
}


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """What the harness needs to know about one method.

    Attributes:
      name: registry key and CLI name (`loyal methods run NAME`).
      paper: arXiv id of the reproduced paper.
      title: the paper's title.
      claim: the headline claim reproduced, one sentence.
      quick_runtime: measured `--quick` wall time on 2 CPU cores, e.g. "~10 s".
      config_cls: a frozen dataclass whose defaults are the full run; validates itself in `__post_init__`.
      quick: overrides of `config_cls` defaults that make the `--quick` run.
      arms: config -> list of arm dicts.
      run_arm: (config, arm) -> arm result dict.
      summarize: (config, arm results, out_dir) -> (metrics dict, list of PNG file names).
    """

    name: str
    paper: str
    title: str
    claim: str
    quick_runtime: str
    config_cls: type
    quick: Mapping[str, Any]
    arms: Callable[[Any], list[dict]]
    run_arm: Callable[[Any, dict], dict]
    summarize: Callable[[Any, list[dict], Path], tuple[dict, list[str]]]


def get_method(name: str) -> MethodSpec:
    """The spec of method `name`.

    Raises:
      ValueError: `name` is not registered (the message lists the known names).
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    spec = importlib.import_module(METHODS[name]).SPEC
    if spec.name != name:
        raise AssertionError(f"{METHODS[name]}.SPEC is named {spec.name!r}, registered as {name!r}")
    return spec


def list_methods() -> list[MethodSpec]:
    """Every registered method whose module is present, in registry order."""
    specs = []
    for name, module in METHODS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        specs.append(get_method(name))
    return specs

