"""The input boundary: what every text entering shipbot goes through, once, at the edge.

Slash command text, modal values, button values, webhook bodies and config strings are
cleaned here before any flow sees them, so both databases accept whatever passes
(PostgreSQL text cannot hold NUL; a lone surrogate cannot be encoded as UTF-8 at all):

* C0 control characters other than tab and newline (and DEL) are removed;
* lone surrogates (``"\\ud800"`` from a JSON escape) become U+FFFD;
* JSON is parsed with a size and a nesting limit, answering ``InputRejected`` with a
  reason instead of ``RecursionError``;
* numbers that name a stored row are range-checked against the id column
  (``fits_id``), so an absurd id is "not found", never a driver overflow.

Pure functions only: the edges (``bot/http.py``, the Bolt middleware, ``bot/hooks.py``,
the config loader) call them and turn ``InputRejected`` into their own answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Ids are INTEGER columns on both databases (32-bit signed on PostgreSQL).
MAX_ID = 2**31 - 1
MAX_JSON_BYTES = 1024 * 1024
# Real payloads nest a handful of levels (Slack views about 8, Alertmanager 4); 64 leaves
# room and stays far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 64

# Per-field limits, in characters: Slack's own maxima where Slack has one.
MAX_COMMAND_TEXT = 4000
MAX_BUTTON_VALUE = 2000
MAX_MODAL_VALUE = 3000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


class InputRejected(ValueError):
    """Input refused at the edge; ``message`` is the reason the sender is told."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean_text(text: str) -> str:
    """``text`` without control characters (tab and newline kept) and with each lone
    surrogate replaced by U+FFFD. Idempotent; returns ``text`` itself when it is clean."""
    if _UNSAFE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def clean_tree(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A copy of a decoded JSON/YAML/form value with every string (keys included) cleaned
    by :func:`clean_text`; ``InputRejected`` if it nests deeper than ``max_depth``."""
    return _clean(value, max_depth, 0)


def _clean(value: Any, max_depth: int, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict | list):
        if depth >= max_depth:
            raise InputRejected(f"the JSON nests deeper than {max_depth} levels")
        if isinstance(value, list):
            return [_clean(item, max_depth, depth + 1) for item in value]
        return {
            _clean(key, max_depth, depth + 1): _clean(item, max_depth, depth + 1)
            for key, item in value.items()
        }
    return value


def clean_in_place(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Clean the strings of a dict or list where they stand (for payloads others already
    hold a reference to, such as Bolt's request body); same rules as :func:`clean_tree`."""
    cleaned = clean_tree(value, max_depth=max_depth)
    if isinstance(value, dict):
        value.clear()
        value.update(cleaned)
    elif isinstance(value, list):
        value[:] = cleaned


def decode_json(
    body: bytes | str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    clean: bool = True,
) -> Any:
    """``body`` parsed as JSON and cleaned, or ``InputRejected`` saying why not (too big,
    not UTF-8, not JSON, nested too deeply). ``clean=False`` keeps the strings exactly as
    sent (still bounded), for bodies whose signature covers the decoded values (SNS);
    clean them once verified."""
    if len(body) > max_bytes:
        raise InputRejected(f"the body is larger than {max_bytes} bytes")
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise InputRejected(f"the JSON nests deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError):
        raise InputRejected("the body is not valid JSON") from None
    cleaned = clean_tree(parsed, max_depth=max_depth)  # also the depth check
    return cleaned if clean else parsed


def fits_id(number: int) -> bool:
    """Whether ``number`` can be a stored row's id; any other names nothing."""
    return 0 < number <= MAX_ID


def too_long(text: str, *, limit: int, what: str) -> str | None:
    """The answer for a field over its limit, or None when it fits."""
    if len(text) <= limit:
        return None
    return f"{what} is {len(text):,} characters long; shipbot accepts at most {limit:,}."
