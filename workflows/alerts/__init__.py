"""Alert intake: webhooks from Alertmanager, Grafana, SNS (CloudWatch), PagerDuty and a
generic format, authenticated, parsed into ``NormalizedAlert``s, deduplicated, grouped
(service + alert name within ``alerts.group_window``), routed to a channel and shown as
one Slack message per group.

Modules: ``model`` (the normalized alert, refusals), ``auth`` (bearer, HMAC, PagerDuty
signatures), ``parsers`` and ``sns`` (per source), ``routing``, ``intake`` (storage, in
one transaction per request), ``groups`` (reads), ``receive`` (one request end to end).
User documentation: docs/alerts.md.
"""

from workflows.alerts.groups import GROUP_VIEW_PREFIX, get_group, group_state, group_view_key
from workflows.alerts.intake import DECLARE_JOB_KIND, IntakeResult, ingest
from workflows.alerts.model import (
    BadPayload,
    HookRejected,
    NormalizedAlert,
    Unauthorized,
    UnknownSource,
)
from workflows.alerts.receive import HookOutcome, receive

__all__ = [
    "DECLARE_JOB_KIND",
    "GROUP_VIEW_PREFIX",
    "BadPayload",
    "HookOutcome",
    "HookRejected",
    "IntakeResult",
    "NormalizedAlert",
    "Unauthorized",
    "UnknownSource",
    "get_group",
    "group_state",
    "group_view_key",
    "ingest",
    "receive",
]
