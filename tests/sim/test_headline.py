# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The headline harness: bigram closed-form gradient, paired cohorts, outputs, and SSA simulation vs real SSA."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, SsaSettings, noise_from_committee
from loyal.protocols.rlwe.encoding import FixedPointEncoder
from loyal.sim.headline import ARMS, CONTROL, Headline, HeadlineConfig, round_sum
from loyal.sim.headline_run import finite, run_headline, write_outputs
from loyal.sim.headline_tasks import bigram_counts, bigram_gradient

TINY = HeadlineConfig(
    rounds=12, clients_per_round=4, participations=2, min_separation=6, epsilons=(2.0, 8.0), delta=1e-5,
    clip_norm=1.0, learning_rates=(0.5,), momenta=(0.0, 0.9), seeds=(0, 1, 2), quick=True,
)


@dataclasses.dataclass
class _LinearTask:
    """A 6-dimensional quadratic: client c pulls the model towards (c mod 5) / 5; records cohorts it sees."""

    name: str = "linear"
    num_clients: int = 400
    dim: int = 6
    seen: list = dataclasses.field(default_factory=list)

    def init_params(self) -> np.ndarray:
        return np.zeros(self.dim)

    def client_updates(self, params: np.ndarray, clients: np.ndarray, seed: int) -> np.ndarray:
        self.seen.append(tuple(int(c) for c in clients))
        return 0.5 * ((np.asarray(clients)[:, None] % 5) / 5.0 - params[None, :])

    def evaluate(self, params: np.ndarray, split: str) -> tuple[float, float]:
        loss = float(np.sum((params - 0.4) ** 2))
        return loss, float(loss < 0.5)


