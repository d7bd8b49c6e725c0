"""The ``home.publish`` job: bring one person's Home tab in step with the store.

Like a message render (``bot/sender.py``) it holds the render lease on the Home's row
(``home:<user>``), renders whatever is stored when it runs (so changes made before it
runs coalesce into one publish, and later jobs find nothing left to do), waits for the
Home's pace slot (one publish a second per person, across replicas), and records the
version Slack now shows. A ``SlackApiError`` becomes the job's outcome through the
runtime's one mapper (429 waits for ``Retry-After``, 5xx retries, the rest gives up).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from commands.home.views import home_view
from workflows import views
from workflows.home.data import home_for
from workflows.home.fanout import HomePorts
from workflows.home.refresh import user_of
from workflows.jobs import JobContext, PermanentJobError, RetryLater
from workflows.pace_slots import PaceSlot

PACE = timedelta(seconds=1)
LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class Publisher:
    client_factory: Callable[[], WebClient]
    ports: HomePorts
    sleep: Callable[[float], None] = field(default=time.sleep)

    def handle(self, context: JobContext) -> None:
        view_key = context.job.payload.get("view_key")
        user = user_of(view_key) if isinstance(view_key, str) else None
        if user is None or not isinstance(view_key, str):
            raise PermanentJobError(f"home.publish job {context.job.id} names no Home")
        owner = f"{context.job.lease_owner}/job-{context.job.id}"
        owned: dict[str, Any] = {"database": context.database, "view_key": view_key, "owner": owner}
        row = views.acquire_render(**owned, clock=context.clock, lease=LEASE)
        if row is None:
            if views.load_message(database=context.database, view_key=view_key) is None:
                return
            raise RetryLater(timedelta(seconds=1), reason=f"another publish holds {view_key}")
        slot = PaceSlot(context, interval=PACE, sleep=self.sleep)
        try:
            if row.rendered_version >= row.desired_version:
                return  # a later job published this state already
            version = row.desired_version
            with context.database.session() as session:
                home = home_for(
                    session=session,
                    config=self.ports.config,
                    directory=self.ports.directory,
                    user_id=user,
                    now=context.clock.now(),
                )
                view = home_view(home)
            slot.wait(view_key)
            self.client_factory().views_publish(user_id=user, view=view)
            views.record_rendered(**owned, clock=context.clock, version=version, ts=None)
            latest = views.load_message(database=context.database, view_key=view_key)
            if latest is not None and latest.rendered_version < latest.desired_version:
                # A change made while publishing shares this job (views.render_job_key).
                raise RetryLater(timedelta(0), reason=f"{view_key} changed while publishing")
        except RetryLater as later:
            slot.forget_spent(later)
            raise
        finally:
            views.release_render(**owned)
