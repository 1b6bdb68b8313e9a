# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`SsaDpftrl`: DP-FTRL under secure stateful aggregation (arXiv 2410.11368) as a Flower `Strategy` of the
current ServerApp API (`flwr.serverapp.strategy`), and `FlowerCommittee`, the committee transport whose
members are ClientApp nodes (`loyal.sim.flower_client.committee_member`).

A Flower app switches from FedAvg to Loyal by changing its strategy and its ClientApp's mods:

    strategy = SsaDpftrl(num_rounds=3, noise_multiplier=1.0, clip_norm=1.0, committee_size=3, threshold=2)
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord(model.state_dict()), num_rounds=3)

    app = ClientApp(mods=[ssa_dpftrl_mod])            # the train function is unchanged
    app.query(COMMITTEE_ACTION)(committee_member)     # committee nodes answer these

The strategy picks `committee_size` nodes as committee members (the smallest node ids, or the ids given)
and trains on the others. The ServerApp holds the round driver (`DPFTRLSsa`) and relays committee
messages; it never holds a key share.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, SsaSettings
from loyal.methods.fl.ticket import ticket_to_bytes
from loyal.protocols.proto.convert import residues_from_bytes
from loyal.protocols.rlwe.ahe import KeyGenContribution
from loyal.protocols.ssa import enrollment
from loyal.protocols.ssa.audit import RoundParts, parts_to_bytes
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.messages import parse_release_request
from loyal.sim.flower_client import flatten_arrays
from loyal.sim.flower_constants import COMMITTEE_KEY, COMMITTEE_MESSAGE_TYPE, SSA_KEY, Key, Stage

logger = logging.getLogger(__name__)


