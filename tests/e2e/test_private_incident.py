"""A private incident through signed HTTP, on both databases: a private channel with only
its members, no announcement, left out of lists and reports for everyone else (counted
as "1 private incident"), visible to its members, the incident managers, and whoever a
member invites."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.sandbox.shortcut_bodies import home_opened_body
from bot.sandbox.signing import event_callback_body, view_submission_body
from bot.sandbox.slack.methods.home import published_home
from commands.reports.views import render_run
from tests.e2e.conftest import RunningBot, wait_until
from workflows.incidents.models import Incident, IncidentMember
from workflows.reports.runner import compute_figures
from workflows.store.models import Job

ANNOUNCE = "C0INCIDNT"
WAIT = 15.0
ALICE, CAROL, DAVE, ERIN = "U0ALICE", "U0CAROL", "U0DAVE", "U0ERIN"  # erin: a manager


def _incident(bot: RunningBot, title: str) -> Incident | None:
    with bot.runtime.database.read_session() as session:
        return session.exec(select(Incident).where(col(Incident.title) == title)).first()


def _ready(bot: RunningBot, title: str) -> Incident:
    wait_until(lambda: bool((_incident(bot, title) or Incident()).channel_id), what=title)
    found = _incident(bot, title)
    assert found is not None
    return found


def _due_jobs_done(bot: RunningBot) -> bool:
    """Nothing due is left (reminders wait hours ahead: not due)."""
    with bot.runtime.database.read_session() as session:
        query = select(Job).where(
            col(Job.state).in_(["pending", "running"]),
            col(Job.run_after) <= bot.runtime.clock.now(),
        )
        return session.exec(query).first() is None


def _listed(bot: RunningBot, user: str) -> str:
    answer = bot.command("list", command="/incident", user=user)
    assert answer.status_code == 200
    return str(answer.json())


def _report(bot: RunningBot) -> str:
    config = bot.runtime.deps.config
    assert config is not None
    with bot.runtime.database.read_session() as session:
        fire = bot.runtime.clock.now() + timedelta(minutes=1)
        figures = compute_figures(
            session=session,
            config=config,
            kind="incident_summary",
            report_name="weekly-incidents",
            fire_time=fire,
            timezone="UTC",
            params={},
        )
    meta = {"name": "weekly-incidents", "kind": "incident_summary", "trigger": "manual",
            "requested_by": ERIN, "fire_time": fire.isoformat(), "timezone": "UTC"}  # fmt: skip
    text, blocks = render_run(meta, figures)
    return text + str(blocks)


def test_a_private_incident_is_seen_only_by_its_members(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    answer = bot.command(
        "declare --private SEV3 web Leaked signing key", command="/incident", user=ALICE
    )
    assert "Declared SEV3 incident #1" in answer.json()["text"]
    bot.command("declare SEV3 web Slow search", command="/incident", user=CAROL)
    secret, public = _ready(bot, "Leaked signing key"), _ready(bot, "Slow search")
    assert secret.private and not public.private
    channel = slack.state.channel(secret.channel_id)
    assert channel is not None and channel.is_private
    slack.wait_for(lambda: ALICE in slack.state.channel(secret.channel_id).members, WAIT)
    assert CAROL not in channel.members and DAVE not in channel.members
    (create,) = [
        c
        for c in slack.calls_to("conversations.create")
        if str(c.body.get("is_private")).lower() in ("1", "true")
    ]
    assert create.body["name"] == secret.channel_name

    # Announcements: the public incident's only.
    slack.wait_for(
        lambda: [m for m in slack.messages(ANNOUNCE) if "Slow search" in m["text"]], WAIT
    )
    wait_until(lambda: _due_jobs_done(bot), what="the due jobs")
    announced = str(slack.messages(ANNOUNCE))
    assert "Leaked" not in announced and str(secret.channel_id) not in announced

    # Lists: a non-member sees a count; the declarer and a manager see it.
    for outsider in (CAROL, DAVE):
        listed = _listed(bot, outsider)
        assert "Slow search" in listed and "Leaked" not in listed
        assert "1 private incident" in listed
    for insider in (ALICE, ERIN):
        assert "Leaked signing key" in _listed(bot, insider)
    # Naming it does not help an outsider, nor does its number exist for them.
    refused = bot.command(f"timeline #{secret.id}", command="/incident", user=DAVE).json()
    assert "Leaked" not in str(refused) and f"there is no incident #{secret.id}" in str(refused)

    # Reports: counted, never listed.
    report = _report(bot)
    assert "Slow search" in report and "Leaked" not in report
    assert "1 private incident" in report

    # A member invites dave: he joins the channel and sees it; carol still does not.
    invited = bot.command(
        f"invite <@{DAVE}>", command="/incident", user=ALICE, channel=secret.channel_id
    )
    assert "inviting" in invited.json()["text"]
    slack.wait_for(lambda: DAVE in slack.state.channel(secret.channel_id).members, WAIT)
    assert "Leaked signing key" in _listed(bot, DAVE)
    assert "Leaked" not in _listed(bot, CAROL)
    timeline = bot.command(f"timeline #{secret.id}", command="/incident", user=DAVE).json()
    assert "Timeline of incident" in str(timeline)
    wait_until(lambda: _due_jobs_done(bot), what="the due jobs")
    assert "Leaked" not in str(slack.messages(ANNOUNCE))

    # App Home: carol's lists the public incident only; alice's lists both.
    homes = {user: _open_home(bot, slack, user) for user in (CAROL, ALICE)}
    assert "Slow search" in homes[CAROL] and "Leaked" not in homes[CAROL]
    assert "Leaked signing key" in homes[ALICE]

    # Carol joins the channel in Slack directly (Slack sends member_joined_channel, twice
    # here: a redelivery): from then on she is a member and sees it.
    joined = {
        "type": "member_joined_channel",
        "user": CAROL,
        "channel": secret.channel_id,
        "channel_type": "G",
        "event_ts": "1767225600.000200",
    }
    for _ in range(2):
        body = event_callback_body(event=joined, event_id="Ev0JOINED")
        assert bot.post_signed(body, content_type="application/json")
    wait_until(lambda: "Leaked signing key" in _listed(bot, CAROL), what="carol a member")
    with bot.runtime.database.read_session() as session:
        rows = session.exec(
            select(IncidentMember).where(col(IncidentMember.incident_id) == secret.id)
        ).all()
    assert sorted(r.user_id for r in rows).count(CAROL) == 1


def _open_home(bot: RunningBot, slack: Any, user: str) -> str:
    """``user`` opens the App Home; the text of the Home published for them."""
    before = str(published_home(slack.state, user))
    assert bot.post_signed(home_opened_body(user_id=user), content_type="application/json")
    slack.wait_for(
        lambda: (home := published_home(slack.state, user)) and str(home) != before, WAIT
    )
    return str(published_home(slack.state, user))


def test_the_declare_form_checkbox_declares_a_private_incident(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    opened = bot.command("declare --private", command="/incident", user=ALICE)
    assert opened.status_code == 200
    (form,) = slack.wait_for(
        lambda: [v for v in slack.views() if v["callback_id"] == "incident.declare"], WAIT
    )
    checkbox = next(b for b in form["blocks"] if b.get("block_id") == "private")
    assert checkbox["element"]["initial_options"][0]["value"] == "private"
    submission = view_submission_body(
        user_id=ALICE,
        callback_id="incident.declare",
        private_metadata=form["private_metadata"],
        state_values={
            "title": {"title": {"type": "plain_text_input", "value": "Payroll export"}},
            "severity": {
                "severity": {"type": "static_select", "selected_option": {"value": "SEV3"}}
            },
            "private": {
                "private": {"type": "checkboxes", "selected_options": [{"value": "private"}]}
            },
        },
    )
    assert bot.post_signed(submission).status_code == 200
    secret = _ready(bot, "Payroll export")
    assert secret.private
    assert slack.state.channel(secret.channel_id).is_private
    assert "Payroll" not in _listed(bot, CAROL) and "1 private incident" in _listed(bot, CAROL)
    wait_until(lambda: _due_jobs_done(bot), what="the due jobs")
    assert "Payroll" not in str(slack.messages(ANNOUNCE))
