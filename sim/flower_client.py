# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Client side of SSA + DP-FTRL on Flower: the `ssa_dpftrl_mod` around a standard train function, and
`committee_member`, the query handler with which a ClientApp node serves as a committee member.

The mod accepts Flower's standard records (as `flwr.serverapp.strategy.FedAvg` sends and expects them):
the train message carries the global model in ArrayRecord "arrays" and the SSA ticket in ConfigRecord
`SSA_KEY`; the train function replies with its local model in ArrayRecord "arrays" and a MetricRecord.
The mod replaces the reply's arrays by the SSA upload of (local − global), clipped, encoded and encrypted
(cf. `flwr/client/mod/secure_aggregation/secaggplus_mod.py`, which masks the same way), so only the
upload leaves the client. Metric records pass through unchanged (they are not protected by DP).

A committee member is the one `loyal.protocols.ssa.committee.CommitteeMember`; its state (key share,
answered rows, verified log headers) lives in the node's `Context.state` between messages, never in the
ServerApp, which only relays. Key generation is commit-then-reveal (`loyal.protocols.ssa.enrollment`)
with shares sealed end to end to each recipient's X25519 key (`loyal.client.tls.encrypt_share`). Tickets
and every committee message are data (JSON, residues, framed messages), never pickle: the server is untrusted.

