# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The four aggregators: fedavg, dp-fedavg, dpftrl-plaintext, dpftrl-ssa (equal up to quantization)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from loyal.methods.fl.dp_common import PrivacyConfig, clip_update
from loyal.methods.fl.dp_fedavg import DPFedAvg
from loyal.methods.fl.dpftrl_plaintext import DPFTRLPlaintext
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, SsaSettings, noise_from_committee
from loyal.protocols.dpftrl import accounting
from loyal.protocols.rlwe.ahe import ThresholdError

DIM, CLIENTS, ROUNDS = 300, 4, 3
SETTINGS = SsaSettings(committee_size=4, threshold=3, params="insecure-test-n1024", insecure_seed=11)


def _updates(seed: int, n: int = CLIENTS) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(DIM, generator=g, dtype=torch.float64) * 0.1 for _ in range(n)]


def _privacy(z: float = 0.5, mechanism: str = "banded-toeplitz") -> PrivacyConfig:
    return PrivacyConfig(clip_norm=1.0, noise_multiplier=z, rounds=ROUNDS, expected_clients=CLIENTS, mechanism=mechanism)


def test_clip_update_bounds_the_norm() -> None:
    u = torch.full((10,), 3.0, dtype=torch.float64)
    assert float(torch.linalg.vector_norm(clip_update(u, 2.0))) == pytest.approx(2.0)
    assert torch.equal(clip_update(u * 0.01, 2.0), u * 0.01)


def test_privacy_config_fails_if_mechanism_unknown() -> None:
    with pytest.raises(ValueError, match="mechanism must be one of .* got mechanism='foo'"):
        PrivacyConfig(mechanism="foo")


def test_equal_noise_multiplier_gives_equal_epsilon_from_accounting() -> None:
    # Prepare: dp-fedavg (identity) and DP-FTRL (banded) with the same effective multiplier.
    a, b = DPFedAvg(_privacy(0.9)), DPFTRLPlaintext(_privacy(0.9))
    # Assert: both ε come from protocols/dpftrl accounting of one Gaussian with multiplier z.
    assert a.privacy_report()["epsilon"] == b.privacy_report()["epsilon"] == accounting.epsilon(0.9, 1e-5)
    assert math.isinf(DPFedAvg(_privacy(0.0)).privacy_report()["epsilon"])


def test_dp_fedavg_without_noise_is_mean_of_clipped_updates() -> None:
    params = torch.zeros(DIM, dtype=torch.float64)
    ups = _updates(1)
    out = DPFedAvg(_privacy(0.0)).apply(params, ups, [1.0] * CLIENTS)
    expect = sum(clip_update(u, 1.0) for u in ups) / CLIENTS
    torch.testing.assert_close(out, expect)


def test_dp_fedavg_noise_has_the_calibrated_std() -> None:
    agg = DPFedAvg(PrivacyConfig(noise_multiplier=2.0, rounds=1, expected_clients=1))
    out = agg.apply(torch.zeros(20000, dtype=torch.float64), [torch.zeros(20000, dtype=torch.float64)], [1.0])
    assert float(out.std()) == pytest.approx(2.0, rel=0.03)


def test_dpftrl_plaintext_without_noise_is_sgd_on_the_mean() -> None:
    # With z = 0 and momentum 0, θ_t = θ_0 + lr · Σ_{j<=t} mean_i clip(Δ_ij) (Kairouz et al. Alg. 1).
    agg = DPFTRLPlaintext(_privacy(0.0), server_learning_rate=0.5)
    params = torch.zeros(DIM, dtype=torch.float64)
    expect = torch.zeros(DIM, dtype=torch.float64)
    for t in range(ROUNDS):
        ups = _updates(t)
        params = agg.apply(params, ups, [1.0] * CLIENTS)
        expect += 0.5 * sum(clip_update(u, 1.0) for u in ups) / CLIENTS
        torch.testing.assert_close(params, expect)


