"""The store: tables, engine and sessions. SQLite by default, PostgreSQL in production."""

from workflows.store.db import Database, session_scope
from workflows.store.models import (
    AuditEntry,
    AuditHead,
    ChannelPace,
    Delivery,
    Job,
    JobState,
    SlackMessage,
)

__all__ = [
    "AuditEntry",
    "AuditHead",
    "ChannelPace",
    "Database",
    "Delivery",
    "Job",
    "JobState",
    "SlackMessage",
    "session_scope",
]
