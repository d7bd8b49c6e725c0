"""Finding (or opening) the groups a request's alerts belong to, with a fixed number of
queries per request, not per alert or group.

A group is the alerts of one base key (``<service>/<alertname>``) arriving within
``alerts.group_window`` of the group's first alert, by receive time. Its key is
``<base key>#<generation>``; the next window's group is generation + 1, so two replicas
opening the same new group collide on the unique key and the second joins the first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar

from sqlmodel import Session, col, func, select

from workflows.alerts.model import NormalizedAlert
from workflows.alerts.models import Alert, AlertGroup
from workflows.alerts.routing import route_group
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.store.tables import table_of
from workflows.store.upsert import insert_or_ignore

CHUNK = 500  # values per IN list or multi-row statement: far below SQLite's limit
_GROUPS = table_of(AlertGroup)
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _groups_by_id(session: Session, ids: Sequence[int]) -> dict[int, AlertGroup]:
    return {
        int(group.id): group
        for chunk in chunks(sorted(set(ids)))
        for group in session.exec(select(AlertGroup).where(col(AlertGroup.id).in_(chunk)))
        if group.id is not None
    }


def known_groups(
    *, session: Session, source: str, alerts: Sequence[NormalizedAlert]
) -> dict[str, AlertGroup]:
    """``{alert_ref: group}`` for the resolutions and acknowledgements among ``alerts``
    whose alert is already in a group (its newest one)."""
    refs = sorted({alert.alert_ref for alert in alerts if alert.status != "firing"})
    group_of_ref: dict[str, int] = {}
    for chunk in chunks(refs):
        query = (
            select(col(Alert.alert_ref), func.max(col(Alert.group_id)))
            .where(
                col(Alert.source) == source,
                col(Alert.alert_ref).in_(chunk),
                col(Alert.group_id).is_not(None),
            )
            .group_by(col(Alert.alert_ref))
        )
        group_of_ref.update(
            {ref: group_id for ref, group_id in session.exec(query) if group_id is not None}
        )
    groups = _groups_by_id(session, list(group_of_ref.values()))
    return {ref: groups[group_id] for ref, group_id in group_of_ref.items()}


def _open_group(
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    first: NormalizedAlert,
    generation: int,
) -> AlertGroup:
    """Insert generation ``generation`` of ``first``'s base key, routed now (or join the
    one a concurrent request just opened)."""
    now = clock.now()
    group_key = f"{first.base_key}#{generation}"
    route = route_group(
        session=session, config=config, service=first.service, labels=first.match_labels()
    )
    session.execute(
        insert_or_ignore(session, _GROUPS, key=["group_key"]).values(
            group_key=group_key,
            base_key=first.base_key,
            generation=generation,
            source=first.source,
            service=first.service,
            alertname=first.alertname,
            summary=first.summary,
            labels=first.labels,
            url=first.url,
            channel=route.channel,
            incident_id=route.incident_id,
            firing=0,
            resolved=0,
            acknowledged=0,
            last_status=first.status,
            opened_at=now,
            last_alert_at=now,
            updated_at=now,
        )
    )
    return session.exec(select(AlertGroup).where(col(AlertGroup.group_key) == group_key)).one()


def current_groups(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    firsts: Mapping[str, NormalizedAlert],
) -> dict[str, AlertGroup]:
    """``{base_key: group}``: the open group of each base key, opening new ones (from
    ``firsts[base_key]``, the first alert for it) where none is open. Two queries, plus
    a few per group opened."""
    bases = sorted(firsts)
    newest: dict[str, int] = {}
    for chunk in chunks(bases):
        query = (
            select(col(AlertGroup.base_key), func.max(col(AlertGroup.generation)))
            .where(col(AlertGroup.base_key).in_(chunk))
            .group_by(col(AlertGroup.base_key))
        )
        newest.update({base: int(generation) for base, generation in session.exec(query)})
    keys = sorted(f"{base}#{generation}" for base, generation in newest.items())
    latest = {
        group.base_key: group
        for chunk in chunks(keys)
        for group in session.exec(select(AlertGroup).where(col(AlertGroup.group_key).in_(chunk)))
    }
    now, window = clock.now(), config.alerts.group_window
    groups: dict[str, AlertGroup] = {}
    for base in bases:  # sorted: concurrent requests open groups in the same order
        group = latest.get(base)
        if group is not None and now < group.opened_at + window:
            groups[base] = group
        else:
            generation = group.generation + 1 if group is not None else 1
            groups[base] = _open_group(session, clock, config, firsts[base], generation)
    return groups
