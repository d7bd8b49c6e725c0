"""Refusals that say who may act instead, and their audit entries.

A permission rule (``workflows/incidents/permissions.py``, ``workflows/deploys/lock_rules.py``)
raises ``Denied`` carrying who *would* be allowed, as config references and user ids, never
as Slack text: ``commands/`` renders them as mentions. ``record_denial`` writes the audit
entry (``outcome="denied"``) in a transaction of its own, because the refused change rolls
its own transaction back, audit entry and delivery claim included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.deploys.directory import Directory, is_member
from workflows.errors import DuplicateDelivery, PermissionDenied
from workflows.store.db import Database

DENIED = "denied"


@dataclass(frozen=True)
class Who:
    """One kind of person allowed to do something.

    ``role`` says it in words ("the commander", "SEV1 responders"); ``refs`` are config
    group names and Slack user ids; ``key`` is the config path that sets them, if any (so a
    refusal can say what to configure when nobody is). ``anyone`` means no restriction."""

    role: str
    refs: tuple[str, ...] = ()
    key: str | None = None
    anyone: bool = False

    def admits(self, *, config: ShipbotConfig, directory: Directory, user: str) -> bool:
        if self.anyone:
            return True
        # is_member treats empty refs as "anyone"; here empty means nobody is named.
        return bool(self.refs) and is_member(
            config=config, directory=directory, user=user, refs=self.refs
        )


def admitted(
    *, config: ShipbotConfig, directory: Directory, user: str, allowed: Iterable[Who]
) -> bool:
    """Whether ``user`` is one of ``allowed``."""
    return any(who.admits(config=config, directory=directory, user=user) for who in allowed)


class Denied(PermissionDenied):
    """``actor`` may not do ``action`` on ``target``; ``allowed`` may.

    ``action`` and ``target`` are those the audit entry of the change would have had, so a
    refusal sits next to the successes in ``shipbot audit`` queries."""

    def __init__(
        self,
        message: str,
        *,
        actor: str,
        action: str,
        target: str,
        allowed: tuple[Who, ...],
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.actor = actor
        self.action = action
        self.target = target
        self.allowed = allowed
        self.params: dict[str, Any] = dict(params or {})


def record_denial(
    *,
    database: Database,
    clock: Clock,
    denied: Denied,
    delivery_key: str = "",
    channel: str | None = None,
) -> int | None:
    """Audit a refusal in its own short transaction, with ``outcome="denied"``.

    The delivery is claimed in the same transaction, so a retried command or a double click
    is refused once and audited once. Returns the entry's ``seq``, or None when this
    delivery was handled before (nothing is written again)."""
    try:
        with database.transaction() as session:
            if delivery_key:
                claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
            entry = audit.record(
                session=session,
                clock=clock,
                actor=denied.actor,
                action=denied.action,
                target=denied.target,
                params={
                    **denied.params,
                    "reason": denied.message,
                    "allowed": [_describe(who) for who in denied.allowed],
                },
                outcome=DENIED,
                channel=channel,
            )
            return entry.seq
    except DuplicateDelivery:
        return None


def _describe(who: Who) -> dict[str, Any]:
    return {"role": who.role, "refs": list(who.refs), "anyone": who.anyone}
