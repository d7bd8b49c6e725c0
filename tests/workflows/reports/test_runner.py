"""The report.run job (compute once, store, queue the message) and the PNG chart."""

from __future__ import annotations

import struct
import zlib

from sqlalchemy import select

from tests.workflows.reports.datasets import FIRE, example_config, seed_dora
from workflows.clock import FakeClock
from workflows.config import Report
from workflows.reports.chart import CURRENT, PREVIOUS, deploys_per_day_png
from workflows.reports.claims import claim_run
from workflows.reports.models import ReportRun, RunTrigger
from workflows.reports.runner import run_report
from workflows.store.db import Database
from workflows.store.models import Job, SlackMessage


def claim(database: Database, clock: FakeClock, report: Report) -> int:
    with database.transaction() as session:
        run = claim_run(
            session=session,
            clock=clock,
            report=report,
            channel="C0DEPLOYS",
            fire_time=FIRE,
            trigger=RunTrigger.scheduled,
            requested_by="scheduler",
            claimed_by="test",
        )
    assert run is not None and run.id is not None
    return run.id


def job_keys(database: Database) -> list[str]:
    with database.read_session() as session:
        return sorted(session.execute(select(Job.idempotency_key)).scalars())


def test_a_run_is_computed_and_posted_once(database: Database) -> None:
    seed_dora(database)
    config = example_config()
    clock = FakeClock(FIRE)
    report = Report(
        name="weekly", kind="dora", cron="0 9 * * MON", channel="deploys", timezone="Europe/Berlin"
    )
    run_id = claim(database, clock, report)
    assert run_report(database=database, clock=clock, config=config, run_id=run_id)
    assert not run_report(database=database, clock=clock, config=config, run_id=run_id)
    with database.read_session() as session:
        run = session.get(ReportRun, run_id)
        (message,) = session.execute(select(SlackMessage)).scalars()
    assert run is not None and run.state == "computed" and run.figures is not None
    assert run.figures["deploys"] == {"current": 5, "previous": 3}
    assert (message.view_key, message.channel) == (f"report:{run_id}", "C0DEPLOYS")
    assert job_keys(database) == [
        f"render:report:{run_id}:after:0",
        "report-chart:1",
        "report:weekly:2026-01-12T08:00:00+00:00",
    ]


def test_nothing_pending_posts_nothing(database: Database) -> None:
    clock = FakeClock(FIRE)
    report = Report(name="nudge", kind="pending_approvals", cron="0 * * * *", channel="approvals")
    run_id = claim(database, clock, report)
    assert run_report(database=database, clock=clock, config=example_config(), run_id=run_id)
    with database.read_session() as session:
        run = session.get(ReportRun, run_id)
        assert session.execute(select(SlackMessage)).first() is None
    assert run is not None and run.figures == {"as_of": FIRE.isoformat(), "count": 0, "items": []}
    assert job_keys(database) == ["report:nudge:2026-01-12T08:00:00+00:00"]


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color_type) == (8, 2) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + width * 3)
    rows = b"".join(raw[y * (1 + width * 3) + 1 : (y + 1) * (1 + width * 3)] for y in range(height))
    return width, height, rows


def test_the_chart_is_a_valid_png_with_both_periods() -> None:
    labels = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    png = deploys_per_day_png(
        labels=labels, current=[1, 1, 1, 1, 0, 0, 4], previous=[1, 2, 0, 0, 0, 0, 1]
    )
    width, height, pixels = decode_png(png)
    assert (width, height) == (720, 320)

    def column_height(x: int, color: tuple[int, int, int]) -> int:
        return sum(
            1
            for y in range(height)
            if pixels[(y * width + x) * 3 : (y * width + x) * 3 + 3] == bytes(color)
        )

    xs = range(width)
    tallest_current = max(column_height(x, CURRENT) for x in xs)
    tallest_previous = max(column_height(x, PREVIOUS) for x in xs)
    assert tallest_current == 2 * tallest_previous > 0  # the peaks: 4 deploys against 2
    again = deploys_per_day_png(
        labels=labels, current=[1, 1, 1, 1, 0, 0, 4], previous=[1, 2, 0, 0, 0, 0, 1]
    )
    assert again == png  # same figures, same bytes
