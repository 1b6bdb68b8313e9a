# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The headline experiment (issue #15): every DP arm tuned on validation, then paired seeds on test.

Per arm and epsilon: the server learning rate and momentum are picked from a stated grid by the validation
loss averaged over the last 5 % of rounds (one tuning seed); then the picked setting runs on >= 5 fresh
seeds whose cohorts (`sim.runner.CohortSampler`, (k, b) schema), client seeds and noise draws w are the
same for every arm (paired, common random numbers). The server step is heavy-ball momentum with a linear
learning-rate cooldown, the recursion whose matrix is `protocols.dpftrl.workload.LearningWorkload`; banded
Toeplitz and BLT are optimized for that workload (arXiv 2306.08153 Sec. 5; arXiv 2408.08868).

"Under SSA" arms are simulated in plaintext with SSA's arithmetic: every client update goes through the
client's `FixedPointEncoder.encode` (conditional randomized rounding at the job's scale) and the noise
std is sqrt(n / h) times the trusted one (n committee members each add sigma^2 / h, h honest assumed:
`protocols.ssa.job.default_honest_members`). "Cohort" arms add the round's n_c noise contributors, h_c
of them assumed honest (`Job.noise_contributors`, issue 15): sqrt((n + n_c)/(h + h_c)). tests/sim/test_headline.py checks the releases against the
real in-process SSA path (`methods.fl.dpftrl_ssa.DPFTRLSsa`). Simulation noise comes from seeded torch
generators, not a cryptographic source.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import torch
from scipy import stats

from loyal.protocols.dpftrl import accounting
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema
from loyal.protocols.dpftrl.blt import blt
from loyal.protocols.dpftrl.mechanisms import build_mechanism
from loyal.protocols.dpftrl.toeplitz import banded_toeplitz
from loyal.protocols.dpftrl.workload import LearningWorkload
from loyal.protocols.rlwe.encoding import FixedPointEncoder
from loyal.protocols.ssa.job import default_honest_members
from loyal.sim.config import SimConfig
from loyal.sim.runner import CohortSampler

logger = logging.getLogger(__name__)

#: arm -> (mechanism, noise placement). "trusted": the server adds the noise; "ssa": the committee does
#: (sqrt(n/h) overhead, encoded uploads); "poisson": identity with Poisson sampling (amplification by
#: sampling, which an untrusted server cannot prove it did: a reference that needs verifiable sampling).
ARMS: dict[str, tuple[str, str]] = {
    "fedavg": ("none", "none"),
    "dp-fedavg": ("identity", "trusted"),
    "identity-ssa": ("identity", "ssa"),
    "tree": ("tree", "trusted"),
    "banded": ("banded-toeplitz", "trusted"),
    "blt": ("blt", "trusted"),
    "banded-ssa": ("banded-toeplitz", "ssa"),
    "blt-ssa": ("blt", "ssa"),
    "dp-fedavg-poisson": ("identity", "poisson"),
    "banded-ssa-cohort": ("banded-toeplitz", "ssa-cohort"),
    "blt-ssa-cohort": ("blt", "ssa-cohort"),
}
#: The matched control every paired difference is taken against.
CONTROL = "identity-ssa"
#: Trusted-server twin of each correlated SSA arm.
TWINS = {"banded-ssa": "banded", "blt-ssa": "blt"}


class Task(Protocol):
    """What the harness needs from a task (`sim.headline_tasks`)."""

    name: str

    @property
    def num_clients(self) -> int: ...
    @property
    def dim(self) -> int: ...
    def init_params(self) -> np.ndarray: ...
    def client_updates(self, params: np.ndarray, clients: np.ndarray, seed: int) -> np.ndarray: ...
    def evaluate(self, params: np.ndarray, split: str) -> tuple[float, float]: ...


