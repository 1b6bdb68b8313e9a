# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The universal image attack (arXiv 2407.15211, Eq. (1)) and its scores against brute-force oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.methods.jailbreak_transfer import attack, vlm



@pytest.fixture(scope="module")
def prompts() -> torch.Tensor:
    return vlm.request_prompts(vlm.HARMFUL_WORDS[:2])  # 4 prompts


def _tiny(backbone: str = "mlp", seed: int = 0, lm: str = "transformer") -> vlm.TinyVlm:
    config = vlm.VlmConfig(prefix_tokens=2, embed_dim=8, hidden=8, steps=1, lm=lm)
    model = vlm.new_vlm(backbone, seed, config).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.mark.parametrize("backbone,lm", [("mlp", "transformer"), ("cnn", "transformer"), ("mlp", "gru")])
def test_attack_gradient_matches_central_finite_differences(backbone: str, lm: str, prompts: torch.Tensor) -> None:
    # Prepare: an ensemble of two tiny models in float64, an interior image (no clamping involved).
    models = [_tiny(backbone, 0, lm).double(), _tiny(backbone, 1, lm).double()]
    image = (0.2 + 0.6 * torch.rand(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).requires_grad_(True)
    # Execute
    attack.attack_loss(models, image, prompts).backward()
    coords = (0, 9, 18, 27, 36, 45, 54, 63)  # inner and border pixels
    eps, numeric = 1e-6, torch.zeros(len(coords), dtype=torch.float64)
    with torch.no_grad():
        for n, k in enumerate(coords):
            step = torch.zeros(64, dtype=torch.float64)
            step[k] = eps
            numeric[n] = (attack.attack_loss(models, image + step, prompts) - attack.attack_loss(models, image - step, prompts)) / (2 * eps)
    # Assert
    assert numeric.abs().max() > 1e-4  # the image matters
    torch.testing.assert_close(image.grad[list(coords)], numeric, rtol=1e-5, atol=1e-8)


def _greedy_decode(model: vlm.TinyVlm, image: torch.Tensor, prompt: torch.Tensor) -> list[int]:
    """Brute-force greedy decoding, one token at a time (later answer slots hold a dummy 0)."""
    answer = [0, 0, 0]
    for t in range(3):
        logits = model.answer_logits(image, prompt[None], torch.tensor([answer]))[0, t]
        answer[t] = int(logits.argmax())
    return answer


def _log_prob(model: vlm.TinyVlm, image: torch.Tensor, prompt: torch.Tensor, words: tuple[str, ...]) -> float:
    ids = vlm.encode(words)
    logits = model.answer_logits(image, prompt[None], torch.tensor([ids]))[0]
    return float(sum(logits[t, ids[t]] - torch.logsumexp(logits[t], 0) for t in range(3)))


def test_success_flags_match_a_brute_force_greedy_decoding_loop() -> None:
    # Prepare: a briefly trained tiny model; benign prompts tend to comply, harmful ones to refuse, so the
    # comparison sees both outcomes.
    x, y, _, _ = vlm.digits_split(8)
    config = vlm.VlmConfig(prefix_tokens=2, embed_dim=8, hidden=16, steps=40, batch_size=64, learning_rate=2e-2)
    model = vlm.train_vlm(vlm.new_vlm("mlp", 0, config), x, y, config, order_seed=0)
    mixed = torch.cat([vlm.request_prompts(vlm.BENIGN_WORDS[:2]), vlm.request_prompts(vlm.HARMFUL_WORDS[:2])])
    greedy_all, beats_all = [], []
    with torch.no_grad():
        for image in (torch.from_numpy(x[0]), torch.full((64,), 0.5)):
            # Execute
            greedy, beats = attack.success_flags(model, image, mixed)
            # Assert
            expected = [_greedy_decode(model, image, p) == vlm.encode(vlm.COMPLY) for p in mixed]
            expected_beats = [_log_prob(model, image, p, vlm.COMPLY) > _log_prob(model, image, p, vlm.REFUSAL) for p in mixed]
            assert greedy.tolist() == expected and beats.tolist() == expected_beats
            assert attack.success_rate(model, image, mixed) == pytest.approx(np.mean(expected))
            greedy_all += expected
            beats_all += expected_beats
    assert 0 < np.mean(greedy_all) < 1 and 0 < np.mean(beats_all) < 1  # both outcomes were compared


def test_clamping_keeps_the_image_in_the_data_range(prompts: torch.Tensor) -> None:
    start = torch.linspace(-2.0, 3.0, 64)  # partly outside [0, 1]: projected before the first step
    image, losses = attack.universal_attack([_tiny()], prompts, start, attack.AttackConfig(steps=30, learning_rate=0.5))
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert ((image == 0.0) | (image == 1.0)).any()  # the box constraint was active
    assert len(losses) == 30 and start.min() == -2.0  # the start image is not modified


def test_white_box_attack_raises_the_target_log_prob_monotonically_in_steps(prompts: torch.Tensor) -> None:
    # Fixed seed and start; more Adam steps from the same start give a higher mean log p(comply).
    model = _tiny("mlp", 5)
    start = torch.full((64,), 0.5)
    log_probs = []
    for steps in (0, 5, 20, 60):
        image, _ = attack.universal_attack([model], prompts, start, attack.AttackConfig(steps=steps, learning_rate=0.02))
        log_probs.append(float(attack.sequence_log_prob(model, image, prompts, vlm.COMPLY).mean()))
    assert all(b > a for a, b in zip(log_probs, log_probs[1:])), log_probs


def test_transfer_matrix_diagonal_equals_the_direct_white_box_evaluation(prompts: torch.Tensor) -> None:
    # Prepare: three tiny models, each attacked alone.
    models = [_tiny("mlp", 0), _tiny("mlp", 1), _tiny("cnn", 2)]
    start = torch.full((64,), 0.5)
    images = [attack.universal_attack([m], prompts, start, attack.AttackConfig(steps=10))[0] for m in models]
    # Execute
    nll = attack.transfer_matrix(models, images, prompts, key="target_nll")
    success = attack.transfer_matrix(models, images, prompts)
    # Assert: Eq. (1) on model i alone, and a per-prompt loop, reproduce the diagonal; rows are images.
    for i, (model, image) in enumerate(zip(models, images)):
        assert nll[i, i] == pytest.approx(float(attack.attack_loss([model], image, prompts)), rel=1e-5)
        loop = -np.mean([_log_prob(model, image, p, vlm.COMPLY) for p in prompts])
        assert nll[i, i] == pytest.approx(loop, rel=1e-4)
        assert success[i, i] == attack.success_rate(model, image, prompts)
    assert nll[0, 1] == pytest.approx(-float(attack.sequence_log_prob(models[1], images[0], prompts, vlm.COMPLY).mean()), rel=1e-5)


def test_mean_ci_matches_the_student_t_closed_form() -> None:
    # t_{0.975, 2} = 4.302653 (tables); sd of (1, 2, 3) is 1.
    mean, half = attack.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert attack.mean_ci([0.25]) == (0.25, 0.0)
    with pytest.raises(ValueError, match="values must hold at least one number, got 0"):
        attack.mean_ci([])


@pytest.mark.parametrize("kwargs,message", [
    ({"steps": -1}, "steps must be >= 0, got -1"),
    ({"learning_rate": 0.0}, r"learning_rate must be > 0, got 0.0"),
])
def test_attack_config_fails_if_out_of_range(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        attack.AttackConfig(**kwargs)


def test_universal_attack_fails_if_no_model_is_given(prompts: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="models must hold at least one model, got 0"):
        attack.universal_attack([], prompts, torch.zeros(64), attack.AttackConfig(steps=1))