def test_bigram_closed_form_gradient_equals_autograd() -> None:
    # Prepare: one client's bigram counts from a short text, random logits.
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 9, size=60)[:-1] * 9 + rng.integers(0, 9, size=60)[1:]
    counts = bigram_counts(codes, 9)
    weights = rng.normal(size=(9, 9))
    w = torch.tensor(weights, requires_grad=True)
    # Execute: mean cross-entropy over the client's bigrams, by autograd.
    loss = -(torch.tensor(counts) * torch.log_softmax(w, dim=1)).sum() / counts.sum()
    loss.backward()
    # Assert
    np.testing.assert_allclose(bigram_gradient(weights, counts), w.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_every_arm_sees_the_same_cohorts_for_a_seed() -> None:
    task = _LinearTask()
    headline = Headline(dataclasses.replace(TINY, epsilons=(2.0,)), task)
    seen = {}
    for arm in ("fedavg", "identity-ssa", "banded", "blt-ssa"):
        task.seen.clear()
        headline.run(arm, 2.0, 0.5, 0.9, seed=1, split="test")
        seen[arm] = list(task.seen)
    assert len(seen["banded"]) == TINY.rounds
    assert all(s == seen["banded"] for s in seen.values())
    task.seen.clear()
    headline.run("banded", 2.0, 0.5, 0.9, seed=2, split="test")
    assert task.seen != seen["banded"]  # another seed, other cohorts


def test_tiny_end_to_end_run_reports_every_arm_with_cis_and_epsilons(tmp_path) -> None:
    # Execute
    result = run_headline("linear", True, config=TINY, task_object=_LinearTask())
    paths = write_outputs(result, tmp_path)
    data = json.loads(paths[0].read_text())
    # Assert: every arm at every epsilon, CIs around the mean paired difference, epsilon at the target.
    assert [p.name for p in paths] == ["linear-quick.json", "linear-quick.md", "linear-quick-eps2.0.png",
                                       "linear-quick-eps8.0.png"]
    for eps, block in data["epsilons"].items():
        assert list(block["arms"]) == list(ARMS)
        for name, arm in block["arms"].items():
            assert len(arm["test_loss"]) == len(TINY.seeds)
            d = arm["loss_difference"]
            if name == CONTROL:
                assert d["mean"] == 0.0
            else:
                assert d["low"] <= d["mean"] <= d["high"]
                assert d["mean"] == pytest.approx(np.mean(np.subtract(arm["test_loss"], block["arms"][CONTROL]["test_loss"])))
            if ARMS[name][1] == "none":
                assert arm["epsilon"] is None
            else:
                assert arm["epsilon"] == pytest.approx(float(eps), rel=2e-3)
                assert arm["epsilon"] <= float(eps) + 1e-6
        assert set(block["target"]) >= {"best_ssa_arm", "beats_identity_ssa", "holds"}


def test_ssa_simulation_matches_the_real_ssa_releases_within_the_quantization_bound() -> None:
    # Prepare: the real in-process SSA path (committee 4 of 3, as the headline) on a short run, and the
    # harness's arithmetic: encoded round sums plus the mechanism's correlated noise with std z·sens·C·√(n/h),
    # fed with the committee's replayed noise (insecure seed) so both paths use the same draws.
    dim, clients, rounds, z = 64, 4, 3, 0.8
    settings = SsaSettings(committee_size=4, threshold=3, params="insecure-test-n1024", insecure_seed=5)
    privacy = PrivacyConfig(clip_norm=1.0, noise_multiplier=z, rounds=rounds, expected_clients=clients,
                            mechanism="banded-toeplitz")
    ssa = DPFTRLSsa(privacy, dim, settings)
    cfg, members = ssa.config, ssa.config.committee
    headline_cfg = dataclasses.replace(TINY, committee_size=4, threshold=3, scale=settings.scale)
    overhead = headline_cfg.ssa_overhead
    assert cfg.round_noise_sigma / cfg.encoder.scale == pytest.approx(z * privacy.clip_norm * overhead, rel=1e-12)
    sens = ssa.mechanism.sensitivity()
    std = z * sens * privacy.clip_norm * overhead
    replayed = [noise_from_committee(settings, cfg, t, members) for t in range(rounds)]
    draws = iter(replayed)
    stream = ssa.mechanism.noise_stream(lambda: torch.tensor(next(draws) / (z * privacy.clip_norm * overhead)))
    encoder = FixedPointEncoder(privacy.clip_norm, settings.scale)
    gen = torch.Generator().manual_seed(0)
    simulated_prefix = np.zeros(dim)
    noise_l1 = np.zeros(dim)
    params = torch.zeros(dim, dtype=torch.float64)
    for t in range(rounds):
        updates = [torch.randn(dim, generator=gen, dtype=torch.float64) * 0.3 for _ in range(clients)]
        # Execute
        params = ssa.apply(params, updates, [1.0] * clients)
        real = ssa.job.policy.prefix_sum([r.values for r in ssa.state.releases])
        simulated_prefix += round_sum(np.stack([u.numpy() for u in updates]), None, encoder, seed=t) + std * next(stream).numpy()
        # Assert: |diff| <= m(t+1)/s (each client's randomized rounding) + 2^-(f+1) Σ_j |Z_j| (release coefficients).
        noise_l1 += np.abs(replayed[t])
        bound = clients * (t + 1) / settings.scale + 2.0 ** -(settings.scale_bits + 1) * sens * noise_l1 * rounds
        diff = np.abs(real - simulated_prefix)
        assert np.all(diff <= bound + 1e-9)
        assert np.max(np.abs(real)) > 10 * np.max(bound)  # the releases are far larger than the bound


def test_headline_config_fails_if_control_arm_missing() -> None:
    with pytest.raises(ValueError, match="including 'identity-ssa'"):
        dataclasses.replace(TINY, arms=("fedavg", "banded"))


def test_headline_config_fails_if_tuning_seed_among_seeds() -> None:
    with pytest.raises(ValueError, match=r"seeds must hold >= 2 seeds without tuning_seed=1000, got \(0, 1000\)"):
        dataclasses.replace(TINY, seeds=(0, 1000))


def test_ssa_overhead_is_sqrt_committee_over_honest() -> None:
    # committee 4 of 3: h = min(t, n - t + 1) = 2, so the noise std is √2 times the trusted server's.
    assert TINY.ssa_overhead == pytest.approx(math.sqrt(2))


def test_cohort_overhead_and_equivalent_epsilons() -> None:
    """Issue 15, deliverable 2: 4 clients/round all add noise, floor(0.9·4) = 3 assumed honest, beside the
    committee's 4 of which h = 2: sqrt((4 + 4)/(2 + 3)); the equivalent epsilons follow the accounting."""
    assert TINY.cohort_noise == (4, 3)
    assert TINY.ssa_cohort_overhead == pytest.approx(math.sqrt(8 / 5))
    from loyal.protocols.dpftrl import accounting

    z = accounting.calibrate_noise_multiplier(2.0, TINY.delta)
    eq = TINY.equivalent_epsilons(z)
    assert eq["committee"] == pytest.approx(accounting.epsilon(z * math.sqrt(2), TINY.delta))
    assert eq["committee"] < eq["cohort"] < 2.0 + 1e-6 < eq["cohort_floor"]  # more noise, lower epsilon
    assert eq["cohort_floor"] == pytest.approx(accounting.epsilon(z * math.sqrt(2 / 5), TINY.delta))
    with pytest.raises(ValueError, match="noise_contributors in \\[0, 4\\]"):
        dataclasses.replace(TINY, noise_contributors=5)


def test_a_run_reuses_the_arms_of_a_finished_run_and_adds_new_ones(tmp_path) -> None:
    base = dataclasses.replace(TINY, arms=("fedavg", "identity-ssa", "banded-ssa"), epsilons=(2.0,), momenta=(0.9,))
    first = json.loads(json.dumps(finite(run_headline("linear", True, config=base, task_object=_LinearTask()))))
    task = _LinearTask()
    wider = dataclasses.replace(base, arms=("fedavg", "identity-ssa", "banded-ssa", "banded-ssa-cohort"))
    second = run_headline("linear", True, config=wider, task_object=task, reuse=first)
    # Only the new arm ran (tuning over 1 grid point + 3 seeds, 12 rounds each); the reused ones are identical.
    assert len(task.seen) == (1 + 3) * 12
    block = second["epsilons"]["2.0"]
    assert block["arms"]["banded-ssa"]["test_loss"] == first["epsilons"]["2.0"]["arms"]["banded-ssa"]["test_loss"]
    co = block["target"]["cohort"]
    assert co["best_cohort_arm"] == "banded-ssa-cohort" and co["versus"] == "banded-ssa"
    assert block["arms"]["banded-ssa-cohort"]["noise_std"] < block["arms"]["banded-ssa"]["noise_std"]
    assert "if every cohort noise contributor lied" in (write_outputs(second, tmp_path)[1]).read_text()
    with pytest.raises(ValueError, match="the reused run differs in rounds"):
        run_headline("linear", True, config=dataclasses.replace(wider, rounds=10), task_object=task, reuse=first)