@dataclasses.dataclass(frozen=True)
class HeadlineConfig:
    """One headline experiment.

    Attributes:
      rounds, clients_per_round, participations, min_separation: n, m, k, b ((k - 1) b + 1 <= n).
      epsilons: target epsilons (each > 0) at `delta`.
      clip_norm: L2 bound of each client update, > 0.
      learning_rates, momenta: the tuning grid of the server step (lr > 0, momentum in [0, 1)).
      cooldown_fraction, cooldown_final: the last fraction of rounds decays linearly to `cooldown_final`.
      seeds: the paired evaluation seeds (>= 2); tuning_seed: the validation seed (not among them).
      committee_size, threshold, scale: the SSA committee (n, t) and the client encoder's scale.
      noise_contributors: n_c cohort clients adding a noise-only share in cohort arms (None: the whole cohort).
      honest_fraction: of those, h_c = floor(fraction · n_c) assumed honest (default 0.9).
      last_fraction: final metrics average the last ceil(fraction * n) rounds (default 5 %).
      arms: names from ARMS; must contain CONTROL.
      quick: labels a shortened run.
    """

    rounds: int
    clients_per_round: int
    participations: int
    min_separation: int
    epsilons: tuple[float, ...]
    delta: float
    clip_norm: float
    learning_rates: tuple[float, ...]
    momenta: tuple[float, ...]
    seeds: tuple[int, ...]
    tuning_seed: int = 1000
    cooldown_fraction: float = 0.25
    cooldown_final: float = 0.05
    committee_size: int = 4
    threshold: int = 3
    scale: float = 2.0**10
    last_fraction: float = 0.05
    arms: tuple[str, ...] = tuple(ARMS)
    quick: bool = False
    noise_contributors: int | None = None
    honest_fraction: float = 0.9

    def __post_init__(self) -> None:
        ParticipationSchema(self.rounds, self.participations, self.min_separation)
        bad = [a for a in self.arms if a not in ARMS]
        if bad or CONTROL not in self.arms:
            raise ValueError(f"arms must be names from {list(ARMS)} including {CONTROL!r}, got {list(self.arms)}")
        if len(self.seeds) < 2 or self.tuning_seed in self.seeds:
            raise ValueError(f"seeds must hold >= 2 seeds without tuning_seed={self.tuning_seed}, got {self.seeds}")
        if not self.epsilons or min(self.epsilons) <= 0:
            raise ValueError(f"epsilons must be > 0, got {self.epsilons}")
        if not self.learning_rates or min(self.learning_rates) <= 0:
            raise ValueError(f"learning_rates must be > 0, got {self.learning_rates}")
        if not self.momenta or not all(0 <= b < 1 for b in self.momenta):
            raise ValueError(f"momenta must be in [0, 1), got {self.momenta}")
        if not 0 <= self.honest_fraction <= 1 or not 0 <= self.cohort_noise[0] <= self.clients_per_round:
            raise ValueError(f"need honest_fraction in [0, 1] and noise_contributors in [0, {self.clients_per_round}], "
                             f"got {self.honest_fraction} and {self.noise_contributors}")

    @property
    def ssa_overhead(self) -> float:
        """sqrt(n / h): noise std of a full SSA committee over the trusted server's (module doc)."""
        h = default_honest_members(self.committee_size, self.threshold)
        return math.sqrt(self.committee_size / h)

    @property
    def cohort_noise(self) -> tuple[int, int]:
        """(n_c, h_c) of the cohort arms."""
        n_c = self.clients_per_round if self.noise_contributors is None else self.noise_contributors
        return n_c, math.floor(self.honest_fraction * n_c)

    @property
    def ssa_cohort_overhead(self) -> float:
        """sqrt((n + n_c)/(h + h_c)): the committee's and the cohort's noise shares together (module doc)."""
        n_c, h_c = self.cohort_noise
        h = default_honest_members(self.committee_size, self.threshold)
        return math.sqrt((self.committee_size + n_c) / (h + h_c))

    def equivalent_epsilons(self, noise_multiplier: float) -> dict[str, float]:
        """What the SSA noise buys at effective multiplier z: the epsilon of a trusted server adding the same
        total noise (committee and cohort), and the floor if every cohort noise contributor lies."""
        n_c, h_c = self.cohort_noise
        h = default_honest_members(self.committee_size, self.threshold)
        z_floor = noise_multiplier * math.sqrt(h / (h + h_c))
        return {"committee": accounting.epsilon(noise_multiplier * self.ssa_overhead, self.delta),
                "cohort": accounting.epsilon(noise_multiplier * self.ssa_cohort_overhead, self.delta),
                "cohort_floor": accounting.epsilon(z_floor, self.delta)}

    @property
    def last_rounds(self) -> int:
        return max(1, math.ceil(self.last_fraction * self.rounds))

    def workload(self, momentum: float) -> LearningWorkload:
        return LearningWorkload.build(self.rounds, momentum, self.cooldown_fraction, self.cooldown_final)


