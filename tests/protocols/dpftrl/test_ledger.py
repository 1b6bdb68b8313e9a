# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Participation ledger: every rule of the (k, b) schema, its messages, a brute-force oracle, JSON and replay."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from loyal.protocols.dpftrl import ledger as ledger_lib
from loyal.protocols.dpftrl.base import ParticipationSchema
from loyal.protocols.dpftrl.ledger import ParticipationError, ParticipationLedger

# k = 4 participations at least b = 6 rounds apart fit in n = 20 rounds: (k - 1) b + 1 = 19 <= 20.
SCHEMA = ParticipationSchema(steps=20, participations=4, min_separation=6)
IDS = (0, 1, 2, 3, b"\x00", b"\xab\xcd")


@pytest.fixture
def ledger() -> ParticipationLedger:
    return ParticipationLedger(SCHEMA)


def _brute_force_allows(rounds: list[int], round_index: int, k: int, b: int) -> bool:
    """Independent oracle over a client's whole history: fewer than k rounds, round_index >= b after each."""
    return len(rounds) < k and all(round_index - r >= b for r in rounds)


@st.composite
def schemas_and_attempts(draw) -> tuple[ParticipationSchema, list[tuple[int | bytes, int]]]:
    """A valid schema and up to 40 (identity, round) attempts in any order, many of them refused."""
    n = draw(st.integers(1, 24))
    k = draw(st.integers(1, 4))
    b = draw(st.integers(1, n if k == 1 else (n - 1) // (k - 1) or 1))
    if (k - 1) * b + 1 > n:
        k = 1
    attempts = draw(st.lists(st.tuples(st.sampled_from(IDS), st.integers(0, n - 1)), max_size=40))
    return ParticipationSchema(n, k, b), attempts


def _replay(schema: ParticipationSchema, attempts) -> tuple[ParticipationLedger, dict, list]:
    """Records every attempt; asserts the ledger accepts exactly what the oracle accepts."""
    ledger, history, accepted = ParticipationLedger(schema), {i: [] for i in IDS}, []
    for identity, round_index in attempts:
        if _brute_force_allows(history[identity], round_index, schema.participations, schema.min_separation):
            ledger.record(identity, round_index)
            history[identity].append(round_index)
            accepted.append((identity, round_index))
        else:
            before = ledger.to_json()
            with pytest.raises(ParticipationError):
                ledger.record(identity, round_index)
            assert ledger.to_json() == before
    return ledger, history, accepted


def test_ledger_docstring_example_runs() -> None:
    result = doctest.testmod(ledger_lib)
    assert result.attempted > 0 and result.failed == 0


def test_record_allows_k_participations_exactly_b_apart(ledger) -> None:
    for round_index in (0, 6, 12, 18):
        ledger.record(7, round_index)
    assert ledger.participations(7) == 4 and ledger.participations(8) == 0


def test_record_fails_if_k_participations_reached() -> None:
    # Prepare: b = 1, so only the count limit can refuse round 5.
    ledger = ParticipationLedger(ParticipationSchema(steps=10, participations=2, min_separation=1))
    ledger.record(3, 0)
    ledger.record(3, 1)
    # Execute / Assert
    with pytest.raises(ParticipationError, match=r"^client 3 already participated in 2 of k=2 rounds$"):
        ledger.record(3, 5)


@pytest.mark.parametrize("gap", [1, 5])
def test_record_fails_if_closer_than_min_separation(ledger, gap) -> None:
    ledger.record(7, 10)
    with pytest.raises(ParticipationError,
                       match=rf"^client 7 participated in round 10; round {10 + gap} is closer than min_separation=6$"):
        ledger.record(7, 10 + gap)
    ledger.record(7, 16)  # exactly b = 6 apart (jax_privacy's convention: j - i >= b)
    assert ledger.participations(7) == 2


def test_record_fails_if_round_recorded_twice(ledger) -> None:
    ledger.record(b"\x00\xff", 10)
    with pytest.raises(ParticipationError, match=r"^client 0x00ff already participated in round 10$"):
        ledger.record(b"\x00\xff", 10)


def test_record_fails_if_round_out_of_order(ledger) -> None:
    ledger.record(7, 10)
    with pytest.raises(ParticipationError, match=r"^client 7 participated in round 10; rounds must be recorded in "
                                                 r"increasing order, got round 3$"):
        ledger.record(7, 3)


def test_check_records_nothing(ledger) -> None:
    ledger.check(7, 0)
    assert ledger.participations(7) == 0 and ledger.eligible([7], 1).tolist() == [True]


def test_numpy_integer_identity_is_the_same_client(ledger) -> None:
    ledger.record(np.int64(3), 0)
    assert ledger.participations(3) == 1
    assert ledger.eligible(np.arange(5), 1).tolist() == [True, True, True, False, True]
    assert json.loads(ledger.to_json())["clients"] == [[3, 1, 0]]


@pytest.mark.parametrize("identity,round_index,error,message", [
    (True, 0, TypeError, r"identity must be an int or bytes, got identity=True"),
    ("alice", 0, TypeError, r"identity must be an int or bytes, got identity='alice'"),
    (1, -1, ValueError, r"round_index must be an integer in \[0, steps=20\), got round_index=-1"),
    (1, 20, ValueError, r"round_index must be an integer in \[0, steps=20\), got round_index=20"),
    (1, 1.0, ValueError, r"round_index must be an integer in \[0, steps=20\), got round_index=1.0"),
    (1, True, ValueError, r"round_index must be an integer in \[0, steps=20\), got round_index=True"),
])
def test_record_fails_if_argument_is_bad(ledger, identity, round_index, error, message) -> None:
    for call in (ledger.check, ledger.record):
        with pytest.raises(error, match=message):
            call(identity, round_index)
    if error is ValueError:
        with pytest.raises(ValueError, match=message):
            ledger.eligible([identity], round_index)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(schema=None), TypeError, r"schema must be a ParticipationSchema, got schema=None"),
    (dict(schema=dict(steps=10, participations=0)), ValueError,
     r"participations must be an integer >= 1, got participations=0"),
    (dict(schema=dict(steps=10, min_separation=0)), ValueError,
     r"min_separation must be an integer >= 1, got min_separation=0"),
])
def test_ledger_fails_if_schema_is_bad(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        schema = kwargs["schema"]
        ParticipationLedger(ParticipationSchema(**schema) if isinstance(schema, dict) else schema)


@given(case=schemas_and_attempts(), query=st.integers(0, 23))
@example(case=(ParticipationSchema(7, 3, 3), [(0, 0), (0, 3), (0, 6), (1, 0), (1, 2), (1, 5), (1, 4)]), query=6)
def test_record_and_eligible_match_brute_force(case, query) -> None:
    schema, attempts = case
    ledger, history, _ = _replay(schema, attempts)
    q = query % schema.steps
    expected = [_brute_force_allows(history[i], q, schema.participations, schema.min_separation) for i in IDS]
    assert ledger.eligible(IDS, q).tolist() == expected
    for identity, allowed in zip(IDS, expected):
        assert ledger.participations(identity) == len(history[identity])
        if allowed:
            ledger.check(identity, q)
        else:
            with pytest.raises(ParticipationError):
                ledger.check(identity, q)


@given(case=schemas_and_attempts(), data=st.data())
def test_from_history_equals_incremental_recording(case, data) -> None:
    ledger, _, accepted = _replay(*case)
    shuffled = data.draw(st.permutations(accepted))
    rebuilt = ParticipationLedger.from_history(case[0], shuffled)
    assert rebuilt == ledger and rebuilt.to_json() == ledger.to_json()


@pytest.mark.parametrize("history,error,message", [
    # Pairs are replayed in round order, so (1, 0) is recorded first whatever the listing order.
    ([(1, 3), (1, 0)], ParticipationError, r"client 1 participated in round 0; round 3 is closer than min_sep"),
    ([(1, 0), (1, 0)], ParticipationError, r"client 1 already participated in round 0"),
    ([(1, 0), (2, "3")], ValueError, r"got round_index='3'"),
])
def test_from_history_fails_if_history_breaks_schema(history, error, message) -> None:
    with pytest.raises(error, match=message):
        ParticipationLedger.from_history(SCHEMA, history)


@given(case=schemas_and_attempts())
def test_json_round_trip(case) -> None:
    ledger, _, _ = _replay(*case)
    restored = ParticipationLedger.from_json(ledger.to_json())
    assert restored == ledger and restored.to_json() == ledger.to_json()
    for q in range(case[0].steps):
        assert restored.eligible(IDS, q).tolist() == ledger.eligible(IDS, q).tolist()


def test_to_json_is_plain_data(ledger) -> None:
    # Golden: the documented layout, clients sorted (ints, then bytes as hex).
    ledger.record(b"\xab", 0)
    ledger.record(5, 2)
    ledger.record(5, 8)
    assert json.loads(ledger.to_json()) == {
        "format": "loyal.dpftrl.participation_ledger.v1", "steps": 20, "participations": 4, "min_separation": 6,
        "clients": [[5, 2, 8], ["ab", 1, 0]],
    }


def _ledger_json(**changes) -> str:
    obj = {"format": "loyal.dpftrl.participation_ledger.v1", "steps": 20, "participations": 4,
           "min_separation": 6, "clients": [[5, 2, 8]]}
    return json.dumps(obj | changes)


@pytest.mark.parametrize("text,message", [
    ("[1, 2]", r"ledger JSON must be an object with keys"),
    (_ledger_json(format="pickle"), r"ledger JSON must be an object with keys .* format='loyal.dpftrl"),
    (_ledger_json(clients="abc"), r"list of clients"),
    (_ledger_json(participations=0), r"participations must be an integer >= 1, got participations=0"),
    (_ledger_json(clients=[[5, 5, 19]]), r"client entry must be \[identity, count in \[1, k=4\].*got \[5, 5, 19\]"),
    (_ledger_json(clients=[[5, 2, 5]]), r"last round in \[\(count-1\)\*b, steps=20\) with b=6\], got \[5, 2, 5\]"),
    (_ledger_json(clients=[[5, 1, 20]]), r"got \[5, 1, 20\]"),
    (_ledger_json(clients=[[True, 1, 0]]), r"got \[True, 1, 0\]"),
    (_ledger_json(clients=[[5, 1, 0], [5, 1, 9]]), r"ledger JSON lists client 5 twice"),
    (_ledger_json(clients=[["ab", 1, 0], ["ab", 1, 9]]), r"ledger JSON lists client 'ab' twice"),
    ("{", r"Expecting property name"),
])
def test_from_json_fails_if_malformed(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        ParticipationLedger.from_json(text)
