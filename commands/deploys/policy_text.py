"""Deploy policy in words: each typed check from ``workflows.deploys.policy`` as one line,
a refusal that lists every blocking rule, and ``explain``. Slack and the terminal share
these; only how a person is named differs (``Names``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from commands.common.reply import Reply, context, escape, header, section
from workflows.config.types import format_duration
from workflows.deploys.policy import (
    Approvals,
    Check,
    Freeze,
    IncidentBlock,
    InFlight,
    Lock,
    Permission,
    Promotion,
    Verdict,
)
from workflows.deploys.requests import DeployRefused
from workflows.errors import UserError

Names = Callable[[str], str]
"""How a user id reads: a Slack mention, or a name in a terminal."""

BREAK_GLASS_FLAG = "`--break-glass <reason>`"


def slack_name(user: str) -> str:
    return f"<@{user}>"


def who(refs: Iterable[str], name: Names) -> str:
    """Group names as they are, user ids named; nobody listed means anyone."""
    names = [name(ref) if _is_user(ref) else escape(ref) for ref in refs]
    return ", ".join(names) if names else "anyone"


def _is_user(ref: str) -> bool:
    return ref[:1] in ("U", "W") and ref.isupper() and ref.isalnum()


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "an unknown time"


def describe(check: Check, *, name: Names = slack_name) -> str:
    """One line saying what ``check`` found."""
    match check:
        case Permission(ok=True):
            return "you may deploy here"
        case Permission(deployers=deployers):
            return f"only {who(deployers, name)} may deploy here"
        case Lock(ok=True):
            return "no lock"
        case Lock(service=service, locked_by=locked_by, since=since, reason=reason):
            scope = "the whole environment" if service is None else service
            locker = name(locked_by) if locked_by else "someone"
            return f"{scope} is locked by {locker} since {_at(since)}: {escape(reason or '')}"
        case Freeze(ok=True):
            return "no freeze window open"
        case Freeze(reason=reason, since=since, until=until, timezone=timezone):
            why = f" ({escape(reason)})" if reason else ""
            return f"freeze window{why} since {_at(since)} until {_at(until)} ({timezone})"
        case IncidentBlock(ok=True):
            return "no open incident blocks it"
        case IncidentBlock(incident_id=number, severity=severity, title=title, commander=lead):
            commander = f"; its commander is {name(lead)}" if lead else ""
            what = f"{severity}, {escape(title)}" if title else f"{severity}, private"
            return f"incident #{number} ({what}) is open on this service{commander}"
        case Promotion(version="", required_in=before):
            return f"a version must succeed in {before} first"
        case Promotion(ok=True, version=version, required_in=before):
            return f"{escape(version)} succeeded in {before}"
        case Promotion(version=version, required_in=before):
            return f"{escape(version)} has not succeeded in {before} yet (promotion order)"
        case InFlight(ok=True):
            return "nothing else in flight"
        case InFlight(deploy_id=number, version=version, requested_by=by, state=state):
            asked = f", asked by {name(by)}" if by else ""
            return (
                f"deploy #{number} ({escape(version or '?')}{asked}) is "
                f"{(state or 'in flight').replace('_', ' ')}; one deploy at a time per service "
                "and environment"
            )
        case Approvals():
            return _approvals(check, name)
    return str(check.rule)


def _approvals(check: Approvals, name: Names) -> str:
    if not check.required:
        return "no approval needed"
    ttl = f"; requests expire after {format_duration(check.ttl)}" if check.ttl else ""
    own = "" if check.allow_self_approval else "; you cannot approve your own"
    text = f"needs {check.required} approval(s) from {who(check.from_groups, name)}{own}{ttl}"
    if not check.ok:
        could = who(sorted(check.eligible), name) if check.eligible else "nobody"
        text += (
            f". Only {len(check.eligible)} approver(s) ({could}) could approve a request from "
            "you, so it could never be approved"
        )
    return text


def break_glass_note(verdict: Verdict, check: Check, *, name: Names = slack_name) -> str:
    """Whether break-glass lifts ``check`` and whether this user may use it."""
    if not check.lifted_by_break_glass:
        return "break-glass does not lift this"
    if verdict.user_may_lift(check):
        return f"break-glass lifts this, and you may use it: {BREAK_GLASS_FLAG}"
    if isinstance(check, IncidentBlock) and check.commander:
        lifters = f"{who(verdict.break_glass_groups, name)} or {name(check.commander)}"
    else:
        lifters = who(verdict.break_glass_groups, name) if verdict.break_glass_groups else ""
    if not lifters:
        return "break-glass would lift this, but nobody may use it here"
    return f"break-glass lifts this, but only {lifters} may use it"


def refusal_text(verdict: Verdict, *, break_glass: bool, name: Names = slack_name) -> str:
    """Every rule that stops the request, each with what break-glass can do about it."""
    lines = [
        f"• *{str(check.rule).replace('_', ' ')}*: {describe(check, name=name)} "
        f"({break_glass_note(verdict, check, name=name)})"
        for check in verdict.blockers
    ]
    head = f"Can't deploy {verdict.service} to {verdict.environment}:"
    if break_glass and not verdict.allowed_with_break_glass:
        head = f"Can't deploy {verdict.service} to {verdict.environment}, even with break-glass:"
    return "\n".join([head, *lines])


def render_verdict(verdict: Verdict, *, name: Names = slack_name) -> Reply:
    """``/deploy explain``: a row for every rule, then what this user can do."""
    marks = {True: ":white_check_mark:", False: ":no_entry:"}
    lines = [
        f"{marks[check.ok]} *{str(check.rule).replace('_', ' ')}*: {describe(check, name=name)}"
        + ("" if check.ok else f" ({break_glass_note(verdict, check, name=name)})")
        for check in verdict.checks
    ]
    summary = verdict_summary(verdict, name=name)
    blocks = [
        header(f"Deploying {verdict.service} to {verdict.environment}"),
        section("\n".join(lines)),
        context(summary),
    ]
    return Reply(text=summary + "\n" + "\n".join(lines), blocks=blocks)


def verdict_summary(verdict: Verdict, *, name: Names = slack_name) -> str:
    person = name(verdict.user)
    target = f"{verdict.service} to {verdict.environment}"
    if verdict.allowed:
        return f"{person} can deploy {target} now."
    if verdict.allowed_with_break_glass:
        return f"{person} is blocked, but may override with {BREAK_GLASS_FLAG} (audited)."
    return f"{person} cannot deploy {target} now."


@contextmanager
def refusals_explained() -> Iterator[None]:
    """Turn the policy's typed ``DeployRefused`` into the words above, as a user error."""
    try:
        yield
    except DeployRefused as refused:
        verdict = refused.verdict
        raise UserError(
            refusal_text(verdict, break_glass=refused.break_glass),
            hint=f"`/deploy explain {verdict.service} {verdict.environment}` shows every rule.",
        ) from None
