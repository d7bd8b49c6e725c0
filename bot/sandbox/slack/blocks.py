"""Block Kit validation the way Slack applies it, built on ``slack_sdk.models``.

Slack refuses a message whose blocks fail its schema with ``invalid_blocks`` and a list of
errors carrying a JSON pointer; the fake does the same so a bad render fails in tests
rather than in a real workspace."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
VIEW_TYPES = frozenset({"modal", "home"})
# Fields Slack requires to be text objects; slack_sdk would quietly coerce a bare string.
_TEXT_OBJECT_FIELDS = ("text", "title", "label", "placeholder", "hint")


def _has_unknown(value: Any) -> bool:
    """slack_sdk drops elements of unknown type to ``None``; Slack rejects them."""
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for k, v in value.items() if k != "value" and v is not None)
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def _block_error(raw: Any, pointer: str) -> str | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return f"must be an object with a type [json-pointer:{pointer}]"
    for name in _TEXT_OBJECT_FIELDS:
        if name in raw and not isinstance(raw[name], dict):
            return f"must provide an object [json-pointer:{pointer}/{name}]"
    try:
        parsed = Block.parse(raw)
        if parsed is None:
            return f"unknown block type {raw['type']!r} [json-pointer:{pointer}/type]"
        rendered = parsed.to_dict()  # to_dict validates the block and everything inside it
    except (SlackObjectFormationError, TypeError, KeyError, ValueError) as exc:
        return f"{exc} [json-pointer:{pointer}]"
    if _has_unknown(rendered):
        return f"contains an element of unknown type [json-pointer:{pointer}]"
    return None


def block_errors(
    blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS, root: str = "/blocks"
) -> list[str]:
    """Slack-style error strings for ``blocks``; empty when Slack would accept them."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{root}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must contain at most {limit} items [json-pointer:{root}]")
    for index, raw in enumerate(blocks):
        error = _block_error(raw, f"{root}/{index}")
        if error is not None:
            errors.append(error)
    return errors


def view_errors(view: Any) -> list[str]:
    """Errors for a modal or App Home view, its blocks included."""
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    if view.get("type") not in VIEW_TYPES:
        return ["type must be one of modal, home [json-pointer:/view/type]"]
    errors = block_errors(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, root="/view/blocks")
    if view["type"] == "modal" and not isinstance(view.get("title"), dict):
        errors.append("must provide an object [json-pointer:/view/title]")
    if errors:
        return errors
    try:
        shell = {k: v for k, v in view.items() if k != "state"}
        View(**shell).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        errors.append(f"{exc} [json-pointer:/view]")
    return errors
