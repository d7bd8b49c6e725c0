from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from apscheduler.triggers.base import BaseTrigger

class Job:
    id: str
    next_run_time: datetime | None

class BaseScheduler:
    running: bool
    def __init__(self, gconfig: Mapping[str, Any] = ..., **options: Any) -> None: ...
    def start(self, paused: bool = False) -> None: ...
    def shutdown(self, wait: bool = True) -> None: ...
    # Trigger arguments (``seconds=``, ``hour=`` ...) pass through ``**trigger_args``.
    def add_job(
        self,
        func: Callable[..., object],
        trigger: str | BaseTrigger | None = None,
        args: Sequence[object] | None = None,
        kwargs: Mapping[str, object] | None = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: int | None = ...,
        coalesce: bool = ...,
        max_instances: int = ...,
        next_run_time: datetime | None = ...,
        jobstore: str = "default",
        executor: str = "default",
        replace_existing: bool = False,
        **trigger_args: Any,
    ) -> Job: ...
    def get_job(self, job_id: str, jobstore: str | None = None) -> Job | None: ...
    def get_jobs(self, jobstore: str | None = None, pending: bool | None = None) -> list[Job]: ...
    def remove_job(self, job_id: str, jobstore: str | None = None) -> None: ...

