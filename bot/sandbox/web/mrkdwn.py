"""Slack ``mrkdwn`` and ``plain_text`` as safe HTML, for the browser sandbox.

Everything that reaches the page from a message goes through here, so this is where the
page is made safe: text is HTML-escaped first and only the markup this module builds
itself (``<b>``, ``<i>``, ``<code>``, links to http(s)/mailto URLs, mentions) is
added around it. A message saying ``<script>`` shows those characters, nothing more.

Slack's own escaping is honoured: mrkdwn carries ``&amp; &lt; &gt;`` for literal
characters and ``<...>`` for links, mentions (``<@U..>``), channels (``<#C..>``) and
special mentions (``<!here>``, ``<!subteam^S..|@team>``, ``<!date^..|fallback>``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# The shortcodes shipbot uses, and a few common ones; others stay as written.
EMOJI: Mapping[str, str] = {
    "alarm_clock": "\u23f0",
    "bell": "\U0001f514",
    "eyes": "\U0001f440",
    "fire": "\U0001f525",
    "grey_question": "\u2754",
    "heavy_check_mark": "\u2714\ufe0f",
    "hourglass": "\u231b",
    "hourglass_flowing_sand": "\u23f3",
    "information_source": "\u2139\ufe0f",
    "large_green_circle": "\U0001f7e2",
    "large_orange_circle": "\U0001f7e0",
    "large_yellow_circle": "\U0001f7e1",
    "leftwards_arrow_with_hook": "\u21a9\ufe0f",
    "lock": "\U0001f512",
    "memo": "\U0001f4dd",
    "no_entry": "\u26d4",
    "no_entry_sign": "\U0001f6ab",
    "raised_hand": "\u270b",
    "red_circle": "\U0001f534",
    "rocket": "\U0001f680",
    "rotating_light": "\U0001f6a8",
    "sunny": "\u2600\ufe0f",
    "tada": "\U0001f389",
    "unlock": "\U0001f513",
    "warning": "\u26a0\ufe0f",
    "white_check_mark": "\u2705",
    "white_circle": "\u26aa",
    "x": "\u274c",
    "zzz": "\U0001f4a4",
}

_SAFE_SCHEMES = ("http://", "https://", "mailto:")
# Placeholders for markup built here; the characters are removed from input first.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_ANGLE = re.compile(r"<([^<>\n]*)>")
_PRE = re.compile(r"```(.*?)```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")


def _span(mark: str, tag: str) -> re.Pattern[str]:
    # Slack formats *bold* only at word boundaries and not across lines.
    m = re.escape(mark)
    return re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])")


_SPANS = ((_span("*", "b"), "b"), (_span("_", "i"), "i"), (_span("~", "s"), "s"))


@dataclass
class Directory:
    """Names to show for ids: ``users`` (U.. -> name) and ``channels`` (C.. -> name)."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def _slack_unescape(text: str) -> str:
    """Slack's three entities back to characters (they are escaped again for HTML)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _emoji(escaped: str) -> str:
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def plain_to_html(text: str, *, emoji: bool = True) -> str:
    """A ``plain_text`` object's text: escaped, line breaks kept."""
    escaped = escape(_strip_placeholders(text))
    return (_emoji(escaped) if emoji else escaped).replace("\n", "<br>")


def _strip_placeholders(text: str) -> str:
    return text.replace(_OPEN, "").replace(_CLOSE, "")


class _Rendering:
    """One mrkdwn text being turned into HTML: pieces of built markup are parked under
    placeholders while the rest is escaped and formatted, then put back."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.parked: list[str] = []

    def park(self, markup: str) -> str:
        self.parked.append(markup)
        return f"{_OPEN}{len(self.parked) - 1}{_CLOSE}"

    def restore(self, text: str) -> str:
        # Parked markup may itself hold placeholders (a link inside ```pre```).
        while _PLACEHOLDER.search(text):
            text = _PLACEHOLDER.sub(lambda m: self.parked[int(m.group(1))], text)
        return text

    def literal(self, text: str) -> str:
        """Slack-escaped text as HTML-escaped text."""
        return escape(_slack_unescape(text))

    def angle(self, match: re.Match[str]) -> str:
        """One ``<...>`` token: a link, mention, channel or special mention."""
        inner = match.group(1)
        target, _, label = inner.partition("|")
        users, channels = self.directory.users, self.directory.channels
        if target.startswith("@"):
            user_id = target[1:]
            name = users.get(user_id) or label.lstrip("@") or user_id
            return self.park(
                f'<span class="mention" data-user="{escape(user_id)}">@{self.literal(name)}</span>'
            )
        if target.startswith("#"):
            channel_id = target[1:]
            name = channels.get(channel_id) or label or channel_id
            return self.park(
                f'<a class="channel-link" href="#" data-channel="{escape(channel_id)}">'
                f"#{self.literal(name)}</a>"
            )
        if target.startswith("!date^"):
            return self.park(self.literal(label or target))
        if target.startswith("!"):
            return self.park(f'<span class="mention">{self._special(target[1:], label)}</span>')
        url = _slack_unescape(target)
        if url.lower().startswith(_SAFE_SCHEMES):
            text = self.literal(label) if label else escape(url)
            return self.park(
                f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{text}</a>'
            )
        # Not a token Slack knows (e.g. a raw "<script>"): shown as the characters it is.
        return self.park(escape(match.group(0)))

    def _special(self, command: str, label: str) -> str:
        if command.startswith("subteam^"):
            return self.literal(label or "@" + command.removeprefix("subteam^"))
        return "@" + self.literal(label or command)

    def inline(self, text: str) -> str:
        """Text outside ```pre```: code spans, tokens, then bold/italic/strike and emoji."""
        text = _CODE.sub(lambda m: self.park(f"<code>{self.literal(m.group(1))}</code>"), text)
        text = _ANGLE.sub(self.angle, text)
        escaped = self.literal(text)
        for pattern, tag in _SPANS:
            escaped = pattern.sub(rf"<{tag}>\g<1></{tag}>", escaped)
        return _quotes(_emoji(escaped))


def _quotes(escaped: str) -> str:
    """Lines starting with ``>`` (escaped: ``&gt;``) as block quotes."""
    lines = escaped.split("\n")
    out: list[str] = []
    for line in lines:
        if line.startswith("&gt;"):
            out.append(f"<blockquote>{line.removeprefix('&gt;').lstrip()}</blockquote>")
        else:
            out.append(line + "\n")
    joined = "".join(out).removesuffix("\n")
    return joined.replace("\n", "<br>")


def mrkdwn_to_html(text: str, directory: Directory | None = None) -> str:
    """Slack mrkdwn as HTML that is safe to put into the page as it is."""
    rendering = _Rendering(directory or Directory())
    text = _strip_placeholders(text)
    pieces: list[str] = []
    position = 0
    for match in _PRE.finditer(text):
        pieces.append(rendering.inline(text[position : match.start()]))
        body = _ANGLE.sub(rendering.angle, match.group(1).strip("\n"))
        pieces.append(rendering.park(f"<pre>{rendering.literal(body)}</pre>"))
        position = match.end()
    pieces.append(rendering.inline(text[position:]))
    return rendering.restore("".join(pieces))


def text_object_to_html(obj: object, directory: Directory | None = None) -> str:
    """A Block Kit text object (``mrkdwn`` or ``plain_text``) as safe HTML."""
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_html(text, directory)
    return plain_to_html(text, emoji=obj.get("emoji", True) is not False)