class FlowerCommittee:
    """A committee `Transport` (`loyal.protocols.ssa.committee`) over a Flower `Grid`: member m is node
    `nodes[m - 1]`. The ServerApp relays; members keep their state in their own `Context.state`.

    Args:
      grid: the ServerApp's grid.
      job: the job.
      nodes: node ids of members 1..n of the key-generation committee.
      timeout: seconds to wait for the members' replies (> 0).
    """

    def __init__(self, grid: Grid, job: Job, nodes: Sequence[int], timeout: float = 600.0) -> None:
        if job.rotations:
            raise ValueError(f"committee rotation is not supported on Flower yet, got rotations={job.rotations}")
        if len(nodes) != len(job.committee(0)[0]):
            raise ValueError(f"nodes must name one node per member {job.committee(0)[0]}, got {len(nodes)}")
        self.grid, self.job, self.timeout = grid, job, timeout
        self.node_of = dict(zip(job.committee(0)[0], nodes))
        self.offline: set[int] = set()
        self.errors: dict[int, str] = {}  # member -> its last error reply
        self.key_signatures: dict[int, bytes] = {}  # member -> its signature of the committee key (after keygen)
        self.signing_keys: dict[int, bytes] = {}  # member -> the Ed25519 key it signed with
        #: round -> its AHE parts and proofs (`DPFTRLSsa.round_parts`), sent to each member once with the first
        #: release request that touches the round; None: members are sent none (a job without proofs)
        self.parts: Callable[[int], RoundParts] | None = None
        self._sent: dict[int, set[int]] = {}  # member -> rounds whose parts it was sent

    def _ask(self, requests: dict[int, dict]) -> dict[int, ConfigRecord]:
        """Sends one committee message per member; returns the replies of those that answered (the others
        are offline from now on)."""
        msgs = [Message(RecordDict({COMMITTEE_KEY: ConfigRecord(body)}), dst_node_id=self.node_of[m],
                        message_type=COMMITTEE_MESSAGE_TYPE) for m, body in requests.items()]
        member_of = {n: m for m, n in self.node_of.items()}
        out: dict[int, ConfigRecord] = {}
        for reply in self.grid.send_and_receive(msgs, timeout=self.timeout):
            m = member_of[reply.metadata.src_node_id]
            if reply.has_error():
                logger.warning("committee member %d refused or failed: %s", m, reply.error.reason)
                self.errors[m] = reply.error.reason
                continue
            out[m] = reply.content.config_records[COMMITTEE_KEY]
        self.offline |= set(requests) - set(out)
        return out

    def live(self, members: Iterable[int]) -> list[int]:
        """Members whose node is connected and who never failed a request (a failed member stays out)."""
        connected = set(self.grid.get_node_ids())
        return [m for m in members if m not in self.offline and self.node_of.get(m) in connected]

    def keygen(self, members: Sequence[int]) -> np.ndarray:
        """Commit-then-reveal key generation, shares sealed member to member (relayed, never opened here)."""
        members = tuple(members)
        job_json = json.dumps(self.job.to_json(), sort_keys=True)
        got = self._ask({m: {Key.STAGE.value: Stage.COMMIT.value, Key.JOB.value: job_json, Key.MEMBER_ID.value: m}
                         for m in members})
        self._need_all(got, members, "key-generation commitments")
        roster = {Key.STAGE.value: Stage.REVEAL.value, Key.MEMBERS.value: list(members)}
        for many, one in ((Key.EXCHANGE_KEYS, Key.EXCHANGE_KEY), (Key.COMMITMENTS, Key.COMMITMENT),
                          (Key.SIGNING_KEYS, Key.SIGNING_KEY), (Key.JOIN_SIGNATURES, Key.JOIN_SIGNATURE),
                          (Key.COMMITMENT_SIGNATURES, Key.COMMITMENT_SIGNATURE)):
            roster[many.value] = [bytes(got[m][one]) for m in members]
        revealed = self._ask({m: roster for m in members})
        self._need_all(revealed, members, "key-generation reveals")
        sealed = {d: dict(zip(revealed[d][Key.RECIPIENTS], revealed[d][Key.SEALED])) for d in members}
        for d in members:
            if set(sealed[d]) != set(members):
                raise LogIntegrityError(f"dealer {d} sealed shares for {sorted(sealed[d])}, the committee is {members}")
        parts = [bytes(revealed[d][Key.PUBLIC_PART]) for d in members]
        keys = self._ask({m: {Key.STAGE.value: Stage.COMBINE.value, Key.PUBLIC_PARTS.value: parts,
                              Key.SEALED.value: [bytes(sealed[d][m]) for d in members]} for m in members})
        self._need_all(keys, members, "key generation")
        ahe = self.job.config_for_epoch(0).ahe
        public_key = ahe.combine_public_key([KeyGenContribution(d, residues_from_bytes(p, ahe.ring, "public_part"), {})
                                             for d, p in zip(members, parts)])
        for m in members:
            if not np.array_equal(residues_from_bytes(bytes(keys[m][Key.PUBLIC_KEY]), ahe.ring, "public_key_hat"), public_key):
                raise LogIntegrityError(f"committee member {m} combined a different public key")
        # Clients encrypt only under a key t members signed (`ticket.check_ticket`): the tickets carry these.
        self.key_signatures = {m: bytes(keys[m][Key.KEY_SIGNATURE]) for m in members}
        self.signing_keys = {m: bytes(got[m][Key.SIGNING_KEY]) for m in members}
        enrollment.verify_committee_key(self.job, public_key, self.key_signatures, self.signing_keys)
        return public_key

    def _need_all(self, got: dict, members: tuple[int, ...], what: str) -> None:
        missing = sorted(set(members) - set(got))
        if missing:
            why = "; ".join(f"member {m}: {self.errors.get(m, 'no reply')}" for m in missing)
            raise LogIntegrityError(f"{what}: members {missing} did not answer ({why})")

    def noise(self, members: Sequence[int], round_index: int, public_key_hat: np.ndarray) -> list[bytes]:
        got = self._ask({m: {Key.STAGE.value: Stage.NOISE.value, Key.ROUND.value: round_index} for m in members})
        return self._aligned(members, got)

    def partials(self, members: Sequence[int], frame: bytes) -> list[bytes]:
        """Partial decryptions of a request; each member also gets the parts of every round the request
        touches that it was not sent yet, and audits them before it answers (`CommitteeMember._audit`)."""
        rounds: list[int] = []
        if self.parts is not None:
            cfg = self.job.config_for_epoch(0)
            req = parse_release_request(frame, job_id=cfg.job_id, ahe_ring=cfg.ahe.ring)
            rounds = sorted(set(req.data) | set(req.noise))
        new = {m: [r for r in rounds if r not in self._sent.get(m, set())] for m in members}
        encoded = {r: parts_to_bytes(self.parts(r)) for r in sorted(set().union(*new.values()))}  # once per round
        bodies = {m: {Key.STAGE.value: Stage.DECRYPT.value, Key.FRAME.value: frame,
                      Key.PARTS.value: [encoded[r] for r in new[m]]} for m in members}
        got = self._ask(bodies)
        for m in got:
            self._sent.setdefault(m, set()).update(rounds)
        return self._aligned(members, got)

    @staticmethod
    def _aligned(members: Sequence[int], got: dict[int, ConfigRecord]) -> list[bytes]:
        """Frames in `members` order up to the first member that did not answer (`serve` pairs them by
        position); that member is offline now, so the driver asks the live ones again."""
        out = []
        for m in members:
            if m not in got:
                break
            out.append(bytes(got[m][Key.FRAME]))
        return out

    def handoff(self, subset: Sequence[int], epoch: int, new_threshold: int) -> None:
        raise ValueError("committee rotation is not supported on Flower yet (rotate_every must be 0)")


