"""The ``oncall`` section's validation errors, each named by its path in the file, and
its secrets kept out of dumps."""

from __future__ import annotations

import pytest

from workflows.config import ConfigValidationError, parse_config

BASE = """
services:
  web: {deploy: {backend: command, argv: ["true"]}}
"""


def problems(text: str, **environ: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigValidationError) as refused:
        parse_config(BASE + text, environ=environ)
    return refused.value.problems


def test_field_errors_name_their_paths() -> None:
    found = problems(
        """
oncall:
  schedules:
    a: {provider: pagerdooty}
    b: {provider: pagerduty, schedule_id: xx}
    c: {provider: pagerduty, schedule_id: PABC123, escalation_policy_id: PDEF456}
    d: {provider: static, users: [U0BOB, bob], handoff: "9am", length: 12h, start: 2026-01-05}
    e: {provider: opsgenie}
    f: {provider: static, users: [], start: 2026-01-05, timezone: Europe/Berln}
"""
    )
    assert dict(found) == {
        "oncall.schedules.a.provider": "unknown provider 'pagerdooty' "
        "(expected one of: opsgenie, pagerduty, static)",
        "oncall.schedules.b.schedule_id": "'xx' is not a PagerDuty id (like 'PWEB123')",
        "oncall.schedules.c": "give exactly one of schedule_id and escalation_policy_id",
        "oncall.schedules.d.users.1": "'bob' is not a Slack user id (like 'U0ALICE')",
        "oncall.schedules.d.handoff": "expected a time as HH:MM, got '9am'",
        "oncall.schedules.d.length": "a rotation lasts whole days ('1d', '7d'): handoffs "
        "keep their local time across daylight-saving changes",
        "oncall.schedules.e.schedule_id": "required but missing",
        "oncall.schedules.f.users": "list should have at least 1 item after validation, not 0",
        "oncall.schedules.f.timezone": "unknown timezone 'Europe/Berln' "
        "(did you mean 'Europe/Berlin'?)",
    }


def test_references_name_their_paths() -> None:
    found = problems(
        """
oncall:
  schedules:
    web-primary: {provider: pagerduty, schedule_id: PWEB123}
    db: {provider: opsgenie, schedule_id: abc}
  services: {web: web-primry, api: db}
incidents:
  severities:
    SEV1: {oncall: [web-primary, dbb]}
"""
    )
    assert found == [
        (
            "oncall.schedules.web-primary.provider",
            "pagerduty is not configured (add oncall.pagerduty)",
        ),
        ("oncall.schedules.db.provider", "opsgenie is not configured (add oncall.opsgenie)"),
        ("oncall.services.web", "unknown schedule 'web-primry' (did you mean 'web-primary'?)"),
        ("oncall.services.api", "unknown service 'api' (known: web)"),
        (
            "incidents.severities.SEV1.oncall.1",
            "unknown on-call schedule 'dbb' (did you mean 'db'?)",
        ),
    ]


def test_secrets_come_from_the_environment_and_stay_hidden() -> None:
    config = parse_config(
        BASE
        + """
oncall:
  pagerduty: {token: "${PD_TOKEN}"}
  opsgenie: {api_key: "${GENIE_KEY}"}
  schedules:
    web-primary: {provider: pagerduty, schedule_id: PWEB123, routing_key: "${PD_KEY}"}
  services: {web: web-primary}
""",
        environ={"PD_TOKEN": "pd-token-secret-1", "GENIE_KEY": "genie-secret-2", "PD_KEY": "rk-3"},
    )
    dumped = config.model_dump_json()
    for secret in ("pd-token-secret-1", "genie-secret-2", "rk-3"):
        assert secret not in dumped and secret not in repr(config)
    assert config.oncall.pagerduty is not None and config.oncall.pagerduty.token is not None
    assert config.oncall.pagerduty.token.get_secret_value() == "pd-token-secret-1"
    unset = problems("oncall:\n  opsgenie: {api_key: '${GENIE_KEY}'}\n")
    assert unset == [("oncall.opsgenie.api_key", "environment variable GENIE_KEY is not set")]
