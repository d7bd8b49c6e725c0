"""Permission refusals for Slack: who may act instead, as mentions, and the audit entry.

The rules live in ``workflows/`` and raise ``Denied`` with config references; this renders
them ("Who may: the commander @alice; SEV1 responders: *sre* (@bob, @carol)") and records
the refusal (``outcome=denied``) after the refused change has rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from commands.common.seams import Deps
from workflows.config import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.errors import PermissionDenied
from workflows.permissions import Denied, Who, record_denial


def mention(user: str) -> str:
    return f"<@{user}>"


def _ref(ref: str, config: ShipbotConfig) -> str:
    if is_user_id(ref):
        return mention(ref)
    group = config.groups.get(ref)
    if group is None:
        return f"*{ref}*"
    members = [mention(u) for u in group.users] + [f"<!subteam^{g}>" for g in group.usergroups]
    return f"*{ref}* ({', '.join(members)})" if members else f"*{ref}* (empty)"


def refs_text(refs: Iterable[str], config: ShipbotConfig) -> str:
    """Group names with their members, user ids as mentions."""
    return ", ".join(_ref(ref, config) for ref in refs)


def who_may(allowed: Iterable[Who], config: ShipbotConfig) -> str:
    """One line naming everyone who may, or what to configure when nobody may."""
    named: list[str] = []
    unset: list[str] = []
    for who in allowed:
        if who.anyone:
            return "Anyone may."
        if who.refs:
            named.append(f"{who.role}: {refs_text(who.refs, config)}")
        elif who.key:
            unset.append(f"`{who.key}`")
    if not named:
        keys = " or ".join(unset) or "the config"
        return f"Nobody may as configured; an admin can name people in {keys}."
    return "Who may: " + "; ".join(named) + "."


def explained(denied: Denied, config: ShipbotConfig) -> PermissionDenied:
    """The refusal as the user sees it: what was refused and who may instead."""
    return PermissionDenied(denied.message, hint=who_may(denied.allowed, config))


@contextmanager
def audited_refusals(
    deps: Deps, config: ShipbotConfig, *, delivery_key: str, channel: str | None
) -> Iterator[None]:
    """Around a change (outside its transaction): a ``Denied`` is audited in a transaction
    of its own and re-raised as the rendered refusal."""
    try:
        yield
    except Denied as denied:
        record_denial(
            database=deps.database,
            clock=deps.clock,
            denied=denied,
            delivery_key=delivery_key,
            channel=channel or None,
        )
        raise explained(denied, config) from denied
