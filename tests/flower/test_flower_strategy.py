# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`SsaDpftrl` + `ssa_dpftrl_mod` + `committee_member` on an in-process grid (no Ray, no SuperLink)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from loyal.methods.fl.dpftrl_ssa import SsaSettings
from loyal.methods.fl.ticket import ticket_from_bytes
from loyal.protocols.rlwe.ahe import ThresholdError
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.sim.flower_app import AppConfig, client_app, run_server, synthetic_update
from loyal.sim.flower_client import committee_member, ssa_dpftrl_mod
from loyal.sim.flower_constants import COMMITTEE_ACTION, COMMITTEE_KEY, COMMITTEE_MESSAGE_TYPE, SSA_KEY
from loyal.sim.flower_strategy import SsaDpftrl
from tests.flower.inmemory import InProcessGrid

DIM = 200
TEST_PARAMS = SsaSettings(params="insecure-test-n1024", scale=2.0**20)


def _synthetic_app() -> ClientApp:
    """A standard FedAvg-style ClientApp: local model = global + a seeded update; Loyal adds two lines."""
    app = ClientApp(mods=[ssa_dpftrl_mod])
    app.query(COMMITTEE_ACTION)(committee_member)

    @app.train()
    def train(msg, context):
        w = msg.content.array_records["arrays"]["w"].numpy()
        local = w + synthetic_update(w.size, int(context.node_config["partition-id"]))
        return Message(RecordDict({"arrays": ArrayRecord({"w": Array(local)}),
                                   "metrics": MetricRecord({"num-examples": 10, "train-loss": 0.5})}), reply_to=msg)

    return app


def _run(nodes: int = 6, rounds: int = 1, noise: float = 0.0, **kw):
    grid = InProcessGrid(_synthetic_app(), nodes)
    strategy = SsaDpftrl(rounds, noise, committee_size=3, threshold=2, settings=TEST_PARAMS, **kw)
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord({"w": Array(np.zeros(DIM, np.float32))}), num_rounds=rounds)
    return grid, strategy, result


def test_strategy_without_noise_releases_the_mean_update() -> None:
    # Execute: 6 nodes, the 3 smallest ids are the committee, partitions 3..5 train.
    grid, strategy, result = _run()
    # Assert: DP-FTRL with z = 0, lr 1, no momentum: w1 = mean of the clipped updates (norm ~0.014 < C = 1),
    # up to the fixed-point steps (clients 2^-20 each, release coefficients 2^-8 of one update).
    expect = np.mean([synthetic_update(DIM, p) for p in (3, 4, 5)], axis=0)
    got = result.arrays["w"].numpy()
    assert strategy.train_nodes == (1003, 1004, 1005)
    assert np.max(np.abs(got - expect)) < 1e-5
    assert strategy.history[0]["accepted"] == 3
    assert result.train_metrics_clientapp[1]["train-loss"] == pytest.approx(0.5)


def test_strategy_committee_messages_go_only_to_committee_nodes_and_tickets_are_not_pickle() -> None:
    grid, strategy, _ = _run()
    committee = [m for m in grid.sent if m.metadata.message_type == COMMITTEE_MESSAGE_TYPE]
    train = [m for m in grid.sent if m.metadata.message_type == "train"]
    assert {m.metadata.dst_node_id for m in committee} == {1000, 1001, 1002}
    assert {m.metadata.dst_node_id for m in train} == {1003, 1004, 1005}
    # The members' shares live in their own Context.state; the ServerApp's messages never carry them.
    for node in (1000, 1001, 1002):
        state = grid.contexts[node].state.config_records[COMMITTEE_KEY]
        assert "share" in state and "exchange" not in state  # dealt shares and exchange key dropped after keygen
    for node in (1003, 1004, 1005):
        assert COMMITTEE_KEY not in grid.contexts[node].state.config_records
    ticket = bytes(train[0].content.config_records[SSA_KEY]["ticket"])
    assert not ticket.startswith(b"\x80") and ticket_from_bytes(ticket).round_index == 0  # data, not pickle
    shares = {bytes(grid.contexts[n].state.config_records[COMMITTEE_KEY]["share"]) for n in (1000, 1001, 1002)}
    relayed = b"".join(bytes(v) if isinstance(v, bytes) else b"".join(x for x in v if isinstance(x, bytes))
                       for m in committee for v in m.content.config_records[COMMITTEE_KEY].values()
                       if isinstance(v, bytes) or (isinstance(v, list) and v and isinstance(v[0], bytes)))
    assert all(s not in relayed for s in shares)