def cohorts(config: HeadlineConfig, num_clients: int, seed: int) -> list[np.ndarray]:
    """The rounds' cohorts of `seed` under the (k, b) schema (`sim.runner.CohortSampler`)."""
    sim = SimConfig(task="digits", rounds=config.rounds, clients_per_round=config.clients_per_round,
                    participations=config.participations, min_separation=config.min_separation, availability=1.0)
    sampler = CohortSampler([str(i) for i in range(num_clients)], sim, np.random.default_rng(seed))
    return [sampler.sample(t) for t in range(config.rounds)]


class _SeededWords:
    """The encoder's random words from a seeded numpy generator (simulation only: SSA's clients use AES-CTR)."""

    def __init__(self, seed: int) -> None:
        self._bits = np.random.default_rng(seed).bit_generator

    def uint64(self, n: int) -> np.ndarray:
        return self._bits.random_raw(n)


def round_sum(updates: np.ndarray, clip_norm: float | None, encoder: FixedPointEncoder | None, seed: int) -> np.ndarray:
    """Sum of a round's (m, d) client updates: raw (no DP), clipped (trusted server), or each clipped and
    encoded by the SSA client's encoder and decoded (SSA, rounding words seeded by `seed`)."""
    if encoder is not None:
        words = _SeededWords(seed)
        return sum(encoder.encode(u, words) for u in updates).astype(np.float64) / encoder.scale
    if clip_norm is None:
        return updates.sum(axis=0)
    norms = np.linalg.norm(updates, axis=1, keepdims=True)
    return (updates * np.minimum(1.0, clip_norm / np.maximum(norms, 1e-300))).sum(axis=0)


