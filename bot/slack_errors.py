"""The one place Slack Web API errors become job outcomes.

- 429 / ``ratelimited``: wait ``Retry-After`` seconds (header read case-insensitively,
  integer or decimal); the job is postponed without using an attempt;
- errors no retry can fix (``channel_not_found``, ``invalid_auth``, ``invalid_name_*``...):
  the job goes dead with Slack's words;
- anything else (5xx, unknown codes): raised as it is, retried with backoff.

The render job (``bot.sender``) and every domain job registered through
``bot.wiring.Wiring.job`` use this mapping.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater

# Slack errors that mean this call can never succeed as it stands.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
        "restricted_action",
        "cant_update_message",
        "file_not_found",
        "invalid_arguments",
    }
)


@dataclass(frozen=True)
class SlackFailure:
    """What a Slack error means for the job that got it."""

    code: str
    retry_after: int | None  # seconds, when Slack rate-limited the call
    permanent: bool


def classify(error: SlackApiError) -> SlackFailure:
    response = error.response
    code = str(response.get("error") or "")
    if response.status_code == 429 or code == "ratelimited":
        return SlackFailure(
            code=code or "ratelimited", retry_after=retry_after(response.headers), permanent=False
        )
    permanent = code in PERMANENT_ERRORS or code.startswith("invalid_name")
    return SlackFailure(code=code, retry_after=None, permanent=permanent)


def retry_after(headers: Mapping[str, Any] | None) -> int:
    """Seconds from a ``Retry-After`` header in any case; at least 1."""
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return max(int(float(value if isinstance(value, str) else value[0])), 1)
            except (TypeError, ValueError, IndexError):
                break
    return 1


def job_outcome(error: SlackApiError, *, what: str = "the call") -> Exception:
    """The exception a job raises for ``error`` (see the module docstring)."""
    failure = classify(error)
    if failure.retry_after is not None:
        return RetryLater(
            timedelta(seconds=failure.retry_after),
            reason=f"Slack rate-limited {what} for {failure.retry_after}s",
        )
    if failure.permanent:
        return PermanentJobError(f"Slack refused {what}: {failure.code}")
    return error


def slack_errors_as_job_outcomes(handler: JobHandler) -> JobHandler:
    """``handler`` with any ``SlackApiError`` it lets escape mapped by ``job_outcome``."""

    @functools.wraps(handler)
    def handle(context: JobContext) -> None:
        try:
            handler(context)
        except SlackApiError as error:
            raise job_outcome(error, what=f"job {context.job.kind}") from error

    return handle
