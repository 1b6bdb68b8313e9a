# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""gRPC servicers: request → coordinator call → response (as Flower's `serverappio_servicer.py`).

Every exception is turned into a gRPC status with a one-line reason by `server.errors.grpc_status`;
nothing here touches ciphertexts beyond passing the SSA frames on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator

import grpc

from loyal.protocols.proto import convert
from loyal.protocols.proto.loyal.v1 import client_pb2, committee_pb2, common_pb2, observer_pb2
from loyal.protocols.ssa.errors import MessageFormatError
from loyal.rpc import client_pb2_grpc, committee_pb2_grpc, observer_pb2_grpc
from loyal.server import limits
from loyal.server.coordinator import Coordinator, Upload
from loyal.server.errors import SizeLimitError, grpc_status
from loyal.protocols.ssa.rounds import RoundStage

logger = logging.getLogger(__name__)

_STAGE_TO_PROTO = {s: common_pb2.RoundState.Value(f"ROUND_STATE_{s.name}") for s in RoundStage}


def _guarded(method):
    """Maps any exception of a unary handler to a gRPC status with its reason."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as e:  # noqa: BLE001 - every error becomes a status, never a crash
            code, reason = grpc_status(e)
            log = logger.exception if code == grpc.StatusCode.INTERNAL else logger.info
            log("rejected %s: %s", method.__name__, reason, extra={"event": "rejected", "rpc": method.__name__, "code": code.name})
            await context.abort(code, reason)

    return wrapper


class _InFlight:
    """The bytes of uploads being received (authenticated, not yet stored), capped at MAX_IN_FLIGHT_BYTES."""

    def __init__(self) -> None:
        self.bytes = 0

    @contextlib.contextmanager
    def reserve(self, n: int):
        if self.bytes + n > limits.MAX_IN_FLIGHT_BYTES:
            raise SizeLimitError(f"server busy: {self.bytes} bytes of uploads in flight, limit {limits.MAX_IN_FLIGHT_BYTES}; retry")
        self.bytes += n
        try:
            yield
        finally:
            self.bytes -= n


async def _read_upload(coord: Coordinator, request_iterator: AsyncIterator[common_pb2.SubmitChunk], kind: str,
                       in_flight: _InFlight) -> tuple[Upload, int]:
    """Reads the header and authenticates it (enrolled key, signature over the payload digest, size, round)
    before any data chunk is read; then reads at most the declared bytes within the in-flight budget."""
    stream = request_iterator.__aiter__()
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        raise MessageFormatError("empty upload stream") from None
    if first.WhichOneof("part") != "header":
        raise MessageFormatError("the first SubmitChunk must carry the header")
    h = first.header
    if len(h.public_key) > limits.MAX_SMALL_FIELD or len(h.signature) > limits.MAX_SMALL_FIELD or len(h.nonce) > limits.MAX_SMALL_FIELD:
        raise SizeLimitError("public_key, nonce or signature field too long")
    sender = coord.authenticate_upload(kind, h.round, h.total_bytes, bytes(h.public_key), bytes(h.nonce),
                                       bytes(h.payload_digest), bytes(h.signature))
    parts: list[bytes] = []
    size = 0
    with in_flight.reserve(h.total_bytes):
        async for chunk in stream:
            if chunk.WhichOneof("part") != "data":
                raise MessageFormatError("only the first SubmitChunk may carry a header")
            data = chunk.data  # each read of a bytes field copies it: read once
            size += len(data)
            if len(data) > limits.CHUNK_BYTES or size > h.total_bytes:
                raise SizeLimitError(f"upload exceeds its declared total_bytes={h.total_bytes} or the chunk limit")
            parts.append(data)
        if size != h.total_bytes:
            raise MessageFormatError(f"upload truncated: {size} of {h.total_bytes} bytes")
        payload = parts[0] if len(parts) == 1 else b"".join(parts)  # one chunk (≤ CHUNK_BYTES): no copy
        return Upload(h.round, bytes(h.public_key), bytes(h.nonce), bytes(h.payload_digest), bytes(h.signature),
                      payload), sender


class ClientServicer(client_pb2_grpc.ClientServiceServicer):
    def __init__(self, coord: Coordinator) -> None:
        self.coord = coord

    @_guarded
    async def Enroll(self, request, context):
        return client_pb2.EnrollResponse(client_id=self.coord.enroll(request.token, bytes(request.public_key)))

    @_guarded
    async def GetTask(self, request, context):
        t = self.coord.task()
        return client_pb2.Task(
            job=convert.job_to_proto(self.coord.job), round=t["round"], state=_STAGE_TO_PROTO[t["stage"]],
            model_version=t["model_version"],
            public_key_hat=b"" if t["public_key_hat"] is None else convert.residues_to_bytes(t["public_key_hat"]),
            model_delta=b"" if t["model_delta"] is None else convert.floats_to_bytes(t["model_delta"]),
            max_submission_bytes=t["max_submission_bytes"], chunk_bytes=limits.CHUNK_BYTES,
            key_signatures=[common_pb2.KeySignature(member_id=m, signature=g) for m, g in sorted(t["key_signatures"].items())],
            member_keys=[client_pb2.MemberKey(member_id=m, signing_key=k) for m, k in sorted(t["member_keys"].items())],
        )

    async def Submit(self, request_iterator, context):
        return await _submit(self.coord, "client", request_iterator, context)

    async def SubmitNoise(self, request_iterator, context):
        return await _submit(self.coord, "cohort_noise", request_iterator, context)


_IN_FLIGHT = _InFlight()


async def _submit(coord: Coordinator, kind: str, request_iterator, context):
    """One upload: authenticate and read (`_read_upload`), parse, write and flush the payload, then
    check, commit the row and apply it in one step on the loop, and answer once the row is on disk.

    Only what waits on the disk (a durable store's payload write + flush in one hop, then the row's flush;
    flushes are group-committed, shared by concurrent uploads) and proof verification leave the event
    loop: each hop to a worker thread costs a GIL hand-off, more than the parse of an unproven upload or
    a page-cache write (benchmarks/server.py)."""
    try:
        up, sender = await _read_upload(coord, request_iterator, kind, _IN_FLIGHT)
        store = coord.store
        staged = parsed = None
        if store.find_submission(up.round_index, up.public_key, up.nonce) is None:
            parse = coord.parse(up, kind)
            parsed = await asyncio.to_thread(parse) if _heavy(coord, up) else parse()
            if store.durable:  # write and flush in one hop: a direct-I/O write waits on the disk
                staged = await asyncio.to_thread(store.stage_payload, up.round_index, up.payload, up.payload_digest)
            else:
                staged = store.write_payload(up.round_index, up.payload, up.payload_digest)
        try:
            duplicate, accepted = coord.submit(up, kind, sender, staged, parsed, sync=False)
        except Exception:
            if staged is not None:
                store.discard_payload(staged)
            raise
        if duplicate and staged is not None:
            store.discard_payload(staged)
        if store.durable:
            await asyncio.to_thread(store.flush_rows)  # also when duplicate: its row may not be on disk yet
        return common_pb2.SubmitResponse(round=up.round_index, duplicate=duplicate, accepted=accepted,
                                         noise_wanted=kind == "client" and coord.driver.noise_wanted(coord.state))
    except (asyncio.CancelledError, grpc.aio.AbortError):
        raise
    except Exception as e:  # noqa: BLE001
        code, reason = grpc_status(e)
        (logger.exception if code == grpc.StatusCode.INTERNAL else logger.info)(
            "rejected upload: %s", reason, extra={"event": "rejected", "rpc": "Submit", "code": code.name}
        )
        await context.abort(code, reason)


def _heavy(coord: Coordinator, up: Upload) -> bool:
    """Parse in a worker thread: proof verification (~40–60 ms) or a payload too large to parse on the loop."""
    return coord.job.prove_uploads or len(up.payload) > limits.INLINE_PARSE_BYTES


class CommitteeServicer(committee_pb2_grpc.CommitteeServiceServicer):
    def __init__(self, coord: Coordinator) -> None:
        self.coord = coord

    @_guarded
    async def Join(self, request, context):
        self.coord.join(request.member_id, bytes(request.signing_key), bytes(request.exchange_key), bytes(request.signature))
        return committee_pb2.JoinResponse(job=convert.job_to_proto(self.coord.job))

    @_guarded
    async def GetRoster(self, request, context):
        complete, members, commitments = self.coord.roster()
        return committee_pb2.Roster(
            complete=complete,
            members=[committee_pb2.RosterEntry(member_id=m, exchange_key=x, join_signature=g)
                     for m, (x, g) in sorted(members.items())],
            commitments=[committee_pb2.DealerCommitment(dealer=d, commitment=c, signature=g)
                         for d, (c, g) in sorted(commitments.items())],
        )

    @_guarded
    async def SubmitKeyGen(self, request, context):
        if request.commitment:
            if request.public_part or request.shares:
                raise ValueError("a key-generation commitment carries no public part and no shares")
            self.coord.commit_keygen(request.member_id, bytes(request.commitment), bytes(request.signature))
            return common_pb2.Ack()
        shares = {s.recipient: bytes(s.ciphertext) for s in request.shares}
        if len(shares) != len(request.shares):
            raise ValueError("duplicate share recipients")
        self.coord.submit_keygen(request.member_id, bytes(request.public_part), shares, bytes(request.signature))
        return common_pb2.Ack()

    @_guarded
    async def GetRoundParts(self, request, context):
        parts, total = self.coord.round_parts(request.member_id, request.round, request.start)
        return committee_pb2.RoundParts(
            data=[committee_pb2.UploadPart(sender=s, part=b) for k, s, b in parts if k == "client"],
            noise=[committee_pb2.UploadPart(sender=s, part=b) for k, s, b in parts if k == "noise"],
            cohort_noise=[committee_pb2.UploadPart(sender=s, part=b) for k, s, b in parts if k == "cohort_noise"],
            start=request.start, total=total,
        )

    @_guarded
    async def SignKey(self, request, context):
        self.coord.sign_key(request.member_id, bytes(request.signature))
        return common_pb2.Ack()

    @_guarded
    async def GetKeyShares(self, request, context):
        complete, shares, pk = self.coord.key_shares(request.member_id)
        return committee_pb2.KeyShares(
            complete=complete,
            shares=[committee_pb2.DealtShare(dealer=d, dealer_exchange_key=x, dealer_join_signature=g, public_part=b,
                                             ciphertext=c) for d, x, g, b, c in shares],
            public_key_hat=b"" if pk is None else convert.residues_to_bytes(pk),
        )

    @_guarded
    async def GetWork(self, request, context):
        kind, value = self.coord.work(request.member_id)
        if kind == "noise":
            pk = convert.residues_to_bytes(self.coord.state.core.public_key_hat)
            return committee_pb2.Work(noise=committee_pb2.NoiseTask(round=value, public_key_hat=pk))
        if kind == "decrypt":
            return committee_pb2.Work(decrypt=committee_pb2.DecryptionTask(request=value))
        if kind == "handoff":
            return committee_pb2.Work(handoff=committee_pb2.HandOffTask(
                epoch=value["epoch"], subset=value["subset"], new_threshold=value["new_threshold"],
                new_members=[committee_pb2.RosterEntry(member_id=m, exchange_key=x, join_signature=g)
                             for m, (x, g) in sorted(value["new_members"].items())],
            ))
        return committee_pb2.Work(done=True) if kind == "done" else committee_pb2.Work(wait=True)

    async def SubmitNoise(self, request_iterator, context):
        return await _submit(self.coord, "noise", request_iterator, context)

    @_guarded
    async def SubmitPartial(self, request, context):
        self.coord.submit_partial(request.member_id, bytes(request.partial), bytes(request.signature))
        return common_pb2.Ack()

    @_guarded
    async def SubmitHandOff(self, request, context):
        subs = {s.recipient: bytes(s.ciphertext) for s in request.subshares}
        if len(subs) != len(request.subshares):
            raise ValueError("duplicate sub-share recipients")
        self.coord.submit_handoff(request.member_id, request.epoch, subs, bytes(request.signature))
        return common_pb2.Ack()

    @_guarded
    async def GetHandOff(self, request, context):
        complete, epoch, subs = self.coord.handoff(request.member_id)
        return committee_pb2.HandOff(
            complete=complete, epoch=epoch,
            subshares=[committee_pb2.DealtShare(dealer=d, dealer_exchange_key=x, dealer_join_signature=g, ciphertext=c)
                       for d, x, g, c in subs],
        )

    @_guarded
    async def Refuse(self, request, context):
        self.coord.refuse(request.member_id, bytes(request.request_id), request.reason, bytes(request.signature))
        return common_pb2.Ack()


class ObserverServicer(observer_pb2_grpc.ObserverServiceServicer):
    def __init__(self, coord: Coordinator) -> None:
        self.coord = coord

    @_guarded
    async def GetStatus(self, request, context):
        s = self.coord.status()
        return observer_pb2.Status(
            round=s["round"], state=_STAGE_TO_PROTO[RoundStage(s["state"])], stored_rounds=s["stored_rounds"],
            submissions=s["submissions"], releases=s["releases"], head=s["head"], serving=True,
        )

    @_guarded
    async def ListReleases(self, request, context):
        rels = self.coord.releases[request.from_index :]
        return observer_pb2.Releases(releases=[convert.release_to_proto(r) for r in rels])

    async def StreamEvents(self, request, context):
        after = request.after_seq
        while True:
            for seq, rnd, kind, detail, at in self.coord.store.events(after):
                after = seq
                yield observer_pb2.Event(seq=seq, round=rnd, kind=kind, detail=detail, time=at)
            await asyncio.sleep(0.2)