class SsaDpftrl(Strategy):
    """DP-FTRL under SSA for Flower's ServerApp API: clients send encrypted uploads; the committee (ClientApp
    nodes) adds noise shares and decrypts only the mechanism's release rows.

    Args:
      num_rounds: n >= 1, rounds of the run (the mechanism covers exactly these).
      noise_multiplier: z >= 0, the effective noise multiplier of the whole release (`PrivacyConfig`).
      clip_norm: C > 0, L2 clip of every client update (local model − global model).
      mechanism: a DP-FTRL mechanism name (default "blt").
      committee_size, threshold: n >= 1 members, t in [1, n] needed for a release (also h, the honest
        members assumed for the noise); committee nodes do not train.
      committee_nodes: node ids of the members (default: the `committee_size` smallest node ids).
      min_nodes: nodes (committee included) to wait for before round 1 (default committee_size + 2).
      settings: further SSA settings (scale, parameter set, upload proofs); its committee fields are
        replaced by the two above, and `rotate_every` must be 0.
      server_learning_rate, momentum: the DP-FTRL learner (as in `dpftrl-plaintext`).
      delta: δ of the ε report.
      timeout: seconds to wait for replies of one stage (> 0).

    Notes:
      Every training node joins every round (k = n participations, separation 1), so ε depends on the
      number of rounds, not on the number of nodes. Metric records of train replies travel in the clear
      and are averaged by "num-examples", as FedAvg does; only the model update is protected.
    """

    def __init__(self, num_rounds: int, noise_multiplier: float, clip_norm: float = 1.0, mechanism: str = "blt", *,
                 committee_size: int = 3, threshold: int = 2, committee_nodes: Sequence[int] | None = None,
                 min_nodes: int | None = None, settings: SsaSettings = SsaSettings(), server_learning_rate: float = 1.0,
                 momentum: float = 0.0, delta: float = 1e-5, timeout: float = 600.0) -> None:
        self.settings = dataclasses.replace(settings, committee_size=committee_size, threshold=threshold)
        if self.settings.rotate_every:
            raise ValueError(f"rotate_every must be 0 on Flower (no hand-off yet), got rotate_every={self.settings.rotate_every}")
        if committee_nodes is not None and len(committee_nodes) != committee_size:
            raise ValueError(f"committee_nodes must list committee_size={committee_size} nodes, got {len(committee_nodes)}")
        self.min_nodes = committee_size + 2 if min_nodes is None else min_nodes
        if self.min_nodes < committee_size + 1:
            raise ValueError(f"min_nodes must be >= committee_size + 1 = {committee_size + 1}, got min_nodes={self.min_nodes}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got timeout={timeout}")
        self.privacy_args = dict(clip_norm=clip_norm, noise_multiplier=noise_multiplier, rounds=num_rounds,
                                 mechanism=mechanism, delta=delta)
        PrivacyConfig(expected_clients=1, **self.privacy_args)  # checks the arguments now, not in round 1
        self.committee_nodes = None if committee_nodes is None else tuple(committee_nodes)
        self.server_learning_rate, self.momentum, self.timeout = server_learning_rate, momentum, timeout
        self.aggregator: DPFTRLSsa | None = None
        self.committee: FlowerCommittee | None = None
        self.train_nodes: tuple[int, ...] = ()
        self.history: list[dict] = []
        self._arrays: ArrayRecord | None = None
        self._t0 = 0.0

    # ---- setup --------------------------------------------------------------------------------------
    def _setup(self, arrays: ArrayRecord, grid: Grid) -> DPFTRLSsa:
        end = time.monotonic() + self.timeout
        while len(nodes := sorted(grid.get_node_ids())) < self.min_nodes:
            if time.monotonic() > end:
                raise TimeoutError(f"waited {self.timeout} s for min_nodes={self.min_nodes} nodes, got {len(nodes)}")
            time.sleep(0.05)
        n = self.settings.committee_size
        committee = self.committee_nodes or tuple(nodes[:n])
        if not set(committee) <= set(nodes):
            raise ValueError(f"committee_nodes {sorted(set(committee) - set(nodes))} are not connected")
        self.train_nodes = tuple(x for x in nodes if x not in committee)
        rounds = self.privacy_args["rounds"]
        privacy = PrivacyConfig(expected_clients=len(self.train_nodes), participations=rounds, min_separation=1,
                                **self.privacy_args)
        dim = flatten_arrays(arrays).size
        t0 = time.perf_counter()
        def transport(job: Job, _seed) -> FlowerCommittee:
            self.committee = FlowerCommittee(grid, job, committee, self.timeout)
            return self.committee

        agg = DPFTRLSsa(privacy, dim, self.settings, self.server_learning_rate, self.momentum,
                        committee_factory=transport, max_clients=len(self.train_nodes), keep_parts=True)
        if agg.job.prove_uploads:  # members audit each round's proven parts before they decrypt it
            self.committee.parts = agg.round_parts
        logger.info("SSA job %s: %d training nodes, committee %s (key generation %.2f s)",
                    agg.job.job_id.hex()[:8], len(self.train_nodes), committee, time.perf_counter() - t0)
        return agg

    # ---- Strategy API -------------------------------------------------------------------------------
    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid) -> Iterable[Message]:
        """Round `server_round`'s train messages: the global model, `config` and the SSA ticket."""
        self._t0 = time.perf_counter()
        if self.aggregator is None:
            self.aggregator = self._setup(arrays, grid)
        self._arrays = arrays
        signed = dataclasses.replace(self.aggregator.ticket(), key_signatures=self.committee.key_signatures,
                                     signing_keys=self.committee.signing_keys)
        ticket = ticket_to_bytes(signed)
        config = ConfigRecord({**dict(config), "server-round": server_round})
        return [Message(RecordDict({"arrays": arrays, "config": config,
                                    SSA_KEY: ConfigRecord({Key.TICKET.value: ticket, Key.CLIENT_ID.value: i})}),
                        dst_node_id=node, message_type="train") for i, node in enumerate(self.train_nodes)]

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Adds the uploads, releases the round with the committee and steps the DP-FTRL learner."""
        agg, arrays = self.aggregator, self._arrays
        if agg is None or arrays is None:
            raise RuntimeError("aggregate_train before configure_train")
        t_train = time.perf_counter()
        ok = [r for r in replies if not r.has_error()]
        accepted = agg.handle_uploads([bytes(r.content.config_records[SSA_KEY][Key.UPLOAD]) for r in ok])
        t_uploads = time.perf_counter()
        flat = torch.from_numpy(flatten_arrays(arrays))
        new = agg.finish_round(flat).numpy()
        out, at = ArrayRecord(), 0
        for key, a in arrays.items():
            old = a.numpy()
            out[key] = Array(new[at:at + old.size].reshape(old.shape).astype(old.dtype))
            at += old.size
        metrics = _average_metrics(ok)
        metrics["loyal-accepted"] = int(accepted)
        end = time.perf_counter()
        # Stages: the clients' train replies (training, encryption, proofs), the server's checks of the
        # uploads (proof verification), then the committee's noise and release and the learner step.
        self.history.append({"round": server_round, "accepted": int(accepted), "replies": len(ok),
                             "seconds": end - self._t0, "train_s": t_train - self._t0,
                             "uploads_s": t_uploads - t_train, "release_s": end - t_uploads})
        return out, metrics

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid) -> Iterable[Message]:
        """No federated evaluation (the ServerApp may pass `evaluate_fn` to `start`)."""
        return []

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        return None

    def summary(self) -> None:
        logger.info("SsaDpftrl: %s, committee %d of %d, %s", self.privacy_args, self.settings.threshold,
                    self.settings.committee_size, self.settings.params or "cheapest parameter set")

    def privacy_report(self) -> dict:
        """ε, δ, mechanism, parameter set and bytes per upload (after round 1 has started)."""
        if self.aggregator is None:
            raise RuntimeError("privacy_report before the first round")
        return self.aggregator.privacy_report()


def _average_metrics(replies: list[Message]) -> MetricRecord:
    """Metric values averaged by "num-examples" (1 per reply where absent); non-numbers are dropped."""
    sums: dict[str, float] = {}
    total = 0.0
    for r in replies:
        for rec in r.content.metric_records.values():
            w = float(rec.get("num-examples", 1.0))
            total += w
            for k, v in rec.items():
                if k != "num-examples" and isinstance(v, int | float):
                    sums[k] = sums.get(k, 0.0) + w * float(v)
    return MetricRecord({k: v / total for k, v in sums.items()} if total else {})
