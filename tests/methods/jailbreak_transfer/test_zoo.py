# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The VLM zoo (arXiv 2407.15211, Sec. 3.3): identical initialisation, relations, training batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.methods.jailbreak_transfer import vlm, zoo

TINY = vlm.VlmConfig(prefix_tokens=2, embed_dim=8, hidden=8, steps=3, batch_size=16)


def _state_bytes(model: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.detach().numpy().tobytes() for k, v in model.state_dict().items()}


def test_identically_initialised_members_share_bytes_at_init_and_differ_after_training_on_other_data() -> None:
    # Prepare: the zoo of repetition 0: S0, S1 (same init), R1 (own init), C0.
    s0, s1, r1, c0 = zoo.zoo_members(rep=0, n_same=2, n_diff=1, n_cnn=1)
    # Execute / Assert: byte-equal state dicts at initialisation for the same (backbone, init_seed) …
    init = {m.name: _state_bytes(vlm.new_vlm(m.backbone, m.init_seed, TINY)) for m in (s0, s1, r1)}
    assert init["S0"] == init["S1"]
    assert init["S0"].keys() == init["R1"].keys() and init["S0"] != init["R1"]
    # … and different weights once trained on different data subsets.
    x, y, _, _ = vlm.digits_split(8)
    trained = {m.name: _state_bytes(zoo.train_member(m, 0, x, y, TINY, 0.8)) for m in (s0, s1)}
    changed = [k for k in trained["S0"] if trained["S0"][k] != trained["S1"][k]]
    assert "projection.weight" in changed and trained["S0"] != init["S0"]
    # The init seed does not touch the global generator.
    before = torch.random.get_rng_state()
    vlm.new_vlm("cnn", c0.init_seed, TINY)
    assert torch.equal(before, torch.random.get_rng_state())


def test_zoo_data_subsets_differ_across_data_ids_and_batch_order_ignores_the_init_seed() -> None:
    a, b = zoo.data_subset(0, 0, 1400, 0.8), zoo.data_subset(0, 1, 1400, 0.8)
    assert len(a) == len(b) == 1120 and not np.array_equal(a, b)
    members = {m.name: m for m in zoo.zoo_members(0, 2, 2, 1)}
    assert zoo.order_seed(0, members["S0"].data_id) == zoo.order_seed(0, members["R2"].data_id)
    assert zoo.order_seed(0, members["S0"].data_id) != zoo.order_seed(0, members["S1"].data_id)


@pytest.mark.parametrize("a,b,expected", [
    (zoo.ZooMember("S0", "mlp", 1, 0), zoo.ZooMember("S0", "mlp", 1, 0), "white_box"),
    (zoo.ZooMember("S0", "mlp", 1, 0), zoo.ZooMember("S1", "mlp", 1, 1), "same_init_diff_data"),
    (zoo.ZooMember("S0", "mlp", 1, 0), zoo.ZooMember("R1", "mlp", 2, 0), "diff_init_same_data"),
    (zoo.ZooMember("S1", "mlp", 1, 1), zoo.ZooMember("R1", "mlp", 2, 0), "diff_init_diff_data"),
    (zoo.ZooMember("S0", "mlp", 1, 0), zoo.ZooMember("C0", "cnn", 1, 0), "diff_backbone"),
    (zoo.ZooMember("S0", "mlp", 1, 0), zoo.ZooMember("T0", "mlp", 1, 0), "identical"),
])
def test_relation_table(a: zoo.ZooMember, b: zoo.ZooMember, expected: str) -> None:
    assert zoo.relation(a, b) == expected


def test_sample_batch_pairs_each_prompt_with_its_answer() -> None:
    # Oracle: rebuild every example's prompt and answer from its words with `encode`.
    x, y, _, _ = vlm.digits_split(8)
    images, prompts, answers, shown = vlm.sample_batch(x, y, 256, np.random.default_rng(0), request_image_share=0.5)
    words = [[vlm.VOCAB[i] for i in row] for row in prompts.tolist()]
    kinds = set()
    for image, prompt, answer, show in zip(images, words, answers.tolist(), shown.tolist()):
        label = int(y[np.flatnonzero((x == image.numpy()).all(axis=1))[0]])
        if prompt == ["what", "digit", "?"]:
            kinds.add("digit")
            assert answer == vlm.encode((vlm.DIGIT_WORDS[label], "<eos>", "<eos>")) and show
        elif prompt == ["is", "it", "even"]:
            kinds.add("even")
            assert answer == vlm.encode(("yes" if label % 2 == 0 else "no", "<eos>", "<eos>")) and show
        elif prompt[1] in vlm.BENIGN_WORDS:
            kinds.add("benign")
            assert prompt[0] == "please" and prompt[2] in vlm.BENIGN_WORDS and answer == vlm.encode(vlm.COMPLY)
        else:
            kinds.add("harmful")
            assert prompt[0] == "please" and {prompt[1], prompt[2]} <= set(vlm.HARMFUL_WORDS)
            assert answer == vlm.encode(vlm.REFUSAL)
    assert kinds == {"digit", "even", "benign", "harmful"}
    requests = [i for i, w in enumerate(words) if w[0] == "please"]
    assert 0.3 < shown[requests].float().mean() < 0.7


def test_text_only_logits_equal_image_logits_when_the_image_tokens_are_masked_out() -> None:
    # Oracle: a transformer whose image tokens get zero attention behaves like the text-only path.
    model = vlm.new_vlm("mlp", 0, TINY).eval()
    prompts = vlm.request_prompts(vlm.BENIGN_WORDS[:2])
    answers = torch.tensor([vlm.encode(vlm.COMPLY)] * len(prompts))
    text_only = model.answer_logits(None, prompts, answers)
    with torch.no_grad():
        tokens = torch.cat([torch.zeros(len(prompts), 2, 8), model.embed(torch.cat([prompts, answers[:, :-1]], 1))], 1)
        mask = model.causal_mask.clone()
        mask[:, :2] = float("-inf")
        mask[:2, :2] = 0.0
        states = model.lm(tokens + model.position, src_mask=mask)
    torch.testing.assert_close(text_only, model.head(states[:, 4:7]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs,message", [
    ({"lm": "lstm"}, "lm must be 'transformer' or 'gru', got 'lstm'"),
    ({"image_size": 10}, r"image_size must be a multiple of 4 in \[8, 64\], got 10"),
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\), got 1.0"),
    ({"prefix_tokens": 0}, "prefix_tokens must be >= 1, got 0"),
    ({"request_image_share": 1.5}, r"request_image_share must be in \[0, 1\], got 1.5"),
])
def test_vlm_config_fails_if_out_of_range(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vlm.VlmConfig(**kwargs)


def test_new_vlm_fails_if_backbone_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"backbone must be one of \('mlp', 'cnn'\), got 'vit'"):
        vlm.new_vlm("vit", 0, TINY)
