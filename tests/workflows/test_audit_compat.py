"""Chains written by shipbot 0.2 verify with this code, and tampering with them is found.

``audit_data/v0_2_chain.jsonl`` holds 20 entries exactly as 0.2 (commit f5e6ad7) stored
them, recorded through that commit's own ``audit.record`` by ``make_v0_2_chain.py``:
params as ``json.dumps`` wrote them (spaces, insertion order, ``\\u`` escapes), so every
row takes verify's Python path, not the text the database builds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Text, cast, text, type_coerce

from workflows import audit
from workflows.audit.chain import ENTRIES, HEAD
from workflows.clock import FakeClock
from workflows.store.db import Database

FIXTURE = Path(__file__).parent / "audit_data" / "v0_2_chain.jsonl"


def fixture_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    entries = [line["row"] for line in lines if line["table"] == "audit_entries"]
    [head] = [line["row"] for line in lines if line["table"] == "audit_head"]
    return entries, head


def load_v0_2_chain(database: Database) -> dict[str, Any]:
    """The fixture's rows inserted as stored: params text verbatim, timestamps as UTC."""
    entries, head = fixture_rows()
    with database.engine.begin() as connection:
        for row in entries:
            params: Any = type_coerce(row["params"], Text)
            if database.is_postgres:
                params = cast(params, JSON)  # json keeps the text as given
            created_at = datetime.fromisoformat(row["created_at"]).replace(tzinfo=UTC)
            connection.execute(
                ENTRIES.insert().values({**row, "created_at": created_at, "params": params})
            )
        connection.execute(HEAD.insert().values(head))
    return head


def verify(database: Database, **kwargs: Any) -> audit.VerifyReport:
    with database.read_session() as session:
        return audit.verify(session=session, **kwargs)


def test_the_fixture_is_in_0_2s_format() -> None:
    entries, head = fixture_rows()
    assert [row["seq"] for row in entries] == list(range(1, 21)) and head["seq"] == 20
    # Not canonical text: verify cannot take the database-built fast path for these rows.
    assert all(row["params"] != audit.canonical_json(json.loads(row["params"])) for row in entries)


def test_a_0_2_chain_verifies_and_can_be_appended_to(database: Database) -> None:
    head = load_v0_2_chain(database)
    report = verify(database)
    assert (report.ok, report.entries, report.head_seq, report.head_hash) == (
        True,
        20,
        20,
        head["hash"],
    )
    assert verify(database, workers=2, range_entries=6).ok
    with database.transaction() as session:
        entry = audit.record(
            session=session, clock=FakeClock(), actor="U0NEW", action="deploy.request"
        )
    assert (entry.seq, entry.prev_hash) == (21, head["hash"])
    assert verify(database).entries == 21


@pytest.mark.parametrize(
    ("statement", "seq"),
    [
        ("UPDATE audit_entries SET params = replace(params, '1.2.3', '6.6.6') WHERE seq = 11", 11),
        ("UPDATE audit_entries SET actor = 'U0EVE' WHERE seq = 14", 14),
        ("DELETE FROM audit_entries WHERE seq = 7", 7),
    ],
)
def test_tampering_with_a_0_2_chain_is_found(database: Database, statement: str, seq: int) -> None:
    load_v0_2_chain(database)
    if database.is_postgres:
        statement = statement.replace("replace(params,", "replace(params::text,").replace(
            "'6.6.6')", "'6.6.6')::json"
        )
    with database.engine.begin() as connection:
        connection.execute(text(statement))
    for kwargs in ({}, {"workers": 1, "range_entries": 6}):
        report = verify(database, **kwargs)
        assert (report.ok, report.first_bad_seq) == (False, seq), kwargs
