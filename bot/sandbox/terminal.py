"""Block Kit as terminal text, for the `shipbot dev` prompt."""

from __future__ import annotations

from typing import Any


def _text(obj: dict[str, Any] | None) -> str:
    return str((obj or {}).get("text", ""))


def blocks_to_text(blocks: list[dict[str, Any]], *, fallback: str = "") -> str:
    if not blocks:
        return fallback
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {_text(block.get('text'))} ==")
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block["text"]))
            lines.extend(f"  {_text(field)}" for field in block.get("fields", []))
        elif kind == "context":
            lines.append(
                "  " + "  ".join(_text(e) for e in block.get("elements", []) if "text" in e)
            )
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "actions":
            buttons = [f"[{_text(e.get('text'))}]" for e in block.get("elements", [])]
            lines.append(" ".join(buttons))
        elif kind == "image":
            lines.append(f"(image: {block.get('alt_text', '')})")
    return "\n".join(lines)
