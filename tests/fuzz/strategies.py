"""Hypothesis strategies for hostile but well-signed input: words a person (or an attacker)
could type, mixed with the shapes that broke shipbot 0.2 (issue 11)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.secret_corpus import SECRETS

NASTY = (
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\x1b[31m",
    "\x07\x08\x7f",
    "\r\n",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S123>",
    "<@U0DAVE>",
    "<#C0DEPLOYS>",
    "<https://evil.example|click>",
    "&amp;",
    "*bold* _it_ `code` ```block```",
    "#999999999999999999999",
    "999999999999999999999",
    "#-1",
    "-1",
    "#0",
    "1e309",
    "NaN",
    "9" * 400,
    "x" * 3000,
    "'; DROP TABLE deploys; --",
    "%s %d {0} {{}}",
    "😀" * 10,
    "\u202e\u200b\ufeff",
    "--break-glass",
    SECRETS[0].raw,
    SECRETS[16].sentence,
)
PLAIN = (
    "web",
    "api",
    "staging",
    "production",
    "to",
    "SEV1",
    "SEV2",
    "SEV3",
    "SEV4",
    "1.2.3",
    "v2.0.0-rc.1",
    "commander",
    "comms",
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "#1",
    "#2",
    "1",
    "2",
    "<@U0BOB>",
    "<#C0INCIDNT>",
)
USERS = ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0NOBODY", "\x00", "\ud800", "<!channel>")
CHANNELS = ("C0DEPLOYS", "C0INCIDNT", "C0APPROVE", "C0NOWHERE", "a\x00b")

numbers = st.integers(min_value=-(10**25), max_value=10**25).map(str)
word = st.one_of(
    st.sampled_from(PLAIN),
    st.sampled_from(NASTY),
    numbers,
    numbers.map(lambda n: f"#{n}"),
    st.text(max_size=12),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6),  # C0 controls too
)
text = st.lists(word, max_size=8).map(" ".join)

DEPLOY_WORDS = ("", "status", "history", "rollback", "cancel", "lock", "unlock", "explain", "help")
INCIDENT_WORDS = (
    "declare",
    "status",
    "sev",
    "severity",
    "assign",
    "note",
    "timeline",
    "resolve",
    "list",
    "help",
)
SHIPBOT_WORDS = ("version", "report", "help", "")


@st.composite
def slash_commands(draw: Any) -> tuple[str, str, str, str]:
    """``(command, text, user, channel)``."""
    command = draw(st.sampled_from(("/deploy", "/incident", "/shipbot")))
    first = {
        "/deploy": (*DEPLOY_WORDS, "web", "api"),
        "/incident": INCIDENT_WORDS,
        "/shipbot": SHIPBOT_WORDS,
    }[command]
    head = draw(st.one_of(st.sampled_from(first), word))
    return (
        command,
        f"{head} {draw(text)}".strip(),
        draw(st.sampled_from(USERS)),
        draw(st.sampled_from(CHANNELS)),
    )


ACTION_IDS = (
    "deploy.approve",
    "deploy.reject",
    "deploy.cancel",
    "deploy.rollback",
    "incident.open_status",
    "incident.open_assign",
    "incident.open_resolve",
    "incident.snooze",
)
CALLBACKS = (
    "deploy.request",
    "deploy.reject",
    "incident.declare",
    "incident.status",
    "incident.assign",
    "incident.resolve",
)
FIELDS = (
    "service",
    "version",
    "environment",
    "reason",
    "severity",
    "title",
    "status",
    "message",
    "role",
    "user",
    "summary",
    "commander",
)
button_value = st.one_of(
    numbers,
    st.tuples(numbers, st.sampled_from(("1.2.3", "", "\x00", "<!here>"))).map(":".join),
    word,
)


@st.composite
def button_clicks(draw: Any) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action_id": draw(st.one_of(st.sampled_from(ACTION_IDS), word)),
        "block_id": draw(word),
        "type": "button",
        "action_ts": draw(numbers),
        "value": draw(button_value),
    }
    return {
        "type": "block_actions",
        "user": {"id": draw(st.sampled_from(USERS))},
        "team": {"id": "T0SHIPBOT"},
        "trigger_id": draw(st.one_of(st.just("1.2.abc"), word)),
        "channel": {"id": draw(st.sampled_from(CHANNELS))},
        "message": {"ts": draw(numbers), "text": draw(text)},
        "container": {"type": "message"},
        "actions": [action],
    }


def _input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def _choice(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


@st.composite
def modal_submissions(draw: Any) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True))
    values = {name: {name: draw(st.one_of(text.map(_input), word.map(_choice)))} for name in names}
    return {
        "type": "view_submission",
        "user": {"id": draw(st.sampled_from(USERS))},
        "team": {"id": "T0SHIPBOT"},
        "view": {
            "id": "V" + draw(numbers),
            "hash": draw(numbers),
            "callback_id": draw(st.one_of(st.sampled_from(CALLBACKS), word)),
            "private_metadata": draw(
                st.one_of(button_value, st.just('{"channel": "C0INCIDNT"}'), text)
            ),
            "state": {"values": values},
        },
    }
