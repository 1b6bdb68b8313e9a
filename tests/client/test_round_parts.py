# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A member reads a round's parts page by page (`GetRoundParts` with `start`); a server that pages
inconsistently (a wrong start, a total that changes, an empty page before the end) is refused."""

from __future__ import annotations

import types

import pytest

from loyal.client.committee import CommitteeRunner
from loyal.protocols.proto.loyal.v1 import committee_pb2
from loyal.protocols.ssa.errors import LogIntegrityError
from tests.server.harness import make_spec


class _Pages:
    """A fake session whose GetRoundParts answers from a list of (start, total) pages without parts."""

    def __init__(self, pages: list[tuple[int, int]]) -> None:
        self.pages, self.requests = list(pages), []
        self.committee = types.SimpleNamespace(GetRoundParts=self._get)

    def _get(self, request):
        self.requests.append(request.start)
        start, total = self.pages.pop(0)
        return committee_pb2.RoundParts(start=start, total=total)

    def call(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


def _runner() -> CommitteeRunner:
    runner = CommitteeRunner("127.0.0.1:1", 1, insecure=True)
    runner.job = make_spec()
    return runner


def test_an_empty_round_is_one_page() -> None:
    s = _Pages([(0, 0)])
    parts = _runner()._parts(s, 0)
    assert (parts.data, parts.noise, parts.cohort_noise) == ((), (), ()) and s.requests == [0]


@pytest.mark.parametrize("pages", [
    [(0, 3)],  # an empty page before the end: no progress
    [(1, 0)],  # the page answers another start
])
def test_a_server_that_pages_inconsistently_is_refused(pages) -> None:
    with pytest.raises(LogIntegrityError, match="paged inconsistently"):
        _runner()._parts(_Pages(pages), 0)