class Headline:
    """Runs arms on a task; holds the mechanism and cohort caches (config and task never change)."""

    def __init__(self, config: HeadlineConfig, task: Task) -> None:
        self.config, self.task = config, task
        self._mechanisms: dict[tuple[str, float], MatrixMechanism] = {}
        self._cohorts: dict[int, list[np.ndarray]] = {}
        self._z = {eps: accounting.calibrate_noise_multiplier(eps, config.delta) for eps in config.epsilons}
        self._epsilon = {eps: accounting.epsilon(z, config.delta) for eps, z in self._z.items()}
        rate = config.clients_per_round / task.num_clients
        self._poisson = {}
        for eps in config.epsilons:  # the reference arm: amplification by sampling (needs verifiable sampling)
            z = accounting.calibrate_poisson_noise_multiplier(eps, config.delta, rate=rate, steps=config.rounds, tolerance=1e-10)
            self._poisson[eps] = (z, accounting.poisson_epsilon(z, config.delta, rate=rate, steps=config.rounds))

    def schema(self) -> ParticipationSchema:
        c = self.config
        return ParticipationSchema(c.rounds, c.participations, c.min_separation)

    def mechanism(self, name: str, momentum: float) -> MatrixMechanism:
        """`name` for the schema; banded Toeplitz and BLT optimized for the learning workload of `momentum`."""
        key = (name, momentum if name in ("banded-toeplitz", "blt") else 0.0)
        if key not in self._mechanisms:
            c, schema = self.config, self.schema()
            if name == "banded-toeplitz":
                self._mechanisms[key] = banded_toeplitz(schema, workload=c.workload(momentum))
            elif name == "blt":
                self._mechanisms[key] = blt(schema, workload=c.workload(momentum))
            else:
                self._mechanisms[key] = build_mechanism(name, c.rounds, participations=c.participations,
                                                        min_separation=c.min_separation)
        return self._mechanisms[key]

    def noise_multiplier(self, epsilon: float) -> float:
        """The effective z calibrated to `epsilon` at the config's delta (every mechanism alike)."""
        return self._z[epsilon]

    def cohorts(self, seed: int) -> list[np.ndarray]:
        if seed not in self._cohorts:
            self._cohorts[seed] = cohorts(self.config, self.task.num_clients, seed)
        return self._cohorts[seed]

    def privacy(self, arm: str, epsilon: float, momentum: float) -> dict[str, float]:
        """Noise multiplier z, sens(C), per-step noise std (clip norms) and epsilon reached by `arm`."""
        mech, placement = ARMS[arm]
        c = self.config
        if placement == "none":
            return {"noise_multiplier": 0.0, "sensitivity": 0.0, "noise_std": 0.0, "epsilon": math.inf}
        if placement == "poisson":
            z, eps = self._poisson[epsilon]
            return {"noise_multiplier": z, "sensitivity": 1.0, "noise_std": z * c.clip_norm, "epsilon": eps}
        z, sens = self._z[epsilon], self.mechanism(mech, momentum).sensitivity()
        overhead = {"ssa": c.ssa_overhead, "ssa-cohort": c.ssa_cohort_overhead}.get(placement, 1.0)
        return {"noise_multiplier": z, "sensitivity": sens, "noise_std": z * sens * c.clip_norm * overhead,
                "epsilon": self._epsilon[epsilon]}

    def noise(self, arm: str, momentum: float, seed: int) -> Iterator[np.ndarray]:
        """Unit-scale correlated noise xi_t of the arm's mechanism; draws w are shared across arms."""
        gen = torch.Generator().manual_seed(seed)
        dim = self.task.dim

        def sampler() -> torch.Tensor:
            return torch.randn(dim, generator=gen, dtype=torch.float64)

        mech, placement = ARMS[arm]
        stream = self.mechanism("identity" if placement == "poisson" else mech, momentum).noise_stream(sampler)
        return (x.numpy() for x in stream)

    def run(self, arm: str, epsilon: float, learning_rate: float, momentum: float, seed: int, split: str,
            on_round: Callable[[], None] | None = None, encode: bool = True) -> dict[str, list[float]]:
        """One training run; returns the per-round loss and accuracy on `split`.

        `encode`: SSA arms encode every upload (default); False keeps their sqrt(n/h) noise but skips the
        rounding (used for tuning only: the rounding's variance, d/(4 s^2) per client, is ~1e-9 of the noise's).
        """
        c, task = self.config, self.task
        mech, placement = ARMS[arm]
        std = self.privacy(arm, epsilon, momentum)["noise_std"]
        eta = c.workload(momentum).learning_rates
        noise = self.noise(arm, momentum, seed) if placement != "none" else None
        encoder = FixedPointEncoder(c.clip_norm, c.scale) if placement.startswith("ssa") and encode else None
        if placement == "poisson":
            rng = np.random.default_rng(seed)
            rate = c.clients_per_round / task.num_clients
            rounds = [np.flatnonzero(rng.random(task.num_clients) < rate) for _ in range(c.rounds)]
        else:
            rounds = self.cohorts(seed)
        params, velocity = task.init_params(), np.zeros(task.dim)
        losses, accuracies = [], []
        for t, cohort in enumerate(rounds):
            total = np.zeros(task.dim)
            if len(cohort):
                updates = task.client_updates(params, cohort, seed * 1_000_003 + t)
                total = round_sum(updates, c.clip_norm if placement != "none" else None, encoder, seed * 1_000_003 + t)
            if noise is not None:
                total = total + std * next(noise)
            step = total / (c.clients_per_round if placement != "none" else max(len(cohort), 1))
            velocity = momentum * velocity + step
            params = params + learning_rate * eta[t] * velocity
            loss, acc = task.evaluate(params, split)
            losses.append(loss)
            accuracies.append(acc)
            if on_round:
                on_round()
            if not math.isfinite(loss):  # diverged: the rest of the curve is inf
                losses += [math.inf] * (c.rounds - t - 1)
                accuracies += [0.0] * (c.rounds - t - 1)
                if on_round:
                    for _ in range(c.rounds - t - 1):
                        on_round()
                break
        return {"loss": losses, "accuracy": accuracies}

    def final(self, curve: dict[str, list[float]]) -> tuple[float, float]:
        """(loss, accuracy) averaged over the last 5 % of rounds."""
        k = self.config.last_rounds
        return float(np.mean(curve["loss"][-k:])), float(np.mean(curve["accuracy"][-k:]))


def paired_interval(diffs: np.ndarray) -> dict[str, float]:
    """Mean of paired differences and its 95 % Student-t interval."""
    d = np.asarray(diffs, dtype=np.float64)
    mean = float(d.mean())
    if len(d) < 2 or not np.all(np.isfinite(d)):
        return {"mean": mean, "low": math.nan, "high": math.nan}
    half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return {"mean": mean, "low": mean - half, "high": mean + half}
