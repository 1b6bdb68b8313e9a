# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A named decrypting member vanishes: past the deadline the server reissues the row as a fresh
request (new id) to t live members that have not answered it, and the release still equals the
pure protocol. A member never answers one row for two subsets (two differently weighted smudged
views of its share): asked again, it refuses."""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from loyal.client.committee import CommitteeRunner
from loyal.client.constants import Key
from loyal.protocols.ssa.rounds import RoundStage
from tests.server.harness import InProcessServer, make_spec, member_threads, reference_releases, tokens, wait_until
from tests.server.test_grpc_server import _releases, _run_rounds

CLIENTS = 3


class _Vanished(Exception):
    pass


class _FirstAskedVanishes(CommitteeRunner):
    """Joins and runs key generation; the first member of the committee to be asked to decrypt disappears
    (which members the server names first is timing: whoever polled last within reissue_seconds)."""

    lock = threading.Lock()
    vanished: list[int] = []

    def _send_partial(self, s, frame):
        with self.lock:
            if not self.vanished:
                self.vanished.append(self.member_id)
                raise _Vanished(f"member {self.member_id} vanished")
        return super()._send_partial(s, frame)


def test_silent_member_is_replaced_by_a_fresh_request_to_live_members(tmp_path):
    # Prepare: 4 members, t = 2; the first member the first request names vanishes.
    spec = make_spec(clients=CLIENTS, committee=4, threshold=2, rounds=1)
    _FirstAskedVanishes.vanished = []
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS), reissue_seconds=1.0) as srv:
        with member_threads(srv.address, 4, runner=_FirstAskedVanishes) as results:
            # Execute
            _run_rounds(srv.address, 1)
            wait_until(lambda: srv.coord.state.stage == RoundStage.DONE)
        got = _releases(srv.address)
        db = srv.coord.store.db
        requests = [(rid, s) for rid, s in db.execute("SELECT request_id, subset FROM requests ORDER BY seq")]
        partials = {rid: sorted(m for (m,) in db.execute("SELECT member_id FROM partials WHERE request_id = ?", (rid,)))
                    for rid, _ in requests}
    # Assert: a second, fresh request to the other two members — neither the silent member nor the one
    # that answered the first request.
    (silent,) = _FirstAskedVanishes.vanished
    first, second = (json.loads(s) for _, s in requests)
    assert isinstance(results[silent], _Vanished) and silent in first
    (answered,) = set(first) - {silent}
    assert sorted(second) == sorted({1, 2, 3, 4} - set(first)) and len(requests) == 2
    assert requests[0][0] != requests[1][0] and got[0].request_id == requests[1][0]
    assert partials == {requests[0][0]: [answered], requests[1][0]: sorted(second)}
    assert {m: results[m][Key.PARTIALS] for m in {1, 2, 3, 4} - {silent}} == {m: 1 for m in {1, 2, 3, 4} - {silent}}
    np.testing.assert_array_equal(got[0].integer_values, reference_releases(spec, 1, CLIENTS)[0])


def test_member_refuses_same_row_for_another_subset(tmp_path):
    # Prepare: member a answered the row for the first subset (a, b); a server then asks it for (a, c).
    spec = make_spec(clients=CLIENTS, committee=3, threshold=2, rounds=1)
    _FirstAskedVanishes.vanished = []
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS), reissue_seconds=60.0) as srv:
        with member_threads(srv.address, 3, runner=_FirstAskedVanishes) as results:
            _run_rounds(srv.address, 1)
            wait_until(lambda: srv.coord.store.partials(next(iter(srv.coord.state.requests), b"")) != [])
            rid, pending = next(iter(srv.coord.state.requests.items()))
            first = pending.request.subset  # the live members it went to
            (a,) = [m for m, _ in srv.coord.store.partials(rid)]  # the one that answered (the other vanished)
            c = ({1, 2, 3} - set(first)).pop()
            other = tuple(sorted((a, c)))
            # Execute: the (misbehaving) reissue runs on the server's event loop.
            srv._loop.call_soon_threadsafe(srv.coord.driver.issue, srv.coord.state, 0, other, time.time())
            wait_until(lambda: len(srv.coord.store.refusals()) == 1)
            refusals = srv.coord.store.refusals()
            srv._loop.call_soon_threadsafe(setattr, srv.coord.state, "stage", RoundStage.DONE)  # end the job
    # Assert
    assert [(m, f"row already answered for subset {first}, refusing subset {other}" in r) for _, m, r in refusals] == [(a, True)]
    assert results[a][Key.REFUSALS] == 1 and results[a][Key.PARTIALS] == 1
