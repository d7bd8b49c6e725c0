"""Block Kit layout blocks as safe HTML for the browser sandbox.

Every string from a message passes through ``mrkdwn`` (escaped) or ``escape`` (attribute
values). Interactive elements carry ``data-path`` (where the element sits in the
message or view, e.g. ``blocks/3/elements/0``), never their value: the page tells the
server which element was clicked and the server reads the value from the stored
message, as Slack does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.sandbox.web.mrkdwn import Directory, escape, text_object_to_html

Block = dict[str, Any]


def _is_safe_url(url: object) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def _image(element: dict[str, Any], css: str) -> str:
    url = element.get("image_url")
    alt = escape(str(element.get("alt_text", "")))
    if not _is_safe_url(url):
        return f'<span class="{css} missing-image">[image: {alt}]</span>'
    return f'<img class="{css}" src="{escape(str(url))}" alt="{alt}" title="{alt}">'


def button_html(element: dict[str, Any], path: str, directory: Directory) -> str:
    style = element.get("style")
    css = "btn" + (f" btn-{style}" if style in ("primary", "danger") else "")
    label = text_object_to_html(element.get("text"), directory)
    data = f'data-path="{escape(path)}" data-action-id="{escape(str(element.get("action_id")))}"'
    url = element.get("url")
    if _is_safe_url(url):
        # A link button opens the URL and also sends block_actions, as in Slack.
        return (
            f'<a class="{css}" href="{escape(str(url))}" target="_blank" '
            f'rel="noopener noreferrer" {data}>{label}</a>'
        )
    return f'<button type="button" class="{css}" {data}>{label}</button>'


def element_html(element: Any, path: str, directory: Directory) -> str:
    """An element of an ``actions`` block or a section accessory."""
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "button":
        return button_html(element, path, directory)
    if kind == "image":
        return _image(element, "accessory-image")
    return f'<span class="unsupported">[{escape(str(kind))}]</span>'


def _fields(fields: Iterable[Any], directory: Directory) -> str:
    cells = "".join(f'<div class="field">{text_object_to_html(f, directory)}</div>' for f in fields)
    return f'<div class="fields">{cells}</div>'


def _rich_text(block: Block, directory: Directory) -> str:
    """Rich text flattened to its words (shipbot does not post it; people's clients do)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(escape(str(node.get("text", ""))))
            elif node.get("type") == "user":
                name = directory.users.get(str(node.get("user_id")), str(node.get("user_id")))
                parts.append(f'<span class="mention">@{escape(name)}</span>')
            elif node.get("type") == "link":
                parts.append(escape(str(node.get("text") or node.get("url", ""))))
            for child in node.get("elements") or []:
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(block.get("elements"))
    return f'<div class="rich-text">{"".join(parts).replace(chr(10), "<br>")}</div>'


def block_html(block: Any, path: str, directory: Directory) -> str:
    """One layout block; ``input`` blocks are rendered by ``modal_html``."""
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "section":
        inner = ""
        if block.get("text"):
            inner += f'<div class="text">{text_object_to_html(block["text"], directory)}</div>'
        if block.get("fields"):
            inner += _fields(block["fields"], directory)
        accessory = ""
        if block.get("accessory"):
            accessory_html = element_html(block["accessory"], f"{path}/accessory", directory)
            accessory = f'<div class="accessory">{accessory_html}</div>'
        return (
            f'<div class="block section"><div class="section-main">{inner}</div>{accessory}</div>'
        )
    if kind == "header":
        return f'<h3 class="block header">{text_object_to_html(block.get("text"), directory)}</h3>'
    if kind == "divider":
        return '<hr class="block divider">'
    if kind == "context":
        items = []
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "image":
                items.append(_image(element, "context-image"))
            else:
                items.append(f"<span>{text_object_to_html(element, directory)}</span>")
        return f'<div class="block context">{"".join(items)}</div>'
    if kind == "actions":
        elements = block.get("elements") or []
        buttons = "".join(
            element_html(e, f"{path}/elements/{i}", directory) for i, e in enumerate(elements)
        )
        return f'<div class="block actions">{buttons}</div>'
    if kind == "image":
        title = block.get("title")
        caption = (
            f"<figcaption>{text_object_to_html(title, directory)}</figcaption>" if title else ""
        )
        return f'<figure class="block image">{_image(block, "block-image")}{caption}</figure>'
    if kind == "rich_text":
        return _rich_text(block, directory)
    if kind == "file":
        return (
            f'<div class="block file">[remote file {escape(str(block.get("external_id")))}]</div>'
        )
    return f'<div class="block unsupported">[{escape(str(kind))} block]</div>'


def blocks_html(blocks: Iterable[Any], directory: Directory, *, root: str = "blocks") -> str:
    return "".join(block_html(b, f"{root}/{i}", directory) for i, b in enumerate(blocks))


def attachments_html(attachments: Iterable[Any], directory: Directory) -> str:
    """Legacy attachments: a coloured bar with their text, fields and blocks."""
    out = []
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            continue
        tone = str(attachment.get("color") or "")
        tone = tone if tone in ("good", "warning", "danger") else "default"
        inner = ""
        if attachment.get("pretext"):
            inner += text_object_to_html({"type": "mrkdwn", "text": attachment["pretext"]})
        if attachment.get("title"):
            inner += f"<b>{escape(str(attachment['title']))}</b>"
        if attachment.get("text"):
            inner += text_object_to_html({"type": "mrkdwn", "text": attachment["text"]}, directory)
        fields = [
            {"type": "mrkdwn", "text": f"*{f.get('title', '')}*\n{f.get('value', '')}"}
            for f in attachment.get("fields") or []
            if isinstance(f, dict)
        ]
        if fields:
            inner += _fields(fields, directory)
        if attachment.get("blocks"):
            inner += blocks_html(
                attachment["blocks"], directory, root=f"attachments/{index}/blocks"
            )
        out.append(f'<div class="attachment attachment-{tone}">{inner}</div>')
    return "".join(out)


def find_element(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The element at ``path`` (as written into ``data-path``) in a message or view."""
    node: Any = container
    for part in path.split("/"):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in ("blocks", "elements", "accessory", "attachments"):
            node = node.get(part)
        else:
            return None
    return node if isinstance(node, dict) else None


def block_of(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The block holding the element at ``path`` (``blocks/3/elements/0`` -> block 3)."""
    parts = path.split("/")
    index = parts.index("elements") if "elements" in parts else len(parts) - 1
    return find_element(container, "/".join(parts[:index]))
