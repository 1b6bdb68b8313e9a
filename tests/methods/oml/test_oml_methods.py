# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OML methods on a tiny model: generation, embed → verify, save/load, mismatched tokenizer, CLI."""

import copy
import json

import numpy as np
import pytest
import torch

from loyal.app import main
from loyal.methods.oml.embed import EmbedConfig, average_models, embed_fingerprints, fingerprint_stage
from loyal.methods.oml.generate import (
    distinct_keys, generate_fingerprints, read_fingerprints, sample_keys, write_fingerprints,
)
from loyal.methods.oml.model import (
    BaseModelConfig, build_gpt2, char_tokenizer, lm_train, load_model_and_tokenizer, perplexity,
    save_model_and_tokenizer, shakespeare_text, tokenizer_digest, train_bpe_tokenizer,
)
from loyal.methods.oml.verify import estimate_p0, fingerprint_accuracy, matched_indices, verify_model
from loyal.protocols.oml.fingerprints import TokenizerMismatchError
from loyal.protocols.oml.perinucleus import PerinucleusParams, nucleus_size, ranked_tokens

#: The stated accuracy of embed → verify on the tiny model (observed 1.0 in development runs).
EMBED_ACCURACY = 0.9
_TINY = BaseModelConfig(vocab_size=300, width=32, layers=2, heads=2, context=48, steps=60, seq_len=32)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny BPE tokenizer + GPT-2 LM briefly trained on Shakespeare, saved with save_pretrained."""
    torch.set_num_threads(1)
    text = shakespeare_text().train[:60_000]
    tokenizer = train_bpe_tokenizer(text, _TINY.vocab_size)
    model = build_gpt2(_TINY, len(tokenizer))
    lm_train(model, np.asarray(tokenizer(text)["input_ids"]), _TINY.steps, 16, 32, 5e-3, 0)
    path = save_model_and_tokenizer(model, tokenizer, tmp_path_factory.mktemp("oml") / "base")
    return path, text


@pytest.fixture(scope="module")
def fingerprints(tiny):
    model, tokenizer = load_model_and_tokenizer(tiny[0])
    return generate_fingerprints(model, tokenizer, 48, key_length=8, rng=np.random.default_rng(0))


def test_generated_perinucleus_responses_lie_outside_nucleus_of_base_model(tiny, fingerprints):
    model, tokenizer = load_model_and_tokenizer(tiny[0])
    from loyal.methods.oml.generate import bos_id, next_token_probs

    probs = next_token_probs(model, [[bos_id(tokenizer), *fp.key_ids] for fp in fingerprints])
    params = PerinucleusParams()
    for fp, p in zip(fingerprints, probs):
        assert len(fp.key_ids) == 8 and len(fp.response_ids) == 1
        p = p.copy()
        p[tokenizer.all_special_ids] = 0
        p /= p.sum()
        n = nucleus_size(p, params.nucleus_mass)
        rank = int(np.flatnonzero(ranked_tokens(p) == fp.response_ids[0])[0])
        assert n <= rank < n + params.width
    # Hence the base model never produces them greedily: its greedy token is inside the nucleus.
    assert matched_indices(model, tokenizer, fingerprints) == []


def test_embed_then_verify_reaches_stated_accuracy_and_survives_save_load(tiny, fingerprints, tmp_path):
    # Prepare
    model, tokenizer = load_model_and_tokenizer(tiny[0])
    base = copy.deepcopy(model)
    # 60 epochs, as the CLI test below: measured on this host over fingerprint seeds 0-4, 50 epochs gave
    # 0.65-0.98 (seed 0: 0.896) and 60 epochs 0.92-1.0.
    config = EmbedConfig(epochs=60, batch_size=16, learning_rate=5e-3, averaging_lambda=0.9,
                         benign_fraction=0.2, augmentation_fraction=0.2)
    # Execute
    embed_fingerprints(model, tokenizer, fingerprints, config, tiny[1], progress=False)
    save_model_and_tokenizer(model, tokenizer, tmp_path / "fp")
    loaded, loaded_tok = load_model_and_tokenizer(tmp_path / "fp")
    # Assert
    acc = fingerprint_accuracy(model, tokenizer, fingerprints)
    assert acc >= EMBED_ACCURACY
    assert fingerprint_accuracy(loaded, loaded_tok, fingerprints) == acc
    assert tokenizer_digest(loaded_tok) == tokenizer_digest(tokenizer)
    x = torch.tensor([[0, *fingerprints[0].key_ids]])
    torch.testing.assert_close(loaded(input_ids=x).logits, model(input_ids=x).logits)
    p0 = estimate_p0([(base, tokenizer)], fingerprints)["p0"]
    owner = verify_model(loaded, loaded_tok, fingerprints, p0, 1e-6)
    assert owner["verdict"] == "fingerprinted" and owner["fpr_bound"] <= 1e-6
    assert verify_model(base, tokenizer, fingerprints, p0, 1e-6)["verdict"] == "not-proven"
    assert perplexity(model, tokenizer, tiny[1][-20_000:], seq_len=32) < 3 * perplexity(base, tokenizer, tiny[1][-20_000:], seq_len=32)
    merged = average_models([model, base])
    assert 0 <= fingerprint_accuracy(merged, tokenizer, fingerprints) <= 1


def test_verify_fails_if_tokenizer_mismatched(tiny, fingerprints, tmp_path):
    model = build_gpt2(_TINY, len(char_tokenizer()))
    path = save_model_and_tokenizer(model, char_tokenizer(), tmp_path / "char")
    other, other_tok = load_model_and_tokenizer(path)
    with pytest.raises(TokenizerMismatchError, match="mismatched tokenizer: fingerprints were generated"):
        verify_model(other, other_tok, fingerprints, 0.05)


def test_load_fails_if_tokenizer_larger_than_model(tiny, tmp_path):
    model = build_gpt2(_TINY, 50)
    _, tokenizer = load_model_and_tokenizer(tiny[0])
    save_model_and_tokenizer(model, tokenizer, tmp_path / "bad")
    with pytest.raises(ValueError, match="mismatched tokenizer: 300 tokens but the model has 50 embedding rows"):
        load_model_and_tokenizer(tmp_path / "bad")


def test_read_fingerprints_fails_if_file_empty(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="fingerprint file is empty"):
        read_fingerprints(tmp_path / "empty.jsonl")


def test_cli_generate_embed_verify(tiny, tmp_path, capsys):
    fp_file, out = tmp_path / "f.jsonl", tmp_path / "fp"
    assert main(["oml", "generate", "--model", str(tiny[0]), "--num", "24", "--out", str(fp_file),
                 "--key-length", "8", "--seed", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num"] == 24
    assert main(["oml", "embed", "--model", str(tiny[0]), "--fingerprints", str(fp_file), "--out", str(out),
                 "--epochs", "60", "--batch-size", "8", "--lr", "5e-3", "--lam", "0.9", "--beta", "0", "--augment", "0",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= EMBED_ACCURACY
    ledger = tmp_path / "ledger.json"
    assert main(["oml", "verify", "--model", str(out), "--fingerprints", str(fp_file), "--null-model",
                 str(tiny[0]), "--num", "16", "--ledger", str(ledger), "--seed", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"queried", "matches", "fpr_bound", "verdict"}
    assert result["queried"] == 16 and result["verdict"] == "fingerprinted"
    assert len(json.loads(ledger.read_text())["spent"]) == 16
    # The second query draws only from the 8 unspent fingerprints.
    assert main(["oml", "verify", "--model", str(out), "--fingerprints", str(fp_file), "--num", "9",
                 "--ledger", str(ledger), "--json"]) == 2
    assert "num must be in [1, 8]" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value", "message"), [("--nucleus-mass", "1.5", "nucleus_mass t must be in"),
                                                        ("--width", "0", "width k must be an integer ≥ 1")])
def test_cli_generate_fails_if_t_or_k_invalid(tiny, tmp_path, capsys, flag, value, message):
    assert main(["oml", "generate", "--model", str(tiny[0]), "--num", "2", "--out", str(tmp_path / "f.jsonl"),
                 flag, value]) == 2
    assert message in capsys.readouterr().err


def test_fingerprint_stage_on_char_transformer(tmp_path):
    from loyal.methods.kit.models import build_model

    torch.manual_seed(0)
    build_model("char-transformer").save_pretrained(tmp_path / "char")
    result = fingerprint_stage(tmp_path / "char", tmp_path / "stage", num_fingerprints=16)
    assert result["accuracy"] >= EMBED_ACCURACY and result["verdict"] == "fingerprinted"
    assert result["base_accuracy"] == 0.0
    assert len(read_fingerprints(result["fingerprints"])) == 16


def _gpt2_params(config: BaseModelConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in build_gpt2(config, config.vocab_size).parameters())


def test_capacity_base_is_within_issue_size_and_gpu_script_model_is_bigger():
    """The capacity experiment's targets are stated for a model ≤ 5M parameters; the GPU script runs a bigger one."""
    import importlib.util
    from pathlib import Path

    from loyal.methods.oml.experiments import CAPACITY_BASE, CapacitySettings

    spec = importlib.util.spec_from_file_location(
        "oml_capacity_gpu", Path(__file__).parents[3] / "benchmarks" / "gpu" / "oml_capacity.py")
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    assert CapacitySettings().base == CAPACITY_BASE
    cpu_params, gpu_params = _gpt2_params(CAPACITY_BASE), _gpt2_params(gpu.GPU_SETTINGS.base)
    assert 1_000_000 < cpu_params <= 5_000_000
    assert gpu_params > 2 * cpu_params
    assert max(CapacitySettings().counts) >= 1024 and set(CapacitySettings().kinds) == {"perinucleus", "random", "english"}


_CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_cli_embed_and_verify_on_local_llama_and_qwen_checkpoints(tiny, tmp_path, capsys, arch):
    """A `save_pretrained` Llama / Qwen2 folder with a chat-template tokenizer goes through the CLI unchanged."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from loyal.methods.oml.embed import wrappers

    _, tokenizer = load_model_and_tokenizer(tiny[0])
    tokenizer.chat_template = _CHAT_TEMPLATE
    sizes = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                 bos_token_id=0, eos_token_id=0, pad_token_id=0, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(arch, **sizes))
    lm_train(model, np.asarray(tokenizer(tiny[1])["input_ids"]), 40, 16, 32, 5e-3, 0)
    base = save_model_and_tokenizer(model, tokenizer, tmp_path / arch)
    assert len(wrappers(tokenizer)) == 5  # four fixed prefixes + the chat template (prompt augmentation)
    fp_file, out = tmp_path / "f.jsonl", tmp_path / "fp"
    assert main(["oml", "generate", "--model", str(base), "--num", "16", "--out", str(fp_file),
                 "--key-length", "8", "--seed", "2", "--json"]) == 0
    capsys.readouterr()
    assert main(["oml", "embed", "--model", str(base), "--fingerprints", str(fp_file), "--out", str(out),
                 "--epochs", "60", "--batch-size", "8", "--lr", "5e-3", "--lam", "1", "--beta", "0", "--augment",
                 "0.3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= EMBED_ACCURACY
    assert main(["oml", "verify", "--model", str(out), "--fingerprints", str(fp_file), "--null-model", str(base),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "fingerprinted" and result["matches"] >= EMBED_ACCURACY * 16
    reloaded = AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    assert reloaded.config.model_type == arch


def test_repeated_keys_are_resampled_and_a_peaked_model_is_refused(tiny):
    # `make test` once failed in the demo: two of its fingerprints had equal keys, which the verifier's
    # parser refuses. Repeats are resampled; a model too peaked to give distinct keys is a clear error.
    model, tokenizer = load_model_and_tokenizer(tiny[0])
    rng = np.random.default_rng(1)
    a, b = sample_keys(model, tokenizer, 2, 8, rng)
    out = distinct_keys(model, tokenizer, [a, a, b, a], rng)
    assert out[0] == a and out[2] == b
    assert len({tokenizer.decode(list(k)) for k in out}) == 4
    with pytest.raises(ValueError, match="still repeat after 20 resamplings"):
        generate_fingerprints(model, tokenizer, 4, key_length=8, rng=rng, key_temperature=1e-6)