def test_strategy_with_noise_runs_three_rounds_and_reports_epsilon() -> None:
    _, strategy, result = _run(rounds=3, noise=1.0)
    assert [h["accepted"] for h in strategy.history] == [3, 3, 3]
    report = strategy.privacy_report()
    assert report["mechanism"] == "blt" and report["participations"] == 3 and np.isfinite(report["epsilon"])
    assert sorted(result.train_metrics_clientapp) == [1, 2, 3]


def test_strategy_survives_one_lost_member_and_fails_below_threshold() -> None:
    # Prepare: round 1 with all three members.
    grid = InProcessGrid(_synthetic_app(), 6)
    strategy = SsaDpftrl(3, 0.0, committee_size=3, threshold=2, settings=TEST_PARAMS)
    arrays = ArrayRecord({"w": Array(np.zeros(DIM, np.float32))})
    strategy.aggregate_train(1, grid.send_and_receive(strategy.configure_train(1, arrays, ConfigRecord(), grid)))
    grid.contexts.pop(1000)  # member 1's node disconnects (with its share)
    # Execute: round 2 releases with members 2 and 3.
    out, _ = strategy.aggregate_train(2, grid.send_and_receive(strategy.configure_train(2, arrays, ConfigRecord(), grid)))
    assert out is not None and strategy.aggregator.committee.live([1, 2, 3]) == [2, 3]
    assert strategy.aggregator.last_release.round_index == 1
    # Execute: with member 2 lost as well, round 3 cannot be released.
    grid.contexts.pop(1001)
    replies = grid.send_and_receive(strategy.configure_train(3, arrays, ConfigRecord(), grid))
    with pytest.raises(ThresholdError, match="needs threshold=2 live committee members, got 1"):
        strategy.aggregate_train(3, replies)


def test_committee_member_fails_if_relayed_roster_swaps_its_exchange_key() -> None:
    # Prepare: one member commits.
    import json

    from loyal.sim.flower_constants import Stage

    grid = InProcessGrid(_synthetic_app(), 1)
    strategy = SsaDpftrl(1, 0.0, committee_size=1, threshold=1, min_nodes=2, settings=TEST_PARAMS)
    from loyal.methods.fl.dp_common import PrivacyConfig
    from loyal.methods.fl.dpftrl_ssa import ssa_job

    job = ssa_job(PrivacyConfig(expected_clients=1, rounds=1, participations=1), 10, strategy.settings, 2)
    body = {"stage": Stage.COMMIT.value, "job": json.dumps(job.to_json()), "member-id": 1}
    (commit,) = grid.send_and_receive([Message(RecordDict({COMMITTEE_KEY: ConfigRecord(body)}), dst_node_id=1000,
                                               message_type=COMMITTEE_MESSAGE_TYPE)])
    got = commit.content.config_records[COMMITTEE_KEY]
    # Execute: the relay substitutes the exchange key (a man in the middle), then the commitment.
    for keys, commits, reason in [([b"\x01" * 32], [bytes(got["commitment"])], "does not carry this member's exchange key"),
                                  ([bytes(got["exchange-key"])], [b"\x02" * 32], "does not carry this member's commitment")]:
        roster = {"stage": "reveal", "members": [1], "exchange-keys": keys, "commitments": commits,
                  **{k + "s": [bytes(got[k])] for k in ("signing-key", "join-signature", "commitment-signature")}}
        (reply,) = grid.send_and_receive([Message(RecordDict({COMMITTEE_KEY: ConfigRecord(roster)}), dst_node_id=1000,
                                                  message_type=COMMITTEE_MESSAGE_TYPE)])
        # Assert
        assert reply.has_error() and "LogIntegrityError" in reply.error.reason and reason in reply.error.reason


def test_committee_member_fails_if_stage_out_of_order() -> None:
    grid = InProcessGrid(_synthetic_app(), 1)
    msg = Message(RecordDict({COMMITTEE_KEY: ConfigRecord({"stage": "decrypt", "frame": b"x"})}),
                  dst_node_id=1000, message_type=COMMITTEE_MESSAGE_TYPE)
    (reply,) = grid.send_and_receive([msg])
    assert reply.has_error() and "ProtocolStateError" in reply.error.reason and "before key generation" in reply.error.reason


_VALID = {(None, "commit"), ("commit", "reveal"), ("reveal", "combine"), ("combine", "noise"), ("combine", "decrypt")}
_DONE = (None, "commit", "reveal", "combine")
_ASKED = ("commit", "reveal", "combine", "noise", "decrypt")


