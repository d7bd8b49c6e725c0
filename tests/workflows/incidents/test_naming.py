"""Severity words and channel names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.errors import UserError
from workflows.incidents.naming import (
    channel_base_name,
    channel_name_candidates,
    parse_severity,
    slugify,
)


@pytest.mark.parametrize("word", ["SEV2", "sev2", "Sev2", "2", " 2 "])
def test_severity_words(word: str) -> None:
    assert parse_severity(word) == "SEV2"


@pytest.mark.parametrize("word", ["SEV5", "0", "sev", "critical", ""])
def test_bad_severity_says_what_is_allowed(word: str) -> None:
    with pytest.raises(UserError) as raised:
        parse_severity(word)
    assert "SEV1, SEV2, SEV3, SEV4" in (raised.value.hint or "")


def test_slug_is_channel_safe() -> None:
    assert slugify("Checkout errors!! (EU) — 50% 5xx") == "checkout-errors-eu-50-5xx"
    assert slugify("Zürich façade") == "zurich-facade"
    assert slugify("???") == "incident"
    assert len(slugify("x" * 200)) == 40


def test_channel_name_and_suffixes() -> None:
    base = channel_base_name(
        prefix="inc", declared_at=datetime(2026, 1, 5, 23, 59, tzinfo=UTC), title="Checkout errors"
    )
    assert base == "inc-20260105-checkout-errors"
    candidates = channel_name_candidates(base)
    assert candidates[:3] == [base, f"{base}-2", f"{base}-3"]
    assert all(len(name) <= 80 for name in candidates)