Trust, as on the gRPC path: a node serves or encrypts for a job only if it pins that job's committee
(`Setting.MEMBER_KEYS` in its node config or the run config) or runs `insecure` (`check_job`). A member
signs its exchange key, its commitment and the committee key with its pinned Ed25519 identity
(`Setting.MEMBER_KEY`) and checks its peers' signatures before sealing shares to them; a client encrypts
only under a key t pinned members signed (`loyal.methods.fl.ticket.check_ticket`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from flwr.app import ConfigRecord, Context, Message, RecordDict

from loyal.client.tls import Identity, decrypt_share, encrypt_share, raw_private, raw_public
from loyal.methods.fl.ticket import check_ticket, create_upload, ticket_from_bytes
from loyal.protocols.proto.convert import residues_from_bytes, residues_to_bytes
from loyal.protocols.rlwe.ahe import KeyGenContribution, SecretShare
from loyal.protocols.ssa import audit, enrollment
from loyal.protocols.ssa.committee import CommitteeMember
from loyal.protocols.ssa.decryptor import MemberState
from loyal.protocols.ssa.errors import AuthenticationError, LogIntegrityError, ProtocolStateError
from loyal.protocols.ssa.job import InsecureJobError, Job
from loyal.protocols.ssa.messages import LogHeader
from loyal.sim.flower_constants import COMMITTEE_KEY, SSA_KEY, Key, Setting, Stage

logger = logging.getLogger(__name__)

#: job genesis -> ticket config, per process: public polynomials and NTT tables are expanded once per job
#: (the configuration is public and identical for every client).
_CONFIGS: dict[bytes, object] = {}
#: (genesis, member id) -> member shell, per process; every private field is reloaded from `Context.state`.
_MEMBERS: dict[tuple[bytes, int], CommitteeMember] = {}


def flatten_arrays(record) -> np.ndarray:
    """The arrays of an ArrayRecord as one float64 vector, in the record's key order."""
    parts = [np.asarray(a.numpy(), dtype=np.float64).reshape(-1) for a in record.values()]
    return np.concatenate(parts) if parts else np.zeros(0)


def _setting(context: Context, name: Setting):
    """`name` from the node config (the node owner's), else the run config, else None."""
    return context.node_config.get(name.value, context.run_config.get(name.value))


def check_job(job: Job, context: Context) -> None:
    """Serve or encrypt for `job` only if it pins the committee this node pins and is secure, or the node
    runs `insecure` (a simulation): a server cannot make up a job whose committee it controls.

    Raises:
      AuthenticationError: the job pins other member keys than the node; InsecureJobError: the node pins
        no committee, or the job has `security_issues`, and `insecure` is not set.
    """
    insecure = str(_setting(context, Setting.INSECURE)).lower() in ("true", "1", "yes")
    pinned = _setting(context, Setting.MEMBER_KEYS)
    if pinned:
        want = tuple(k.strip().lower() for k in str(pinned).split(",") if k.strip())
        if job.member_keys != want:
            raise AuthenticationError(f"the job pins member keys {[k[:8] for k in job.member_keys]}, this node pins "
                                      f"{[k[:8] for k in want]} ({Setting.MEMBER_KEYS.value}): refusing a job of another committee")
    elif not insecure:
        raise InsecureJobError(f"this node pins no committee: set {Setting.MEMBER_KEYS.value} (node or run config) to "
                               f"the members' Ed25519 keys, or {Setting.INSECURE.value}=true for a simulation")
    job.check_secure(insecure)


def ssa_dpftrl_mod(msg: Message, context: Context, call_next) -> Message:
    """Client mod: replaces the local model the train function returns by the SSA upload of its update.

    Messages without the SSA ticket pass through untouched (evaluation, committee messages, other apps).

    Raises:
      ValueError: a malformed ticket, or a reply without the ArrayRecord "arrays" of the same length.
    """
    if not msg.has_content() or SSA_KEY not in msg.content.config_records:
        return call_next(msg, context)
    cfg = msg.content.config_records[SSA_KEY]
    ticket = ticket_from_bytes(bytes(cfg[Key.TICKET]))  # data, validated; never unpickled (the server is untrusted)
    check_job(ticket.job, context)
    check_ticket(ticket)  # t pinned members signed this key: never encrypt under one the server chose
    config = _CONFIGS.setdefault(ticket.config.genesis, ticket.config)  # keeps the NTT tables warm
    ticket = dataclasses.replace(ticket, config=config)
    start = flatten_arrays(msg.content.array_records["arrays"])
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    if "arrays" not in reply.content.array_records:
        raise ValueError(f"the train reply must carry ArrayRecord 'arrays', got {sorted(reply.content.array_records)}")
    local = flatten_arrays(reply.content.array_records["arrays"])
    if local.shape != start.shape:
        raise ValueError(f"the train reply's arrays have {local.size} values, the global model {start.size}")
    upload = create_upload(ticket, local - start, int(cfg[Key.CLIENT_ID]))  # fresh CSPRNG
    content = RecordDict({SSA_KEY: ConfigRecord({Key.UPLOAD.value: upload})})
    for name, metrics in reply.content.metric_records.items():
        content[name] = metrics
    reply.content = content
    return reply


# ---- committee member -------------------------------------------------------------------------------
def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def _save(member: CommitteeMember, extra: dict) -> ConfigRecord:
    """A member's private state as a ConfigRecord (bytes, str and ints only)."""
    st = member.state
    rec = dict(extra)
    rec["job"] = json.dumps(member.job.to_json(), sort_keys=True)
    rec["member-id"] = member.member_id
    if st.share is not None:
        rec["share"] = residues_to_bytes(st.share.share_hat)
    if member.public_key_hat is not None:
        rec["public-key"] = residues_to_bytes(member.public_key_hat)
    rec["answered"] = json.dumps([[list(k), list(v)] for k, v in st.answered.items()])
    rec["headers"] = json.dumps([{k: (v.hex() if isinstance(v, bytes) else v) for k, v in dataclasses.asdict(h).items()}
                                 for h in member.known_headers])
    rec["audited"] = sorted(member.audited)
    return ConfigRecord(rec)


def _load(rec: ConfigRecord) -> CommitteeMember:
    """The member whose state `rec` holds (the process-cached shell, every private field reloaded)."""
    job = Job.from_json(json.loads(str(rec["job"])))
    mid = int(rec["member-id"])
    member = _MEMBERS.get((job.genesis, mid))
    if member is None:
        member = _MEMBERS[(job.genesis, mid)] = CommitteeMember(job, mid)  # os.urandom PRNGs: never seeded here
    ring = member.config.ahe.ring
    share = SecretShare(mid, residues_from_bytes(bytes(rec["share"]), ring, "share")) if "share" in rec else None
    answered = {_tuples(k): tuple(v) for k, v in json.loads(str(rec["answered"]))} if "answered" in rec else {}
    member.state = MemberState(share=share, answered=answered)
    member.public_key_hat = residues_from_bytes(bytes(rec["public-key"]), ring, "public_key_hat") if "public-key" in rec else None
    member.known_headers = tuple(
        LogHeader(**{k: (bytes.fromhex(v) if isinstance(v, str) else int(v)) for k, v in h.items()})
        for h in json.loads(str(rec.get("headers", "[]"))))
    member.audited = {bytes(h) for h in rec.get("audited", [])}
    member.parts = None
    return member


def _reply(msg: Message, **values) -> Message:
    return Message(RecordDict({COMMITTEE_KEY: ConfigRecord({k.replace("_", "-"): v for k, v in values.items()})}), reply_to=msg)


def committee_member(msg: Message, context: Context) -> Message:
    """ClientApp query handler (`app.query(COMMITTEE_ACTION)(committee_member)`): this node's committee role.

    Raises:
      ProtocolStateError: a stage out of order (e.g. a partial before key generation).
      LogIntegrityError, AuthenticationError, PolicyViolationError: the member refuses (Flower returns the
        error to the ServerApp, which counts the member as not live).
    """
    req = msg.content.config_records[COMMITTEE_KEY]
    stage = Stage(str(req[Key.STAGE]))
    state = context.state.config_records.get(COMMITTEE_KEY)
    if stage == Stage.COMMIT:
        if state is not None:
            raise ProtocolStateError("this node already serves a committee in this run")
        job = Job.from_json(json.loads(str(req[Key.JOB])))
        mid = int(req[Key.MEMBER_ID])
        if mid not in job.committee(0)[0]:
            raise ValueError(f"member-id must be in the key-generation committee {job.committee(0)[0]}, got {mid}")
        check_job(job, context)
        identity = _identity(job, mid, context)
        member = CommitteeMember(job, mid)
        contrib = member.create_keygen_contribution()
        exchange = X25519PrivateKey.generate()
        public = residues_to_bytes(contrib.public_part_hat)
        commitment = enrollment.commitment(job, mid, public)
        shares = sorted(contrib.shares.items())
        context.state.config_records[COMMITTEE_KEY] = _save(member, {
            "stage": Stage.COMMIT.value, "exchange": raw_private(exchange), "identity": raw_private(identity.key),
            "own-public-part": public, "own-recipients": [r for r, _ in shares],
            "own-shares": [residues_to_bytes(s) for _, s in shares]})
        ex = raw_public(exchange)
        return _reply(msg, exchange_key=ex, commitment=commitment, signing_key=identity.public_key,
                      join_signature=identity.sign(enrollment.join_message(job, mid, ex)),
                      commitment_signature=identity.sign(enrollment.commitment_message(job, mid, commitment)))
    if state is None:
        raise ProtocolStateError(f"stage {stage.value!r} before key generation: this node is no committee member yet")
    member = _load(state)
    job, mid, done = member.job, member.member_id, str(state["stage"])
    extra = {k: v for k, v in state.items() if k in ("stage", "exchange", "identity", "own-public-part", "own-recipients",
                                                      "own-shares", "peers", "commitments")}
    if stage == Stage.REVEAL:
        _expect(done, Stage.COMMIT, stage)
        members, keys, commits = list(req[Key.MEMBERS]), list(req[Key.EXCHANGE_KEYS]), list(req[Key.COMMITMENTS])
        signing = [list(req.get(k, [])) for k in (Key.SIGNING_KEYS, Key.JOIN_SIGNATURES, Key.COMMITMENT_SIGNATURES)]
        if tuple(members) != job.committee(0)[0] or any(len(x) != len(members) for x in (keys, commits, *signing)):
            raise LogIntegrityError(f"the roster must list every member of {job.committee(0)[0]} once, got {members}")
        own = X25519PrivateKey.from_private_bytes(bytes(state["exchange"]))
        if bytes(keys[members.index(mid)]) != raw_public(own):
            raise LogIntegrityError("the relayed roster does not carry this member's exchange key")
        if bytes(commits[members.index(mid)]) != enrollment.commitment(job, mid, bytes(state["own-public-part"])):
            raise LogIntegrityError("the relayed roster does not carry this member's commitment")
        for m, ex, committed, signer, join_sig, commit_sig in zip(members, keys, commits, *signing):
            enrollment.verify_join(job, m, bytes(signer), bytes(ex), bytes(join_sig))  # pinned key, never the relayed one
            enrollment.verify_signature(enrollment.member_key(job, m, bytes(signer)), bytes(commit_sig),
                                        enrollment.commitment_message(job, m, bytes(committed)))
        peers = dict(zip(members, (bytes(k) for k in keys)))
        recipients = list(state["own-recipients"])
        sealed = [encrypt_share(own, peers[r], member.config.job_id, mid, r, bytes(s))
                  for r, s in zip(recipients, state["own-shares"])]
        extra.update(stage=Stage.REVEAL.value, peers=[peers[m] for m in members], commitments=[bytes(c) for c in commits])
        context.state.config_records[COMMITTEE_KEY] = _save(member, extra)
        return _reply(msg, public_part=bytes(state["own-public-part"]), recipients=recipients, sealed=sealed)
    if stage == Stage.COMBINE:
        _expect(done, Stage.REVEAL, stage)
        members = job.committee(0)[0]
        parts, sealed = list(req[Key.PUBLIC_PARTS]), list(req[Key.SEALED])
        if len(parts) != len(members) or len(sealed) != len(members):
            raise LogIntegrityError(f"key generation needs one part and one sealed share per dealer {members}")
        own = X25519PrivateKey.from_private_bytes(bytes(state["exchange"]))
        ring = member.config.ahe.ring
        public, received = [], []
        for dealer, part, box, peer, committed in zip(members, parts, sealed, state["peers"], state["commitments"]):
            enrollment.verify_reveal(job, dealer, bytes(part), bytes(committed))
            public.append(KeyGenContribution(dealer, residues_from_bytes(bytes(part), ring, "public_part"), {}))
            share = decrypt_share(own, bytes(peer), member.config.job_id, dealer, mid, bytes(box))
            received.append(KeyGenContribution(dealer, np.zeros(0), {mid: residues_from_bytes(share, ring, "share")}))
        member.handle_keygen(received)
        member.public_key_hat = member.config.ahe.combine_public_key(public)
        identity = Identity(Ed25519PrivateKey.from_private_bytes(bytes(state["identity"])))
        context.state.config_records[COMMITTEE_KEY] = _save(member, {"stage": Stage.COMBINE.value})  # drops the dealt shares
        return _reply(msg, public_key=residues_to_bytes(member.public_key_hat),
                      key_signature=identity.sign(enrollment.key_message(job, mid, member.public_key_hat)))
    _expect(done, Stage.COMBINE, stage)
    if stage == Stage.NOISE:  # under this member's own copy of the committee key, never the server's
        frame = member.create_noise_contribution(int(req[Key.ROUND]), member.public_key_hat)
        return _reply(msg, frame=frame)
    offered = {p.round_index: p for p in (audit.parts_from_bytes(bytes(b), member.config) for b in req.get(Key.PARTS, []))}
    member.parts = functools.partial(_offered_parts, offered)  # audited before any partial (jobs with proofs)
    part = member.handle_release_request(bytes(req[Key.FRAME]))
    context.state.config_records[COMMITTEE_KEY] = _save(member, {"stage": Stage.COMBINE.value})
    return _reply(msg, frame=part)


def _offered_parts(offered: dict[int, audit.RoundParts], round_index: int) -> audit.RoundParts:
    if round_index not in offered:
        raise LogIntegrityError(f"the request touches round {round_index}, whose parts this member has not audited "
                                f"and the server did not send")
    return offered[round_index]


def _identity(job: Job, member_id: int, context: Context) -> Identity:
    """This member's signing identity: the node config's identity file (`Setting.MEMBER_KEY`), which must hold
    the key the job pins for `member_id`; a fresh key only for an unpinned job (the node runs `insecure`)."""
    path = context.node_config.get(Setting.MEMBER_KEY.value)
    identity = Identity.load(str(path)) if path else Identity()
    pinned = job.member_key(member_id)
    if pinned is not None and identity.public_key != pinned:
        raise AuthenticationError(f"member {member_id} is pinned to key {pinned.hex()[:16]}…, this node's identity "
                                  f"({Setting.MEMBER_KEY.value}={path or 'none'}) is {identity.public_key.hex()[:16]}…")
    return identity


def _expect(done: str, needed: Stage, stage: Stage) -> None:
    if done != needed.value:
        raise ProtocolStateError(f"stage {stage.value!r} needs stage {needed.value!r} done last, this member's last is {done!r}")
