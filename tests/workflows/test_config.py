"""Config as code: the example file, error messages by path, interpolation, the JSON Schema."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from workflows.config import (
    CommandBackend,
    ConfigValidationError,
    ShipbotConfig,
    config_json_schema,
    load_config,
    parse_config,
    parse_duration,
)
from workflows.errors import ConfigError, NotFound

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples/shipbot.yaml"

MINIMAL = """
channels: {deploys: C0DEPLOYS}
groups: {sre: {users: [U0BOB]}}
environments:
  staging: {order: 1}
  production: {order: 2}
services:
  web:
    deploy: {backend: command, argv: [sh, deploy.sh]}
"""


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    """The error lines of an invalid config."""
    with pytest.raises(ConfigError) as raised:
        parse_config(text, environ=environ or {})
    return str(raised.value).splitlines()


def with_section(extra: str) -> str:
    return MINIMAL + extra


# --- the example ---------------------------------------------------------------------


def test_example_loads_with_its_content() -> None:
    config = load_config(EXAMPLE, environ={})

    assert config.channels["deploys"] == "C0DEPLOYS"
    assert config.channel_id("approvals") == "C0APPROVE"
    assert config.channel_id("incidents") == "C0INCIDNT"
    assert config.groups["sre"].users == ["U0BOB", "U0CAROL", "U0ERIN"]
    assert config.groups["developers"].users == ["U0ALICE"]
    assert config.user_name("U0DAVE") == "dave"
    assert not any("U0DAVE" in group.users for group in config.groups.values())

    staging, production = config.environments["staging"], config.environments["production"]
    assert (staging.order, staging.deployers, staging.approval.required) == (1, [], 0)
    assert production.order == 2
    assert production.approval.required == 2
    assert production.approval.from_groups == ["sre"]
    assert production.approval.allow_self_approval is False
    assert production.approval.ttl == timedelta(hours=4)
    assert production.requires_success_in is None
    assert production.freeze_windows == []
    assert production.break_glass.groups == ["sre"]
    assert config.ordered_environments() == ["staging", "production"]

    web = config.services["web"]
    assert web.team == "platform"
    assert isinstance(web.deploy, CommandBackend)
    assert web.deploy.argv == ["sh", "rollout.sh"]
    assert web.deploy.cwd == str(EXAMPLE.resolve().parent)  # the config file's folder
    assert config.environments_for("web") == ["staging", "production"]
    assert config.channel_id(web.alerts_channel or "") == "C0ALERTS"

    assert config.incidents.severity("SEV1").responders == ["sre"]
    assert config.incidents.severity("SEV2").responders == ["sre"]
    assert config.incidents.severity("SEV4").update_every == timedelta(days=1)
    assert config.principals(config.incidents.severity("SEV1").responders).users == {
        "U0BOB",
        "U0CAROL",
        "U0ERIN",
    }

    source = config.alerts.sources.alertmanager
    assert source is not None and source.auth == "bearer"
    assert source.token is not None and source.token.get_secret_value() == "dev-alerts-token"
    assert config.alerts.routes[0].match == {"service": "web"}
    assert config.channel_id(config.alerts.routes[0].channel) == "C0ALERTS"
    assert config.channel_id(config.alerts.default_channel or "") == "C0INCIDNT"

    kinds = {report.kind for report in config.reports}
    assert kinds == {"deploy_digest", "dora", "audit_checkpoint"}
    assert {report.timezone for report in config.reports} == {"Europe/Berlin"}
    digest = next(report for report in config.reports if report.kind == "deploy_digest")
    # 09:00 in Berlin is 08:00 UTC in winter: the trigger carries the report's time zone.
    after = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert digest.trigger().get_next_fire_time(None, after) == datetime(
        2026, 1, 5, 8, 0, tzinfo=UTC
    )


def test_example_token_comes_from_the_environment() -> None:
    config = load_config(EXAMPLE, environ={"SHIPBOT_ALERTMANAGER_TOKEN": "from-env"})
    token = config.alerts.sources.alertmanager.token  # type: ignore[union-attr]
    assert token is not None and token.get_secret_value() == "from-env"


@pytest.mark.parametrize(("version", "code"), [("1.2.3", 0), ("0.0.0-fail", 1)])
def test_example_rollout_script(version: str, code: int) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "SHIPBOT_SERVICE": "web",
        "SHIPBOT_VERSION": version,
        "SHIPBOT_ENV": "staging",
        "SHIPBOT_ROLLOUT_SECONDS": "0",
    }
    result = subprocess.run(
        ["sh", "rollout.sh"],
        cwd=REPO / "examples",
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == code
    assert "rolling out web " + version + " to staging" in result.stdout
    assert (REPO / "examples/rollout.sh").stat().st_mode & 0o111


# --- errors name their path ----------------------------------------------------------


def test_unknown_backend_message_is_exact() -> None:
    text = with_section("").replace("backend: command, argv: [sh, deploy.sh]", "backend: ecss")
    assert problems(text) == [
        "services.web.deploy.backend: unknown backend 'ecss' (expected one of: argo_rollouts, "
        "argocd, aws_codedeploy, aws_codepipeline, aws_ecs, aws_lambda, command, "
        "github_actions, kubernetes, webhook)"
    ]


def test_errors_inside_a_backend_name_the_path_without_the_union_tag() -> None:
    text = MINIMAL.replace("argv: [sh, deploy.sh]", "argv: [sh], timeout: soon")
    assert problems(text) == [
        "services.web.deploy.timeout: invalid duration 'soon' "
        "(expected e.g. '90s', '15m', '4h', '2d' or '1h30m')"
    ]


def test_unknown_key_suggests_the_close_one() -> None:
    text = MINIMAL.replace("argv: [sh, deploy.sh]", "argvv: [sh], argv: [sh]")
    assert problems(text) == ["services.web.deploy.argvv: unknown key (did you mean 'argv'?)"]


def test_unknown_top_level_key_lists_the_known_ones_when_nothing_is_close() -> None:
    (line,) = problems(with_section("zzz: 1\n"))
    assert line.startswith("zzz: unknown key (expected one of: alerts, audit, channels, ")


def test_argv_as_shell_string_is_rejected() -> None:
    text = MINIMAL.replace("argv: [sh, deploy.sh]", 'argv: "sh deploy.sh"')
    (line,) = problems(text)
    assert line.startswith("services.web.deploy.argv: argv must be a list of arguments")


def test_missing_required_field() -> None:
    (line,) = problems(with_section("reports:\n  - {name: r, kind: dora, channel: deploys}\n"))
    assert line == "reports.0.cron: required but missing"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "reports:\n  - {name: r, kind: dora, cron: '0 9 * *', channel: deploys}\n",
            "reports.0.cron: invalid cron expression '0 9 * *': expected 5 fields",
        ),
        (
            "reports:\n  - {name: r, kind: dora, cron: '61 9 * * *', channel: deploys}\n",
            "reports.0.cron: invalid cron expression '61 9 * * *': ",
        ),
        (
            "reports:\n  - {name: r, kind: dora, cron: '0 9 1 * 1', channel: deploys}\n",
            "reports.0.cron: invalid cron expression '0 9 1 * 1': cron runs it on day 1 of "
            "the month OR on 1; write two entries",
        ),
        (
            "reports:\n  - {name: r, kind: dora, cron: '0 9 * * *', channel: deploys,"
            " timezone: Europe/Berln}\n",
            "reports.0.timezone: unknown timezone 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
        ),
        (
            "reports:\n  - {name: r, kind: dora, cron: '0 9 * * *', channel: deploys,"
            " missed: never}\n",
            "reports.0.missed: expected 'skip' or 'run_once', got 'never'",
        ),
        (
            "incidents:\n  severities: {SEV2: {update_every: 10x}}\n",
            "incidents.severities.SEV2.update_every: invalid duration '10x'",
        ),
        (
            "alerts:\n  sources: {grafana: {auth: hmac}}\n",
            "alerts.sources.grafana: auth 'hmac' needs a secret (or secrets)",
        ),
    ],
)
def test_invalid_values_name_their_path(snippet: str, expected: str) -> None:
    (line,) = problems(with_section(snippet))
    assert line.startswith(expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("[U0BOB]", "[bob]", "groups.sre.users.0: 'bob' is not a Slack user id"),
        ("C0DEPLOYS}", "'#deploys'}", "channels.deploys: '#deploys' is not a Slack channel id"),
        ("staging:", "'stag ing':", "environments.stag ing: invalid key 'stag ing': "),
    ],
)
def test_invalid_ids_and_names_name_their_path(old: str, new: str, expected: str) -> None:
    (line,) = problems(MINIMAL.replace(old, new, 1))
    assert line.startswith(expected)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "  canary: {order: 3, deployers: [ops]}\n",
            "environments.canary.deployers.0: unknown group 'ops', and not a user id",
        ),
        (
            "  canary: {order: 3, approval: {required: 1, from_groups: [sr]}}\n",
            "environments.canary.approval.from_groups.0: unknown group 'sr' (did you mean 'sre'?)",
        ),
        (
            "  canary: {order: 3, break_glass: {groups: [admins]}}\n",
            "environments.canary.break_glass.groups.0: unknown group 'admins'",
        ),
        (
            "  canary: {order: 3, requires_success_in: stagin}\n",
            "environments.canary.requires_success_in: unknown environment 'stagin' "
            "(did you mean 'staging'?)",
        ),
        (
            "  canary: {order: 3, requires_success_in: canary}\n",
            "environments.canary.requires_success_in: an environment cannot require itself",
        ),
        (
            "  canary: {order: 2}\n",
            "environments.canary.order: order 2 is also used by environment 'production'",
        ),
    ],
)
def test_dangling_environment_references_name_their_path(snippet: str, expected: str) -> None:
    text = MINIMAL.replace("  production: {order: 2}\n", "  production: {order: 2}\n" + snippet)
    (line,) = problems(text)
    assert line.startswith(expected)


def test_dangling_service_incident_alert_and_report_references() -> None:
    text = MINIMAL.replace("web:\n", "web:\n    alerts_channel: alertz\n    environments: [qa]\n")
    text += (
        "incidents:\n  announce_channel: nowhere\n"
        "  severities: {SEV1: {responders: [oncall, U0CAROL]}}\n"
        "alerts:\n  default_channel: C0RAWID\n  routes:\n    - {match: {a: b}, channel: nope}\n"
        "reports:\n  - {name: r, kind: dora, cron: '0 9 * * *', channel: deploy}\n"
    )
    lines = problems(text)
    assert [line.split(":")[0] for line in lines] == [
        "services.web.alerts_channel",
        "services.web.environments.0",
        "incidents.announce_channel",
        "incidents.severities.SEV1.responders.0",
        "alerts.routes.0.channel",
        "reports.0.channel",
    ]
    assert lines[-1] == (
        "reports.0.channel: unknown channel 'deploy': not in channels and not a channel id "
        "(did you mean 'deploys'?)"
    )


def test_freeze_window() -> None:
    window = "{cron: '0 18 * * FRI', duration: 62h, timezone: Europe/Berlin, reason: weekend}"
    text = MINIMAL.replace("{order: 2}", "{order: 2, freeze_windows: [" + window + "]}")
    (freeze,) = parse_config(text, environ={}).environments["production"].freeze_windows
    assert (freeze.duration, freeze.reason) == (timedelta(hours=62), "weekend")
    friday = datetime(2026, 1, 9, 12, 0, tzinfo=UTC)
    assert freeze.trigger().get_next_fire_time(None, friday) == datetime(
        2026, 1, 9, 17, 0, tzinfo=UTC
    )


def test_report_names_are_unique() -> None:
    report = "  - {name: daily, kind: dora, cron: '0 9 * * *', channel: deploys}\n"
    assert problems(with_section("reports:\n" + report + report)) == [
        "reports: report name 'daily' is used twice"
    ]


def test_several_problems_are_one_line_each() -> None:
    text = MINIMAL.replace("{order: 1}", "{order: first, colour: red}")
    assert problems(text) == [
        "environments.staging.order: expected an integer, got a string",
        "environments.staging.colour: unknown key (expected one of: approval, break_glass, "
        "deployers, freeze_windows, locks, order, requires_success_in)",
    ]


def test_yaml_syntax_error_gives_line_and_column() -> None:
    (line,) = problems("channels:\n  deploys: [C0DEPLOYS\n")
    assert line.startswith("<string>:3:1: invalid YAML: ")


def test_duplicate_yaml_key_is_an_error() -> None:
    (line,) = problems("services: {}\nservices: {}\n")
    assert line == "<string>:2:1: invalid YAML: duplicate key 'services' (first given on line 1)"


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n") == ["<root>: expected a mapping, got a list"]


def test_missing_file_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "shipbot.yaml"
    with pytest.raises(ConfigValidationError) as raised:
        load_config(missing)
    assert str(raised.value) == (
        f"{missing}: config file not found (set SHIPBOT_CONFIG or pass the path)"
    )
    assert raised.value.problems == [
        (str(missing), "config file not found (set SHIPBOT_CONFIG or pass the path)")
    ]


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "shipbot.yaml"
    path.write_text("# nothing yet\n")
    config = load_config(path)
    assert config.services == {}
    assert config.incidents.block_deploys_severities == ["SEV1", "SEV2"]
    assert config.announce_channel_id() is None


def test_incidents_are_announced_in_the_incidents_channel_by_default() -> None:
    config = parse_config(MINIMAL.replace("{deploys: C0DEPLOYS}", "{incidents: C0INC}"), environ={})
    assert config.announce_channel_id() == "C0INC"
    assert load_config(EXAMPLE, environ={}).announce_channel_id() == "C0INCIDNT"


# --- interpolation -------------------------------------------------------------------

SOURCE = "alerts:\n  sources:\n    alertmanager: {auth: bearer, token: '%s'}\n"


def _token(text: str, environ: dict[str, str]) -> str:
    config = parse_config(with_section(SOURCE % text), environ=environ)
    token = config.alerts.sources.alertmanager.token  # type: ignore[union-attr]
    assert token is not None
    return token.get_secret_value()


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("${TOKEN}", {"TOKEN": "set"}, "set"),
        ("${TOKEN:-fallback}", {}, "fallback"),
        ("${TOKEN:-fallback}", {"TOKEN": ""}, "fallback"),
        ("${TOKEN:-fallback}", {"TOKEN": "set"}, "set"),
        ("${TOKEN:-}", {}, ""),
        ("pre-${A}-${B:-b}-post", {"A": "a"}, "pre-a-b-post"),
        ("$${TOKEN}", {"TOKEN": "set"}, "${TOKEN}"),
        ("cost $5", {}, "cost $5"),
    ],
)
def test_interpolation(text: str, environ: dict[str, str], expected: str) -> None:
    assert _token(text, environ) == expected


def test_unset_variable_names_the_path() -> None:
    text = with_section(SOURCE % "${SHIPBOT_ALERTMANAGER_TOKEN}")
    assert problems(text) == [
        "alerts.sources.alertmanager.token: environment variable "
        "SHIPBOT_ALERTMANAGER_TOKEN is not set"
    ]


def test_malformed_interpolation_is_an_error() -> None:
    (line,) = problems(with_section(SOURCE % "${not valid}"))
    assert line.startswith(
        "alerts.sources.alertmanager.token: invalid interpolation '${not valid}'"
    )


def test_interpolated_numbers_are_validated_after_substitution() -> None:
    text = MINIMAL.replace("{order: 2}", "{order: 2, approval: {required: '${N:-2}'}}")
    assert parse_config(text, environ={}).environments["production"].approval.required == 2
    assert parse_config(text, environ={"N": "3"}).environments["production"].approval.required == 3
    assert problems(text, {"N": "two"}) == [
        "environments.production.approval.required: expected an integer, got a string"
    ]


def test_interpolation_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPBOT_TEST_TOKEN", "from-os")
    config = parse_config(with_section(SOURCE % "${SHIPBOT_TEST_TOKEN}"))
    assert config.alerts.sources.alertmanager.token.get_secret_value() == "from-os"  # type: ignore[union-attr]


# --- secrets, helpers, durations ------------------------------------------------------


def test_secrets_never_print() -> None:
    text = with_section(SOURCE % "s3cr3t-token").replace(
        "backend: command, argv: [sh, deploy.sh]",
        "backend: webhook, url: 'https://deploy.example/hook', secret: hmac-s3cr3t",
    )
    config = parse_config(text, environ={})
    for rendering in (repr(config), str(config), config.model_dump_json()):
        assert "s3cr3t" not in rendering
    assert config.services["web"].deploy.secret.get_secret_value() == "hmac-s3cr3t"  # type: ignore[union-attr]


def test_channel_id_accepts_names_and_raw_ids_only() -> None:
    config = parse_config(MINIMAL, environ={})
    assert config.channel_id("deploys") == "C0DEPLOYS"
    assert config.channel_id("G0PRIVATE") == "G0PRIVATE"
    with pytest.raises(NotFound, match="unknown channel 'random'"):
        config.channel_id("random")


def test_service_environment_subset_in_promotion_order() -> None:
    text = MINIMAL.replace("web:\n", "web:\n    environments: [production]\n")
    assert parse_config(text, environ={}).environments_for("web") == ["production"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "1.5h", "30m1h", "h", "10 m", "-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_durations_dump_as_written() -> None:
    config = parse_config(MINIMAL, environ={})
    dumped = config.model_dump(mode="json")
    assert dumped["environments"]["production"]["approval"]["ttl"] == "4h"
    assert ShipbotConfig.model_validate(dumped) == config


# --- JSON Schema ---------------------------------------------------------------------


def test_json_schema_structure() -> None:
    schema = config_json_schema()
    json.dumps(schema)  # serialisable as is
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["services"]["additionalProperties"] == {"$ref": "#/$defs/Service"}
    deploy = schema["$defs"]["Service"]["properties"]["deploy"]
    assert deploy["discriminator"]["propertyName"] == "backend"
    assert len(deploy["oneOf"]) == 10
    assert schema["$defs"]["Approval"]["properties"]["ttl"]["default"] == "4h"
    assert schema["additionalProperties"] is False


def test_example_validates_against_the_schema_before_interpolation() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    # The raw file, `${...}` forms and all: that is what an editor checks.
    validator.validate(yaml.safe_load(EXAMPLE.read_text()))
    # Numbers and booleans may be `${...}` too; anything else that is not a number may not.
    raw = yaml.safe_load(MINIMAL)
    raw["environments"]["production"]["approval"] = {"required": "${N:-2}"}
    validator.validate(raw)
    raw["environments"]["production"]["approval"] = {"required": "two"}
    assert not validator.is_valid(raw)
    raw["environments"]["production"]["approval"] = {"requird": 2}
    assert not validator.is_valid(raw)


def test_secret_values_finds_every_secret_for_redaction() -> None:
    from workflows.config import secret_values

    config = load_config(EXAMPLE, environ={"SHIPBOT_ALERTMANAGER_TOKEN": "am-token-from-env"})
    assert "am-token-from-env" in secret_values(config)