def test_dpftrl_ssa_equals_plaintext_up_to_quantization() -> None:
    # Prepare: the same committee noise is replayed into the plaintext aggregator.
    privacy = _privacy(0.5)
    ssa = DPFTRLSsa(privacy, DIM, SETTINGS, server_learning_rate=0.7)
    cfg = ssa.config
    members = cfg.committee
    plain = DPFTRLPlaintext(
        privacy, server_learning_rate=0.7,
        noise_source=lambda t, d: noise_from_committee(SETTINGS, cfg, t, members),
    )
    p_ssa = p_plain = torch.zeros(DIM, dtype=torch.float64)
    noise_l1 = np.zeros(DIM)
    for t in range(ROUNDS):
        ups = _updates(100 + t)
        # Execute
        p_ssa = ssa.apply(p_ssa, ups, [1.0] * CLIENTS)
        p_plain = plain.apply(p_plain, ups, [1.0] * CLIENTS)
        # Assert: bound = lr/m · [m(t+1)/s  (randomized rounding of each client value)
        #                         + 2^-(f+1) Σ_j |Z_j|  (rounding of the noise coefficients)].
        noise_l1 += np.abs(noise_from_committee(SETTINGS, cfg, t, members))
        bound = 0.7 / CLIENTS * (CLIENTS * (t + 1) / SETTINGS.scale + 2.0 ** -(SETTINGS.scale_bits + 1) * noise_l1)
        diff = (p_ssa - p_plain).abs().numpy()
        assert (diff <= bound + 1e-12).all()
        assert diff.max() > 0  # quantization is visible: the paths really differ in representation
    # The noise is really there: the model moved away from the noise-free one by far more than the bound.
    clean = DPFTRLPlaintext(_privacy(0.0), server_learning_rate=0.7)
    p_clean = torch.zeros(DIM, dtype=torch.float64)
    for t in range(ROUNDS):
        p_clean = clean.apply(p_clean, _updates(100 + t), [1.0] * CLIENTS)
    assert float((p_clean - p_plain).abs().max()) > 10 * bound.max()


def test_dpftrl_ssa_restart_from_saved_state_gives_the_same_model() -> None:
    privacy = _privacy(0.5)
    ref = DPFTRLSsa(privacy, DIM, SETTINGS)
    p_ref = torch.zeros(DIM, dtype=torch.float64)
    for t in range(ROUNDS):
        p_ref = ref.apply(p_ref, _updates(t), [1.0] * CLIENTS)
    # Execute: same job, the server process "restarts" after round 1 from its serialized state.
    first = DPFTRLSsa(privacy, DIM, SETTINGS)
    p = first.apply(torch.zeros(DIM, dtype=torch.float64), _updates(0), [1.0] * CLIENTS)
    blob = first.save_state()
    first.restore_state(blob)
    for t in range(1, ROUNDS):
        p = first.apply(p, _updates(t), [1.0] * CLIENTS)
    torch.testing.assert_close(p, p_ref, rtol=0, atol=0)


def test_dpftrl_ssa_release_fails_if_committee_below_threshold() -> None:
    agg = DPFTRLSsa(_privacy(0.5), DIM, SETTINGS)
    agg.committee.offline = {1, 2}
    with pytest.raises(ThresholdError, match="needs threshold=3 live committee members, got 2"):
        agg.apply(torch.zeros(DIM, dtype=torch.float64), _updates(0), [1.0] * CLIENTS)


