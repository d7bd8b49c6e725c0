"""Block Kit of reports: pure functions of a run's stored figures (re-renders are identical).

``render_run(meta, figures)`` gives ``(text, blocks)`` for any report kind; ``render_list``
shows the configured reports. Figures are the JSON the ``workflows.reports`` modules store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from commands.common.reply import DIVIDER, context, escape, header, section
from workflows.reports.manual import Listing

USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
Figures = Mapping[str, Any]
Blocks = list[dict[str, Any]]
MAX_LINES = 15
NOT_AVAILABLE = "not available"
TITLES = {
    "deploy_digest": "Deploy digest",
    "dora": "DORA metrics",
    "incident_summary": "Incident summary",
    "pending_approvals": "Deploys waiting for approval",
    "audit_checkpoint": "Audit checkpoint",
}


def duration(seconds: float | None) -> str:
    """``3m 20s``, ``2h 05m``, ``3d 4h``; "not available" for None."""
    if seconds is None:
        return NOT_AVAILABLE
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def local(moment: str, timezone: str) -> str:
    return f"{datetime.fromisoformat(moment).astimezone(ZoneInfo(timezone)):%a %d %b %H:%M}"


def window_text(window: Mapping[str, str]) -> str:
    zone = window["timezone"]
    return f"{local(window['start'], zone)} to {local(window['end'], zone)} ({zone})"


def trend(current: float | None, previous: float | None, *, fmt: Callable[[float], str]) -> str:
    """How ``current`` compares with ``previous``, e.g. "▲ 20% (was 10)"."""
    if previous is None:
        return "no earlier figure"
    was = f"(was {fmt(previous)})"
    if current is None:
        return was
    if previous == 0:
        return f"= {was}" if current == 0 else f"▲ {was}"
    change = (current - previous) / previous * 100
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    return f"{arrow} {abs(change):.0f}% {was}"


def mention(user: str | None) -> str:
    """A Slack mention for a user id; anything else (``cli:alice``) as plain text."""
    if not user:
        return "nobody"
    return f"<@{user}>" if USER_ID.fullmatch(user) else escape(user)


def _lines(lines: Sequence[str], total: int | None = None) -> str:
    shown = list(lines[:MAX_LINES])
    hidden = (total if total is not None else len(lines)) - len(shown)
    if hidden > 0:
        shown.append(f"…and {hidden} more")
    return "\n".join(shown)[:2900]


def _fields(*items: str) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": i[:1900]} for i in items]}


def _target(row: Mapping[str, Any]) -> str:
    return f"*{escape(row['service'])}* → {escape(row['environment'])}"


def deploy_digest(figures: Figures) -> tuple[str, Blocks]:
    totals = figures["totals"]
    blocks: Blocks = [
        _fields(
            f"*Deploys finished*\n{totals['deploys']}",
            f"*Succeeded*\n{totals['succeeded']}",
            f"*Failed*\n{totals['failed']}",
            f"*Cancelled*\n{totals['cancelled']}",
            f"*Rollbacks*\n{totals['rollbacks']}",
            f"*Break-glass overrides*\n{figures['overrides']}",
        )
    ]
    rows = sorted(figures["by_target"], key=lambda r: (-r["deploys"], r["service"]))
    if rows:
        lines = [
            f"{_target(r)}: {r['deploys']} · {r['succeeded']} ok · {r['failed']} failed"
            f" · {r['cancelled']} cancelled · {r['rollbacks']} rollbacks"
            for r in rows
        ]
        blocks.append(section("*By service and environment*\n" + _lines(lines)))
    else:
        blocks.append(section("No deploys finished in this window."))
    if figures["override_list"]:
        lines = []
        for o in figures["override_list"]:
            approvers = ", ".join(mention(a) for a in o["approvers"]) or "no approvals"
            lines.append(
                f"#{o['id']} {_target(o)} `{escape(o['version'])}` by {mention(o['requested_by'])}"
                f" ({o['state'].replace('_', ' ')}): _{escape(o['reason']) or 'no reason'}_"
                f" · approved by {approvers}"
            )
        text = _lines(lines, figures["overrides"])
        blocks.append(section(":rotating_light: *Break-glass overrides*\n" + text))
    if figures["slowest"]:
        lines = [
            f"#{s['id']} {_target(s)} `{escape(s['version'])}`: {duration(s['seconds'])}"
            for s in figures["slowest"]
        ]
        blocks.append(section("*Slowest deploys*\n" + "\n".join(lines)))
    text = (
        f"{totals['deploys']} deploys finished: {totals['succeeded']} succeeded, "
        f"{totals['failed']} failed, {totals['rollbacks']} rollbacks, "
        f"{figures['overrides']} break-glass"
    )
    return text, blocks


def _count(n: float) -> str:
    return f"{n:g}"


def _rate(failed: int, deploys: int) -> float | None:
    return None if deploys == 0 else failed / deploys * 100


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def dora(figures: Figures) -> tuple[str, Blocks]:
    production = figures["production"]
    if production is None:
        return "No environments are configured.", [section("No environments are configured.")]
    deploys, failed = figures["deploys"], figures["failed_deploys"]
    lead, restore = figures["lead_time_seconds"], figures["restore_seconds"]
    rate = _rate(failed["current"], deploys["current"])
    previous_rate = _rate(failed["previous"], deploys["previous"])
    days = max(len(figures["per_day_current"]), 1)
    frequency = (
        f"*Deployment frequency*\n{deploys['current']} deploys "
        f"({deploys['current'] / days:.1f}/day)\n"
        f"{trend(deploys['current'], deploys['previous'], fmt=_count)}"
    )
    lead_text = (
        f"*Lead time for changes*\nmedian {duration(lead['current'])}"
        f" ({figures['lead_time_samples']['current']} deploys with a commit time)\n"
        f"{trend(lead['current'], lead['previous'], fmt=duration)}"
    )
    failure = (
        f"*Change failure rate*\n"
        f"{_percent(rate) if rate is not None else NOT_AVAILABLE} "
        f"({failed['current']} of {deploys['current']})\n"
        f"{trend(rate, previous_rate, fmt=_percent)}"
    )
    restore_text = (
        f"*Time to restore*\nmedian {duration(restore['current'])}"
        f" ({figures['restored_incidents']['current']} incidents resolved)\n"
        f"{trend(restore['current'], restore['previous'], fmt=duration)}"
    )
    labels, counts = figures["per_day_labels"], figures["per_day_current"]
    per_day = " · ".join(f"{label} {n}" for label, n in zip(labels, counts, strict=True))
    blocks: Blocks = [
        context(
            f"Production is *{escape(production)}*. Compared with "
            f"{window_text(figures['previous_window'])}."
        ),
        _fields(frequency, lead_text, failure, restore_text),
        context(f"Deploys per day: {per_day}. The chart follows in the thread."),
    ]
    text = (
        f"{deploys['current']} production deploys, change failure rate "
        f"{_percent(rate) if rate is not None else NOT_AVAILABLE}, lead time "
        f"{duration(lead['current'])}, time to restore {duration(restore['current'])}"
    )
    return text, blocks


def _timing(title: str, timing: Mapping[str, Any]) -> str:
    return (
        f"*{title}*\nmedian {duration(timing['median_seconds'])}, mean "
        f"{duration(timing['mean_seconds'])} ({timing['count']} incidents)"
    )


def incident_summary(figures: Figures) -> tuple[str, Blocks]:
    severities = " · ".join(f"{name} {n}" for name, n in figures["by_severity"].items())
    blocks: Blocks = [
        _fields(
            f"*Incidents declared*\n{figures['declared']}",
            f"*By severity*\n{severities}",
            _timing("Time to acknowledge", figures["acknowledge"]),
            _timing("Time to resolve", figures["resolve"]),
        )
    ]
    lines = []
    for i in figures["open_incidents"]:
        name = f"<#{i['channel_id']}>" if i["channel_id"] else f"#{i['id']}"
        lines.append(
            f"*{i['severity']}* {name} {escape(i['title'])} · {i['status']}"
            f" · {escape(i['service'] or 'no service')} · open {duration(i['age_seconds'])}"
            f" · commander {mention(i['commander'])}"
        )
    private_open = int(figures.get("private_open") or 0)
    if private_open:
        lines.append(f":lock: {private_open} private incident{'' if private_open == 1 else 's'}")
    if lines:
        text = _lines(lines, figures["open_count"])
        blocks.append(
            section(f"*Open follow-ups ({figures['open_count']} open incidents)*\n" + text)
        )
    else:
        blocks.append(section("No incidents are open."))
    text = (
        f"{figures['declared']} incidents declared ({severities}); "
        f"{figures['open_count']} still open"
    )
    return text, blocks


def pending_approvals(figures: Figures) -> tuple[str, Blocks]:
    lines = []
    for p in figures["items"]:
        people = [mention(u) for u in p["waiting_users"]]
        people += [f"<!subteam^{g}>" for g in p["waiting_usergroups"]]
        waiting = (
            "anyone may approve"
            if p["anyone"]
            else "waiting on " + (" ".join(people) or "nobody left to ask")
        )
        lines.append(
            f"#{p['id']} {_target(p)} `{escape(p['version'])}` asked by "
            f"{mention(p['requested_by'])} {duration(p['age_seconds'])} ago · "
            f"{p['approvals']}/{p['required']} approvals · {waiting}"
        )
    if not lines:
        return "No deploys are waiting for approval.", [
            section("No deploys are waiting for approval.")
        ]
    text = f"{figures['count']} deploys are waiting for approval"
    return text, [section(_lines(lines, figures["count"]))]


def audit_checkpoint(figures: Figures) -> tuple[str, Blocks]:
    seq, digest = figures["head_seq"], figures["head_hash"]
    if figures["verified"]:
        verdict = ":white_check_mark: The whole chain verifies"
        if figures["previous_seq"] is not None:
            verdict += f", the previous checkpoint's entry {figures['previous_seq']} included"
        verdict += "."
    else:
        problem = escape(figures["problem"] or "")
        verdict = f":rotating_light: *The audit chain does not verify:* {problem}"
    anchored = [f"Anchored to `{escape(where)}`" for where in figures.get("anchored_to", [])]
    anchored += [
        f":warning: Not anchored: {escape(error)}" for error in figures.get("anchor_errors", [])
    ]
    blocks: Blocks = [
        _fields(f"*Entries*\n{figures['entries']}", f"*Head*\nentry {seq}"),
        section(f"*Head hash*\n`{digest}`"),
        section(verdict),
        *([section("\n".join(anchored))] if anchored else []),
        context(
            f"Keep this message: `shipbot audit verify --expect-head {seq}:{digest}` "
            "checks the chain against it."
        ),
    ]
    return f"Audit checkpoint: {figures['entries']} entries, head {seq} {digest}", blocks


RENDERERS: dict[str, Callable[[Figures], tuple[str, Blocks]]] = {
    "deploy_digest": deploy_digest,
    "dora": dora,
    "incident_summary": incident_summary,
    "pending_approvals": pending_approvals,
    "audit_checkpoint": audit_checkpoint,
}


def render_run(meta: Mapping[str, Any], figures: Figures) -> tuple[str, Blocks]:
    """A run's message. ``meta``: name, kind, trigger, requested_by, fire_time, timezone."""
    kind = meta["kind"]
    text, body = RENDERERS[kind](figures)
    title = f"{TITLES.get(kind, kind)}: {meta['name']}"
    about = (
        window_text(figures["window"])
        if "window" in figures
        else f"As of {local(meta['fire_time'], meta['timezone'])} ({meta['timezone']})"
    )
    if meta["trigger"] == "manual":
        about += f" · run by hand by {mention(meta['requested_by'])}"
    elif meta["trigger"] == "missed":
        about += " · posted late: this run was missed while shipbot was down"
    return f"{title}: {text}", [header(title), context(about), *body]


def render_list(listings: Sequence[Listing]) -> tuple[str, Blocks]:
    """`report list`: names, kinds, schedules, next and last runs."""
    if not listings:
        return "No reports are configured.", [section("No reports are configured.")]
    blocks: Blocks = [header("Reports")]
    lines = []
    for item in listings:
        upcoming = f"{item.next_run:%a %d %b %H:%M %Z}" if item.next_run else "never"
        last = (
            f"{item.last_run:%Y-%m-%d %H:%M} UTC ({item.last_trigger})"
            if item.last_run
            else "never"
        )
        line = (
            f"*{item.name}* ({item.kind}) → <#{item.channel}>\n`{item.cron}` {item.timezone}"
            f" · next: {upcoming} · last: {last} · missed: {item.missed}"
        )
        lines.append(line)
        blocks.append(section(line))
    blocks = blocks[:49]
    blocks.append(DIVIDER)
    blocks.append(context("`/shipbot report run <name>` posts one now."))
    return "\n".join(lines), blocks
