"""Block Kit of an alert group's message: a pure function of the stored group.

The message is updated in place as alerts arrive, so it shows counts, not a list: a storm
of ten thousand alerts is still one short message.
"""

from __future__ import annotations

import re
from typing import Any

from commands.common.reply import context, escape, header, section
from workflows.alerts.groups import active_count, group_state
from workflows.alerts.models import AlertGroup

_STATE_HEADER = {
    "firing": ":rotating_light: FIRING",
    "acknowledged": ":eyes: ACKNOWLEDGED",
    "resolved": ":white_check_mark: RESOLVED",
}
_MAX_LABELS = 12
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")
_SOURCE_NAMES = {
    "alertmanager": "Alertmanager",
    "grafana": "Grafana",
    "sns": "CloudWatch (SNS)",
    "pagerduty": "PagerDuty",
    "generic": "webhook",
}


def _code(text: str) -> str:
    return "`" + escape(text).replace("`", "'") + "`"


def _labels_line(labels: dict[str, str]) -> str:
    shown = sorted(labels.items())[:_MAX_LABELS]
    parts = [_code(f"{name}={value[:80]}") for name, value in shown]
    more = len(labels) - len(shown)
    return " ".join(parts) + (f" +{more} more" if more > 0 else "")


def _date(group: AlertGroup) -> str:
    epoch = int(group.opened_at.timestamp())
    fallback = group.opened_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def render_alert_group(group: AlertGroup) -> tuple[str, list[dict[str, Any]]]:
    """``(text, blocks)`` of the group's message: state, alert name, service, counts,
    summary, labels and where it came from."""
    state = group_state(group)
    name = group.alertname
    title = f"{_STATE_HEADER[state]}: {name}"
    counts = f"{group.firing} firing · {group.resolved} resolved"
    if group.acknowledged:
        counts += f" · {group.acknowledged} acknowledged"
    text = f"{state.upper()}: {escape(name)} on {escape(group.service)} ({counts})"
    fields = [
        {"type": "mrkdwn", "text": f"*Service*\n{escape(group.service)}"},
        {"type": "mrkdwn", "text": f"*Still firing*\n{active_count(group)}"},
        {"type": "mrkdwn", "text": f"*Alerts*\n{counts}"},
        {"type": "mrkdwn", "text": f"*Source*\n{_SOURCE_NAMES.get(group.source, group.source)}"},
    ]
    blocks: list[dict[str, Any]] = [
        header(title),
        {"type": "section", "fields": fields},
    ]
    if group.summary:
        blocks.append(section(escape(group.summary)[:2900]))
    if group.labels:
        blocks.append(context(_labels_line(group.labels)[:2900]))
    footer = f"Opened {_date(group)} · group {_code(group.group_key[:200])}"
    if group.url and _SAFE_URL.match(group.url):
        footer += f" · <{group.url}|source>"
    if group.incident_id is not None:
        footer += f" · in incident #{group.incident_id}"
    blocks.append(context(footer))
    return text, blocks