def test_dpftrl_ssa_rejects_truncated_upload_and_keeps_the_rest() -> None:
    agg = DPFTRLSsa(_privacy(0.0), DIM, SETTINGS, server_learning_rate=1.0)
    ups = _updates(3)
    ticket = agg.ticket()
    from loyal.methods.fl.ticket import create_upload

    blobs = [create_upload(ticket, u.numpy(), i, agg.client_prng(0, i)) for i, u in enumerate(ups)]
    assert not agg.handle_upload(blobs[0][: len(blobs[0]) // 2])  # dropped mid-upload
    assert all(agg.handle_upload(b) for b in blobs[1:])
    out = agg.finish_round(torch.zeros(DIM, dtype=torch.float64))
    expect = sum(clip_update(u, 1.0) for u in ups[1:]) / CLIENTS
    assert float((out - expect).abs().max()) <= (CLIENTS - 1) / SETTINGS.scale / CLIENTS
    assert agg.rejected == 1


def test_dpftrl_ssa_above_threshold_releases_with_live_subset_and_rotates() -> None:
    # One member offline (4 of 5 > t = 3) and a committee hand-off after every round.
    settings = SsaSettings(committee_size=5, threshold=3, rotate_every=1, params="insecure-test-n1024", insecure_seed=3)
    agg = DPFTRLSsa(_privacy(0.0), DIM, settings)
    params, expect = torch.zeros(DIM, dtype=torch.float64), torch.zeros(DIM, dtype=torch.float64)
    for t in range(ROUNDS):
        first = agg.job.committee(agg.epoch)[0][0]
        agg.committee.take_offline([first])  # each epoch's first member vanishes (fresh member ids per epoch)
        ups = _updates(t)
        params = agg.apply(params, ups, [1.0] * CLIENTS)
        expect += sum(clip_update(u, 1.0) for u in ups) / CLIENTS
        assert agg.last_release.round_index == t  # released by a live subset without `first`
        assert float((params - expect).abs().max()) <= (t + 1) / settings.scale
    assert agg.epoch == ROUNDS - 1


def test_ticket_travels_as_validated_data_not_pickle() -> None:
    """A Flower client decodes the server's ticket as data (issue 16: unpickling lets the server run code)."""
    import struct

    from loyal.methods.fl.ticket import create_upload, ticket_from_bytes, ticket_to_bytes

    agg = DPFTRLSsa(_privacy(0.0), DIM, SETTINGS, server_learning_rate=1.0)
    signed = dataclasses.replace(agg.ticket(), key_signatures={1: b"s" * 64}, signing_keys={1: b"k" * 32})
    data = ticket_to_bytes(signed)
    assert b"\x80\x04" not in data[:2]  # no pickle header
    ticket = ticket_from_bytes(data)
    assert ticket.round_index == 0 and ticket.config.genesis == agg.config.genesis and ticket.job == agg.job
    assert np.array_equal(ticket.public_key_hat, agg.ticket().public_key_hat)
    assert (ticket.key_signatures, ticket.signing_keys) == ({1: b"s" * 64}, {1: b"k" * 32})
    assert agg.handle_upload(create_upload(ticket, _updates(1)[0].numpy(), 0, agg.client_prng(0, 0)))
    n = struct.unpack_from("<I", data)[0]
    bad_signatures = data[:12 + n] + b'{"1": 5}' + data[12 + n + struct.unpack_from("<I", data, 8)[0]:]
    bad_signatures = bad_signatures[:8] + struct.pack("<I", 8) + bad_signatures[12:]
    for bad in (data[:5], data[:40], data[:-4], b"\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00{}{}{", bad_signatures):
        with pytest.raises(ValueError):
            ticket_from_bytes(bad)


def test_dpftrl_ssa_takes_cohort_noise_shares_and_reports_the_floor() -> None:
    """Issue 15: 2 of the 4 clients add noise-only shares; the round's log counts 4 members + 2 cohort shares,
    less noise per share (sigma^2/(h + h_c)) and the report states the epsilon if the cohort lied."""
    import dataclasses

    settings = dataclasses.replace(SETTINGS, noise_contributors=2, honest_noise_contributors=2)
    agg = DPFTRLSsa(_privacy(0.5), DIM, settings)
    agg.apply(torch.zeros(DIM, dtype=torch.float64), _updates(0), [1.0] * CLIENTS)
    header = agg.state.core.log[0].header
    assert (header.num_clients, header.num_noise) == (CLIENTS, 4 + 2)
    report = agg.privacy_report()
    h = 2  # committee 4 of 3: min(t, n - t + 1)
    assert report["noise_overhead"] == pytest.approx(math.sqrt((4 + 2) / (h + 2)))
    assert report["floor_noise_multiplier"] == pytest.approx(0.5 * math.sqrt(h / (h + 2)))
    assert report["epsilon_floor"] == pytest.approx(accounting.epsilon(0.5 * math.sqrt(h / (h + 2)), 1e-5))
    assert report["epsilon_floor"] > report["epsilon"]
    assert "noise_overhead" in DPFTRLSsa(_privacy(0.5), DIM, SETTINGS).privacy_report()
    assert "epsilon_floor" not in DPFTRLSsa(_privacy(0.5), DIM, SETTINGS).privacy_report()


def test_dpftrl_ssa_with_proofs_excludes_the_attack_upload_and_releases_the_rest() -> None:
    """Issue 14, attack 1 in the in-process and Flower path: a client frames the secret-reading AHE ciphertext
    (c0, c1) = (0, 2^50) with a valid frame and an honest client's proof. `handle_uploads` verifies the
    round's uploads in parallel threads; the attack is excluded (it used to stop the round with ProofError)
    and the release is the sum of the honest uploads; a replay in the same batch is refused too."""
    import dataclasses

    from loyal.methods.fl.ticket import create_upload
    from loyal.protocols.rlwe.ahe import AheCiphertext
    from loyal.protocols.ssa.messages import Kind, parse_contribution, serialize_contribution

    settings = dataclasses.replace(SETTINGS, params=None, prove_uploads=True)  # the proven noise bound needs a secure set
    agg = DPFTRLSsa(_privacy(0.0), DIM, settings, server_learning_rate=1.0)
    ups, ticket, cfg = _updates(5), agg.ticket(), agg.config
    blobs = [create_upload(ticket, u.numpy(), i, agg.client_prng(0, i)) for i, u in enumerate(ups)]
    msg = parse_contribution(blobs[0], job_id=cfg.job_id, kahe_ring=cfg.kahe.ring, ahe_ring=cfg.ahe.ring,
                             num_polys=cfg.num_polys, kind=Kind.CLIENT_CONTRIBUTION)[0]
    ring = cfg.ahe.ring
    c1 = ring.ntt(ring.from_int(np.concatenate([[1 << 50], np.zeros(ring.degree - 1, dtype=object)]))).astype(np.uint32)
    attack = serialize_contribution(dataclasses.replace(msg, ahe=AheCiphertext(np.zeros_like(c1), c1)), cfg.job_id)
    # The batch also replays client 1's bytes: parsed ahead like the others, refused when it is checked.
    assert agg.handle_uploads([attack] + blobs[1:] + [blobs[1]]) == CLIENTS - 1
    assert agg.rejected == 2 and sorted(agg.state.core.open_round.client_ids) == list(range(1, CLIENTS))
    out = agg.finish_round(torch.zeros(DIM, dtype=torch.float64))
    expect = sum(clip_update(u, 1.0) for u in ups[1:]) / CLIENTS
    assert float((out - expect).abs().max()) <= (CLIENTS - 1) / settings.scale / CLIENTS


def test_dpftrl_ssa_keeps_the_round_parts_members_audit() -> None:
    """With `keep_parts` (a Flower committee's audit), every included upload's AHE part and proof is kept
    for its round (in a temporary file) and the kept parts pass the member's audit against the stored log."""
    from loyal.protocols.ssa.audit import check_round_parts
    from loyal.protocols.ssa.errors import ProtocolStateError

    # the proven noise bound needs a secure set; h = 3 honest of 5 members need h + t - 1 = 5 noise shares
    settings = dataclasses.replace(SETTINGS, params=None, prove_uploads=True, committee_size=5)
    agg = DPFTRLSsa(_privacy(0.5), DIM, settings, keep_parts=True)
    agg.apply(torch.zeros(DIM, dtype=torch.float64), _updates(0), [1.0] * CLIENTS)
    parts, header = agg.round_parts(0), agg.state.core.log[0].header
    assert sorted(s for s, _, _ in parts.data) == list(range(CLIENTS)) and len(parts.noise) == header.num_noise == 5
    check_round_parts(agg.config, header, parts, agg.state.core.public_key_hat, None)  # raises if any part is off
    with pytest.raises(ProtocolStateError, match="keeps no round parts"):
        DPFTRLSsa(_privacy(0.5), DIM, SETTINGS, keep_parts=True).round_parts(0)  # no proofs: nothing to audit