@pytest.mark.parametrize("done,asked", sorted(set(itertools.product(_DONE, _ASKED)) - _VALID, key=str))
def test_committee_member_stage_transition_fails_if_invalid(done, asked) -> None:
    # Prepare: a member whose last completed stage is `done` (all pairs minus the valid ones).
    from loyal.methods.fl.dp_common import PrivacyConfig
    from loyal.methods.fl.dpftrl_ssa import ssa_job
    from loyal.protocols.ssa.committee import CommitteeMember
    from loyal.sim.flower_client import _save

    grid = InProcessGrid(_synthetic_app(), 1)
    if done is not None:
        job = ssa_job(PrivacyConfig(expected_clients=1, rounds=1, participations=1), 10,
                      dataclasses.replace(TEST_PARAMS, committee_size=1, threshold=1), 2)
        grid.contexts[1000].state.config_records[COMMITTEE_KEY] = _save(CommitteeMember(job, 1), {"stage": done})
    msg = Message(RecordDict({COMMITTEE_KEY: ConfigRecord({"stage": asked})}), dst_node_id=1000,
                  message_type=COMMITTEE_MESSAGE_TYPE)
    # Execute
    (reply,) = grid.send_and_receive([msg])
    # Assert
    assert reply.has_error() and "ProtocolStateError" in reply.error.reason


def test_mod_passes_messages_without_ticket_and_rejects_nonstandard_replies() -> None:
    app = ClientApp(mods=[ssa_dpftrl_mod])
    app.query(COMMITTEE_ACTION)(committee_member)

    @app.train()
    def train(msg, context):  # the pre-issue-16 reply shape: no ArrayRecord "arrays"
        return Message(RecordDict({"update": ArrayRecord({"delta": Array(np.zeros(3, np.float32))})}), reply_to=msg)

    grid = InProcessGrid(app, 1)
    plain = Message(RecordDict({"arrays": ArrayRecord({"w": Array(np.zeros(3, np.float32))})}), dst_node_id=1000,
                    message_type="train")
    (reply,) = grid.send_and_receive([plain])
    assert not reply.has_error() and "update" in reply.content.array_records  # untouched without a ticket
    strategy = SsaDpftrl(1, 0.0, committee_size=1, threshold=1, min_nodes=2, settings=TEST_PARAMS)
    grid = InProcessGrid(app, 2)
    msgs = strategy.configure_train(1, ArrayRecord({"w": Array(np.zeros(3, np.float32))}), ConfigRecord(), grid)
    (reply,) = grid.send_and_receive(msgs)
    assert reply.has_error() and "the train reply must carry ArrayRecord 'arrays'" in reply.error.reason


@pytest.mark.parametrize("kwargs,message", [
    (dict(settings=SsaSettings(rotate_every=2)), "rotate_every must be 0 on Flower"),
    (dict(committee_nodes=[1, 2]), "committee_nodes must list committee_size=3 nodes, got 2"),
    (dict(min_nodes=3), r"min_nodes must be >= committee_size \+ 1 = 4, got min_nodes=3"),
    (dict(clip_norm=0.0), "clip_norm must be finite and > 0"),
])
def test_strategy_fails_if_arguments_invalid(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        SsaDpftrl(2, 1.0, committee_size=3, threshold=2, **kwargs)


def test_app_trains_digits_through_the_strategy() -> None:
    # The same server_app / client_app bodies that `flwr run` loads, on 7 in-process nodes.
    cfg = AppConfig(num_rounds=2, noise_multiplier=0.0, params="insecure-test-n1024", digits_clients=30,
                    eval_clients=30, local_steps=5, insecure=True)
    run_config = {k.replace("_", "-"): v for k, v in dataclasses.asdict(cfg).items()}
    report = run_server(InProcessGrid(client_app, 7, run_config), cfg)
    assert [h["accepted"] for h in report["history"]] == [4, 4]
    assert report["train_nodes"] == 4 and report["committee_nodes"] == 3
    assert report["bytes_up_per_client_round"] == pytest.approx(report["privacy"]["bytes_per_client"], rel=0.01)
    # No noise: the clipped mean update lowers the test loss from log(10) = 2.303 each round (2.301 at init).
    assert report["history"][1]["test_loss"] < report["history"][0]["test_loss"] < 2.30


def test_strategy_names_the_missing_committee_handler() -> None:
    app = ClientApp(mods=[ssa_dpftrl_mod])  # no app.query(COMMITTEE_ACTION)(committee_member)
    strategy = SsaDpftrl(1, 0.0, committee_size=1, threshold=1, min_nodes=2, settings=TEST_PARAMS)
    grid = InProcessGrid(app, 2)
    with pytest.raises(LogIntegrityError, match="member 1: ValueError: No query function registered with name 'loyal_committee'"):
        strategy.configure_train(1, ArrayRecord({"w": Array(np.zeros(3, np.float32))}), ConfigRecord(), grid)


def test_app_config_fails_if_run_config_key_unknown() -> None:
    with pytest.raises(ValueError, match="unknown run config key 'num-round'"):
        AppConfig.from_run_config({"num-round": 3})
