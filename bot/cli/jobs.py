"""`shipbot jobs list` and `shipbot jobs retry ID`: the durable job queue."""

from __future__ import annotations

import argparse

from bot.cli._common import EXIT_OK, SubParsers
from bot.settings import load_settings
from workflows import jobs as job_store
from workflows.clock import SystemClock
from workflows.store.db import Database


def add_parser(sub: SubParsers) -> None:
    jobs = sub.add_parser("jobs", help="durable background jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    jobs_list = jobs_sub.add_parser("list", help="list jobs, newest first")
    jobs_list.add_argument("--state", choices=["pending", "running", "succeeded", "dead"])
    jobs_list.add_argument("--kind")
    jobs_list.add_argument("--limit", type=int, default=50)
    jobs_retry = jobs_sub.add_parser("retry", help="run a dead job again")
    jobs_retry.add_argument("job_id", type=int)
    jobs.set_defaults(handler=jobs_command)


def jobs_command(args: argparse.Namespace) -> int:
    database = Database(load_settings().database_url)
    try:
        if args.jobs_command == "retry":
            with database.transaction() as session:
                job = job_store.retry_job(session=session, clock=SystemClock(), job_id=args.job_id)
            print(f"job {job.id} ({job.kind}) is pending again")
            return EXIT_OK
        with database.read_session() as session:
            rows = job_store.list_jobs(
                session=session, state=args.state, kind=args.kind, limit=args.limit
            )
        if not rows:
            print("no jobs")
            return EXIT_OK
        print(f"{'id':>6}  {'state':<9}  {'kind':<16}  {'tries':>5}  {'run after':<25}  last error")
        for job in rows:
            error = (job.last_error or "").splitlines()[0][:60] if job.last_error else ""
            print(
                f"{job.id:>6}  {job.state:<9}  {job.kind:<16}  "
                f"{job.attempts:>2}/{job.max_attempts:<2}  "
                f"{job.run_after.isoformat(timespec='seconds'):<25}  {error}"
            )
        return EXIT_OK
    finally:
        database.dispose()
