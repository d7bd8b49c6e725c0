"""`shipbot import deploys`: past deploys recorded as external deploys, page by page.

Idempotent: each deploy is stored under its ``(source, external_id)`` unique key, so a
second run records nothing twice. Resumable: each page is written in ONE transaction with
the checkpoint (the next page's cursor), so a run killed anywhere loses at most the page
it was on, and the next run goes on from the checkpoint. A finished import starts from
the first page again (picking up deploys made since), skipping what it already has.
No message is posted for imported history; one audit entry per page says what came in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.external.deploys import insert_new, known_ids
from workflows.external.history import HistorySource, Page
from workflows.external.models import ImportCheckpoint
from workflows.store.db import Database
from workflows.store.upsert import insert_or_ignore

Progress = Callable[[int, int | None, int], None]
"""(pages done, pages in all if known, deploys imported so far)."""


@dataclass
class ImportSummary:
    source: str
    service: str
    imported: int = 0  # new deploys recorded (would be, with dry_run)
    known: int = 0  # already recorded before
    skipped: int = 0  # read, not a deploy to record
    pages: int = 0
    resumed: bool = False
    dry_run: bool = False

    def line(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        resumed = ", resumed from its checkpoint" if self.resumed else ""
        return (
            f"{verb} {self.imported} deploys of {self.service} from {self.source} "
            f"({self.known} already recorded, {self.skipped} skipped, {self.pages} pages"
            f"{resumed})"
        )


def get_checkpoint(*, session: Session, source: str, service: str) -> ImportCheckpoint | None:
    return session.exec(
        select(ImportCheckpoint)
        .where(col(ImportCheckpoint.source) == source)
        .where(col(ImportCheckpoint.service) == service)
    ).first()


def _start(database: Database, clock: Clock, source: str, service: str, since: datetime) -> str:
    """The cursor to begin at: the checkpoint's when an unfinished import of the same
    ``since`` left one, else the first page (and a fresh checkpoint)."""
    with database.transaction() as session:
        session.execute(
            insert_or_ignore(session, ImportCheckpoint, key=["source", "service"])
            .values(
                source=source,
                service=service,
                since=since,
                cursor="",
                imported=0,
                done=True,
                updated_at=clock.now(),
            )
        )
        row = get_checkpoint(session=session, source=source, service=service)
        assert row is not None
        if not row.done and row.since == since:
            return row.cursor or ""
        row.since, row.cursor, row.done, row.imported = since, "", False, 0
        row.updated_at = clock.now()
        session.add(row)
        return ""


def _save_page(
    session: Session, clock: Clock, config: ShipbotConfig, summary: ImportSummary, page: Page
) -> int:
    new = insert_new(session=session, clock=clock, config=config, events=page.deploys)
    row = get_checkpoint(session=session, source=summary.source, service=summary.service)
    assert row is not None
    row.cursor = page.next_cursor or ""
    row.done = page.next_cursor is None
    row.imported += new
    row.updated_at = clock.now()
    session.add(row)
    if new:
        audit.record(
            session=session,
            clock=clock,
            actor="cli:import",
            action="deploy.imported",
            target=f"service:{summary.service}",
            params={"source": summary.source, "imported": new, "page": summary.pages},
        )
    return new


def _count_new(session: Session, page: Page) -> int:
    ids = [event.external_id for event in page.deploys]
    source = page.deploys[0].source if page.deploys else ""
    return len(set(ids) - known_ids(session=session, source=source, external_ids=ids))


def import_deploys(
    *,
    database: Database,
    clock: Clock,
    config: ShipbotConfig,
    history: HistorySource,
    source: str,
    service: str,
    since: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Read every page of ``history`` from the checkpoint on and record its deploys."""
    summary = ImportSummary(source=source, service=service, dry_run=dry_run)
    cursor = ""
    if not dry_run:
        cursor = _start(database, clock, source, service, since)
        summary.resumed = cursor != ""

    def known(ids: list[str]) -> set[str]:
        with database.read_session() as session:
            return known_ids(session=session, source=source, external_ids=ids, finished=True)

    while True:
        page = history.page(cursor, known)
        summary.pages += 1
        summary.skipped += page.skipped
        summary.known += page.known
        if dry_run:
            with database.read_session() as session:
                new = _count_new(session, page)
        else:
            with database.transaction() as session:
                new = _save_page(session, clock, config, summary, page)
        summary.imported += new
        summary.known += len(page.deploys) - new
        if progress is not None:
            progress(summary.pages, page.pages_total, summary.imported)
        if page.next_cursor is None:
            return summary
        cursor = page.next_cursor
