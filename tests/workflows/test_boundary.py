"""The input boundary: what any entering text becomes before a flow or a database sees it."""

from __future__ import annotations

import json

import pytest

from workflows import boundary
from workflows.boundary import InputRejected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain text", "plain text"),
        ("tab\tand\nnewline kept", "tab\tand\nnewline kept"),
        ("nul\x00byte", "nulbyte"),
        ("bell\x07 esc\x1b[31m del\x7f cr\r\n", "bell esc[31m del cr\n"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("low \udfff too", "low \ufffd too"),
        ("emoji 😀 kept", "emoji 😀 kept"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert boundary.clean_text(raw) == clean
    assert boundary.clean_text(clean) == clean  # idempotent
    clean.encode("utf-8")  # always encodable


def test_clean_tree_cleans_keys_and_values_at_every_depth() -> None:
    tree = {"a\x00": ["x\x01", {"k": "\ud800"}], "n": 5, "b": None}
    assert boundary.clean_tree(tree) == {"a": ["x", {"k": "\ufffd"}], "n": 5, "b": None}


def test_clean_in_place_keeps_the_same_object() -> None:
    body = {"text": "a\x00b", "nested": {"v": "\ud800"}}
    same = body
    boundary.clean_in_place(body)
    assert same is body and body == {"text": "ab", "nested": {"v": "\ufffd"}}


def test_json_nested_too_deeply_is_refused_with_a_reason() -> None:
    deep = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads
    with pytest.raises(InputRejected, match="nests deeper than 64"):
        boundary.decode_json(deep)
    moderately = json.dumps(_nest(65))  # parses, but deeper than the limit
    with pytest.raises(InputRejected, match="nests deeper"):
        boundary.decode_json(moderately)
    assert boundary.decode_json(json.dumps(_nest(60))) == _nest(60)


def _nest(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def test_json_size_and_syntax_are_refused_with_a_reason() -> None:
    with pytest.raises(InputRejected, match="larger than 10 bytes"):
        boundary.decode_json(b'{"a": "0123456789"}', max_bytes=10)
    with pytest.raises(InputRejected, match="not valid JSON"):
        boundary.decode_json(b"\xff\xfe")
    with pytest.raises(InputRejected, match="not valid JSON"):
        boundary.decode_json(b'{"a": ')


def test_json_strings_are_cleaned_unless_asked_not_to() -> None:
    body = b'{"t": "a\\u0000b\\ud800"}'
    assert boundary.decode_json(body) == {"t": "ab\ufffd"}
    assert boundary.decode_json(body, clean=False) == {"t": "a\x00b\ud800"}


@pytest.mark.parametrize(
    ("number", "fits"),
    [(1, True), (2**31 - 1, True), (2**31, False), (0, False), (-5, False), (10**21, False)],
)
def test_ids_are_range_checked(number: int, fits: bool) -> None:
    assert boundary.fits_id(number) is fits


def test_too_long_says_how_long_and_the_limit() -> None:
    assert boundary.too_long("abc", limit=3, what="x") is None
    assert boundary.too_long("abcd", limit=3, what="That field") == (
        "That field is 4 characters long; shipbot accepts at most 3."
    )
