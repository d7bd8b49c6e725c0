""" "What changed" on a deploy card and an approval request, from ``Deploy.changes`` alone."""

from __future__ import annotations

from typing import Any

from commands.common.reply import context, escape, section
from workflows.changes.model import ChangeSet
from workflows.deploys.models import Deploy


def _link(url: str, label: str) -> str:
    safe = url.replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")
    return f"<{safe}|{label}>"


def _headline(changes: ChangeSet) -> str:
    noun = "commit" if changes.total == 1 else "commits"
    line = f"*What changed* since `{escape(changes.base_version or '?')}`: {changes.total} {noun}"
    if changes.compare_url:
        line += f" · {_link(changes.compare_url, 'compare')}"
    if changes.flagged_paths:
        where = ", ".join(f"`{escape(p)}`" for p in changes.flagged_paths)
        line += f"\n:warning: touches {where}"
        if changes.flagged:
            line += f" ({changes.flagged} of the commits listed)"
    return line


def changes_blocks(deploy: Deploy) -> list[dict[str, Any]]:
    """Nothing until the job has run (a source is configured but not read yet: say so)."""
    if deploy.changes is None:
        return []
    changes = ChangeSet.from_json(deploy.changes)
    if changes.unavailable:
        return [context(f"Changes unavailable ({escape(changes.unavailable)})")]
    if changes.total == 0:
        return [
            context(f"No commits between `{escape(changes.base_version or '?')}` and this version")
        ]
    lines = [_headline(changes)]
    for commit in changes.commits:
        flag = " :warning:" if commit.flagged_paths else ""
        title = escape(commit.title).replace("`", "'")[:120]
        lines.append(f"• `{commit.sha[:7]}` {title} — {escape(commit.author)[:40]}{flag}")
    hidden = changes.total - len(changes.commits)
    if hidden > 0:
        lines.append(f"…and {hidden} more")
    return [section("\n".join(lines)[:2900])]
