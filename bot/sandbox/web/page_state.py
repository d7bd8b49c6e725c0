"""What one person sees in the browser sandbox, as JSON for the page.

``page_state`` reads the emulated workspace under its lock and renders, for one user and
one channel: the channel list (public channels, private ones they are in, their direct
messages with the bot), the channel's messages with their threads and files, the
ephemeral messages sent to *that user only*, and the modal they have open. Messages
arrive as HTML built by ``blocks_html``/``mrkdwn`` (escaped there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.slack.model import Channel, Ephemeral, UploadedFile
from bot.sandbox.slack.state import SlackState
from bot.sandbox.web.blocks_html import attachments_html, blocks_html
from bot.sandbox.web.modal_html import view_html
from bot.sandbox.web.mrkdwn import Directory, escape, mrkdwn_to_html
from bot.sandbox.workspace import BOT_USER_ID

# File contents shown inline in a message (longer ones are cut; the link has it all).
INLINE_FILE_LIMIT = 64 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/x-yaml", "application/yaml")


def is_text_file(name: str, mimetype: str) -> bool:
    return mimetype.startswith(_TEXT_TYPES) or name.endswith((".md", ".txt", ".log", ".csv"))


def _time(ts: str) -> str:
    when = datetime.fromtimestamp(float(ts), tz=UTC)
    return when.isoformat(timespec="seconds")


def _author(message: Mapping[str, Any], directory: Directory) -> tuple[str, bool]:
    user = str(message.get("user") or "")
    is_app = bool(message.get("bot_id")) or user == BOT_USER_ID
    return directory.users.get(user, user or "unknown"), is_app


def _files_html(files: Iterable[Any], stored: Mapping[str, UploadedFile]) -> str:
    out = []
    for shared in files:
        if not isinstance(shared, dict):
            continue
        file_id = str(shared.get("id", ""))
        name = str(shared.get("name") or shared.get("title") or file_id)
        title = str(shared.get("title") or name)
        mimetype = str(shared.get("mimetype") or "")
        link = (
            f'<a class="file-link" href="/files/{escape(file_id)}" target="_blank" '
            f'rel="noopener">{escape(title)}</a> <span class="file-meta">{escape(name)} · '
            f"{int(shared.get('size') or 0)} bytes</span>"
        )
        preview = ""
        uploaded = stored.get(file_id)
        if uploaded is not None and uploaded.content is not None and is_text_file(name, mimetype):
            text = uploaded.content[:INLINE_FILE_LIMIT].decode("utf-8", errors="replace")
            more = "\n…" if len(uploaded.content) > INLINE_FILE_LIMIT else ""
            preview = f'<pre class="file-content">{escape(text + more)}</pre>'
        out.append(f'<div class="file">{link}{preview}</div>')
    return f'<div class="files">{"".join(out)}</div>' if out else ""


def message_html(
    message: Mapping[str, Any],
    directory: Directory,
    *,
    files: Mapping[str, UploadedFile],
    replies: list[dict[str, Any]] | None = None,
    ephemeral: bool = False,
) -> str:
    """One message (its blocks, else its text) with its files and thread replies."""
    author, is_app = _author(message, directory)
    blocks = message.get("blocks") or []
    body = (
        blocks_html(blocks, directory)
        if blocks
        else f'<div class="text">{mrkdwn_to_html(str(message.get("text", "")), directory)}</div>'
    )
    body += attachments_html(message.get("attachments") or [], directory)
    body += _files_html(message.get("files") or [], files)
    meta = f'<span class="author">{escape(author)}</span>'
    if is_app:
        meta += '<span class="app-tag">APP</span>'
    ts = str(message.get("ts", ""))
    meta += f'<time data-ts="{escape(ts)}" title="{escape(_time(ts))}"></time>'
    if message.get("edited"):
        meta += '<span class="edited">(edited)</span>'
    if message.get("pinned_to"):
        meta += '<span class="pinned">pinned</span>'
    if ephemeral:
        meta += '<span class="only-you">Only visible to you</span>'
    thread = ""
    if replies:
        inner = "".join(message_html(r, directory, files=files) for r in replies)
        count = len(replies)
        thread = (
            f'<div class="thread"><div class="thread-count">{count} '
            f"repl{'y' if count == 1 else 'ies'}</div>{inner}</div>"
        )
    css = "msg ephemeral" if ephemeral else "msg"
    return (
        f'<div class="{css}" data-ts="{escape(ts)}" data-ephemeral="{int(ephemeral)}">'
        f'<div class="meta">{meta}</div><div class="body">{body}</div>{thread}</div>'
    )


def _visible_channels(state: SlackState, user: str, order: list[str]) -> list[Channel]:
    channels = [
        c
        for c in state.data.channels.values()
        if (c.im_user is None and (not c.is_private or user in c.members)) or c.im_user == user
    ]
    rank = {channel_id: i for i, channel_id in enumerate(order)}

    def key(channel: Channel) -> tuple[int, int, int, str]:
        return (
            1 if channel.im_user else 0,
            rank.get(channel.id, len(rank)),
            channel.created,
            channel.name,
        )

    return sorted(channels, key=key)


def channel_entry(channel: Channel, user: str, directory: Directory) -> dict[str, Any]:
    if channel.im_user is not None:
        label, kind = directory.users.get(BOT_USER_ID, "shipbot"), "dm"
    else:
        label, kind = channel.name, "private" if channel.is_private else "channel"
    return {
        "id": channel.id,
        "label": label,
        "kind": kind,
        "member": user in channel.members,
        "topic": channel.topic,
    }


def _timeline(
    messages: list[dict[str, Any]], ephemerals: list[Ephemeral]
) -> list[tuple[dict[str, Any], list[dict[str, Any]], bool]]:
    """Top-level messages and the user's ephemerals in ts order, replies under parents."""
    replies: dict[str, list[dict[str, Any]]] = {}
    top: list[tuple[dict[str, Any], bool]] = []
    for message in messages:
        parent = message.get("thread_ts")
        if parent and parent != message["ts"] and message.get("subtype") != "thread_broadcast":
            replies.setdefault(parent, []).append(message)
        else:
            top.append((message, False))
    for e in ephemerals:
        top.append(({"ts": e.message_ts, "text": e.text, "blocks": e.blocks or [],
                     "user": BOT_USER_ID, "bot_id": "sandbox"}, True))  # fmt: skip
    top.sort(key=lambda item: float(item[0]["ts"]))
    return [(m, replies.get(m["ts"], []), is_ephemeral) for m, is_ephemeral in top]


def page_state(
    state: SlackState,
    *,
    user: str,
    channel: str | None,
    directory: Directory,
    channel_order: list[str],
) -> dict[str, Any]:
    """Everything ``user`` sees with ``channel`` open (the first channel when ``None``)."""
    with state.lock:
        version = state.condition.version
        visible = _visible_channels(state, user, channel_order)
        entries = [channel_entry(c, user, directory) for c in visible]
        current = next((c for c in visible if c.id == channel), visible[0] if visible else None)
        messages: list[str] = []
        if current is not None:
            mine = [e for e in state.data.ephemerals if e.user == user and e.channel == current.id]
            for message, replies, ephemeral in _timeline(
                state.data.messages.get(current.id, []), mine
            ):
                messages.append(
                    message_html(
                        message,
                        directory,
                        files=state.data.files,
                        replies=replies,
                        ephemeral=ephemeral,
                    )
                )
        views = state.open_views(user)
    modal = None
    if views:
        view = views[-1]
        modal = {"id": view["id"], "hash": view["hash"], "html": view_html(view, directory)}
    return {
        "version": version,
        "user": user,
        "channels": entries,
        "channel": current.id if current is not None else None,
        "messages": messages,
        "modal": modal,
    }
