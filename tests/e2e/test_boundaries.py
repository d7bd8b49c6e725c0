"""The two boundaries end to end, through signed HTTP, on both databases: hostile input is
stored or refused with a reason (never an error id), user and alert text never notifies
anyone, and no secret reaches a Slack call, a log line or the postmortem file."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.sandbox.signing import view_submission_body
from commands.deploys.modals import REJECT_CALLBACK
from tests.e2e.conftest import RunningBot, wait_until
from tests.secret_corpus import SECRETS
from tests.workflows.alerts import samples
from workflows.deploys.models import Deploy
from workflows.incidents.models import Incident
from workflows.store.models import Job

BEARER = {"Authorization": f"Bearer {samples.DEV_TOKEN}", "Content-Type": "application/json"}
BROADCASTS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^S123>", "<@U0DAVE>")
ERROR_ID = re.compile(r"error id", re.IGNORECASE)


def _answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    text = response.json().get("text", "") if response.content else ""
    assert not ERROR_ID.search(text), text
    return text


def _alert(bot: RunningBot, *, labels: dict[str, str], summary: str) -> httpx.Response:
    alert = samples.am_alert(fingerprint=f"f{len(summary)}-{abs(hash(summary))}")
    alert["labels"].update(labels)
    alert["annotations"] = {"summary": summary}
    body = json.dumps(samples.alertmanager_payload(alert))
    return bot.http.post("/hooks/alertmanager", content=body, headers=BEARER)


def _settled(bot: RunningBot) -> bool:
    """No job due now is waiting or running (reminders due later may wait)."""
    now = bot.runtime.clock.now()
    with bot.runtime.database.read_session() as session:
        jobs = session.exec(select(Job).where(col(Job.state).in_(["pending", "running"]))).all()
    return not [job for job in jobs if job.state == "running" or _utc(job.run_after) <= now]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _incident(bot: RunningBot, title_part: str) -> Incident:
    with bot.runtime.database.read_session() as session:
        found = [i for i in session.exec(select(Incident)).all() if title_part in i.title]
    assert len(found) == 1, found
    return found[0]


# --- the input boundary ------------------------------------------------------------------


def test_nul_controls_and_lone_surrogates_are_cleaned_before_storing(
    running_bot: RunningBot,
) -> None:
    text = _answer(
        running_bot.command("declare SEV3 web Check\x00out\x07 broken\x1b", command="/incident")
    )
    assert "Declared SEV3 incident" in text
    incident = _incident(running_bot, "Checkout")
    assert incident.title == "Checkout broken"

    _answer(running_bot.command(f"note #{incident.id} cache\x00 flushed\x7f", command="/incident"))
    _answer(running_bot.command("lock staging tidy\x00ing up", command="/deploy"))

    alert = samples.am_alert(fingerprint="nul-1")
    alert["labels"]["team"] = "pay\x00ments"
    body = json.dumps(samples.alertmanager_payload(alert)).replace("pay", "\\ud800pay")
    response = running_bot.http.post("/hooks/alertmanager", content=body, headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.json()["firing"] == 1


@pytest.mark.parametrize(
    ("command", "text", "answer"),
    [
        ("/incident", "assign #999999999999999999999 commander <@U0BOB>", "no incident #9999"),
        ("/incident", "note #2147483648 hello", "no incident #2147483648"),
        ("/deploy", "cancel 99999999999999999999999", "99999999999999999999999"),
    ],
)
def test_numbers_out_of_range_name_nothing(
    running_bot: RunningBot, command: str, text: str, answer: str
) -> None:
    assert answer in _answer(running_bot.command(text, command=command))


def test_json_nested_too_deeply_is_a_400_with_a_reason(running_bot: RunningBot) -> None:
    deep = b'{"alerts": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = running_bot.http.post("/hooks/alertmanager", content=deep, headers=BEARER)
    assert response.status_code == 400
    assert "nests deeper than" in response.json()["error"]
    payload = "payload=" + "%5B" * 20_000 + "%5D" * 20_000
    response = running_bot.post_signed(payload.encode())
    assert response.status_code == 400
    assert "nests deeper than" in response.json()["error"]


def test_a_field_over_its_limit_gets_a_clear_answer(running_bot: RunningBot) -> None:
    text = _answer(running_bot.command("declare SEV3 web " + "x" * 5000, command="/incident"))
    assert "5,017 characters long; shipbot accepts at most 4,000" in text
    body = view_submission_body(
        user_id="U0BOB",
        callback_id=REJECT_CALLBACK,
        private_metadata="1:1.0.0",
        state_values={"reason": {"reason": {"type": "plain_text_input", "value": "y" * 3001}}},
    )
    answer = running_bot.post_signed(body).json()
    assert answer["response_action"] == "errors"
    assert "at most 3,000" in answer["errors"]["reason"]


# --- the output boundary: broadcasts -----------------------------------------------------


def _all_slack_text(slack: Any) -> str:
    bodies = [json.dumps(call.body, ensure_ascii=False) for call in slack.calls]
    bodies += [json.dumps(post.body, ensure_ascii=False) for post in slack.response_posts()]
    bodies += [(upload.content or b"").decode("utf-8", "replace") for upload in slack.files()]
    bodies += [upload.title for upload in slack.files()]
    return "\n".join(bodies)


def test_user_and_alert_text_never_notifies(running_bot: RunningBot, slack: Any) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    loud = " ".join(BROADCASTS)
    answers = [
        _answer(bot.command(f"declare SEV3 web Checkout {loud} broken", command="/incident")),
        _answer(bot.command(f"web 1.2.3 to production {loud}", command="/deploy")),
    ]
    assert _alert(bot, labels={"team": loud}, summary=f"disk full {loud}").status_code == 200
    incident = _incident(bot, "Checkout")
    wait_until(lambda: _incident(bot, "Checkout").channel_id is not None, what="a channel")
    _answer(bot.command(f"note #{incident.id} paging {loud}", command="/incident"))
    wait_until(lambda: _settled(bot), timeout=120, what="jobs to drain")

    sent = _all_slack_text(slack) + "\n".join(answers)
    for mention in BROADCASTS:
        where = [line[max(0, line.find(mention) - 200) :][:300] for line in sent.splitlines()]
        assert mention not in sent, [w for w in where if mention in w]
    # The text did arrive, escaped: the check above is not passing on an empty record.
    assert sent.count("&lt;!channel&gt;") >= 4
    assert slack.calls_to("conversations.setTopic")
    topic = slack.calls_to("conversations.setTopic")[-1].body["topic"]
    assert "&lt;!here&gt;" in topic


# --- the output boundary: secrets ---------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line the process writes while the test runs, formatted as a handler would."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def _reject(bot: RunningBot, deploy: Deploy, reason: str) -> None:
    body = view_submission_body(
        user_id="U0BOB",
        callback_id=REJECT_CALLBACK,
        private_metadata=f"{deploy.id}:{deploy.version}",
        state_values={"reason": {"reason": {"type": "plain_text_input", "value": reason}}},
    )
    response = bot.post_signed(body)
    assert response.status_code == 200 and not ERROR_ID.search(response.text), response.text


def _latest_deploy(bot: RunningBot) -> Deploy:
    with bot.runtime.database.read_session() as session:
        deploys = session.exec(select(Deploy)).all()
    return max(deploys, key=lambda deploy: deploy.id or 0)


@pytest.mark.timeout(900)  # 130 requests whose messages Slack's pace spreads over ~30 s
def test_no_secret_leaves_through_any_surface(
    running_bot: RunningBot, slack: Any, log_lines: list[str]
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    _answer(bot.command("declare SEV3 web Notes for the corpus", command="/incident"))
    notes = _incident(bot, "Notes for the corpus")
    for index, secret in enumerate(SECRETS):
        one_line = secret.sentence.replace("\n", " ")
        _answer(bot.command(f"declare SEV4 web t{index} {one_line}", command="/incident"))
        _answer(bot.command(f"note #{notes.id} {secret.sentence}", command="/incident"))
        _answer(bot.command(f"web 1.0.{index} to production {one_line}", command="/deploy"))
        _reject(bot, _latest_deploy(bot), f"no: {secret.sentence}")
        response = _alert(bot, labels={"team": f"t{index}"}, summary=secret.sentence)
        assert response.status_code == 200, response.text
    wait_until(lambda: _settled(bot), timeout=400, what="jobs to drain")
    _answer(bot.command(f"resolve #{notes.id} done with {SECRETS[0].raw}", command="/incident"))
    wait_until(lambda: slack.files(), timeout=120, what="the postmortem upload")
    wait_until(lambda: _settled(bot), timeout=120, what="jobs to drain")

    sent, logged = _all_slack_text(slack), "\n".join(log_lines)
    for secret in SECRETS:
        assert secret.raw not in sent, f"{secret.name} reached Slack"
        assert secret.raw not in logged, f"{secret.name} reached a log line"
    (postmortem,) = slack.files()
    content = (postmortem.content or b"").decode()
    assert content.count("[redacted]") >= len(SECRETS)  # the notes are in it, redacted
    assert sent.count("[redacted]") >= 4 * len(SECRETS)
