# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A named decrypting member vanishes: past the deadline the server reissues the row as a fresh
request (new id) to t live members that have not answered it, and the release still equals the
pure protocol. A member never answers one row for two subsets (two differently weighted smudged
views of its share): asked again, it refuses."""

from __future__ import annotations

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


class _VanishingMember(CommitteeRunner):
    """Joins and runs key generation, then disappears when first asked to decrypt."""

    def _send_partial(self, s, frame):
        raise _Vanished(f"member {self.member_id} vanished")


def _runner(address, m, **kw):
    return (_VanishingMember if m == 2 else CommitteeRunner)(address, m, **kw)


def test_silent_member_is_replaced_by_a_fresh_request_to_live_members(tmp_path):
    # Prepare: 4 members, t = 2; the first request names (1, 2) and member 2 vanishes.
    spec = make_spec(clients=CLIENTS, committee=4, threshold=2, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS), reissue_seconds=1.0) as srv:
        with member_threads(srv.address, 4, runner=_runner) as results:
            # Execute
            _run_rounds(srv.address, 1)
            wait_until(lambda: srv.coord.state.stage == RoundStage.DONE)
        got = _releases(srv.address)
        db = srv.coord.store.db
        requests = [(rid, s) for rid, s in db.execute("SELECT request_id, subset FROM requests ORDER BY seq")]
        partials = {rid: sorted(m for (m,) in db.execute("SELECT member_id FROM partials WHERE request_id = ?", (rid,)))
                    for rid, _ in requests}
    # Assert: a second, fresh request to (3, 4) — neither the silent member nor member 1, who answered.
    assert isinstance(results[2], _Vanished)
    assert [s for _, s in requests] == ["[1, 2]", "[3, 4]"]
    assert requests[0][0] != requests[1][0] and got[0].request_id == requests[1][0]
    assert partials == {requests[0][0]: [1], requests[1][0]: [3, 4]}
    assert {m: results[m][Key.PARTIALS] for m in (1, 3, 4)} == {1: 1, 3: 1, 4: 1}
    np.testing.assert_array_equal(got[0].integer_values, reference_releases(spec, 1, CLIENTS)[0])


def test_member_refuses_same_row_for_another_subset(tmp_path):
    # Prepare: member a answered the row for the first subset (a, b); a server then asks it for (a, c).
    spec = make_spec(clients=CLIENTS, committee=3, threshold=2, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS), reissue_seconds=60.0) as srv:
        with member_threads(srv.address, 3, runner=_runner) as results:
            _run_rounds(srv.address, 1)
            wait_until(lambda: srv.coord.store.partials(next(iter(srv.coord.state.requests), b"")) != [])
            first = next(iter(srv.coord.state.requests.values())).request.subset  # the live members it went to
            a, c = first[0], ({1, 2, 3} - set(first)).pop()
            other = tuple(sorted((a, c)))
            # Execute: the (misbehaving) reissue runs on the server's event loop.
            srv._loop.call_soon_threadsafe(srv.coord.driver.issue, srv.coord.state, 0, other, time.time())
            wait_until(lambda: len(srv.coord.store.refusals()) == 1)
            refusals = srv.coord.store.refusals()
            srv._loop.call_soon_threadsafe(setattr, srv.coord.state, "stage", RoundStage.DONE)  # end the job
    # Assert
    assert [(m, f"row already answered for subset {first}, refusing subset {other}" in r) for _, m, r in refusals] == [(a, True)]
    assert results[a][Key.REFUSALS] == 1 and results[a][Key.PARTIALS] == 1
