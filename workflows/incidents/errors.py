"""Refusals of the incident flows as typed data: ``commands/`` words them for Slack (with
mentions and slash-command examples), which the flows never build."""

from __future__ import annotations

from typing import Literal

from workflows.errors import Conflict, UserError

TextField = Literal["title", "status", "note", "summary", "follow_up", "reopen"]


class EmptyText(UserError):
    """A change that needs words got none (``field`` says which)."""

    def __init__(self, message: str, *, field: TextField) -> None:
        super().__init__(message)
        self.field = field


class AlreadyInRole(UserError):
    """``user`` holds ``role`` already; nothing to change."""

    def __init__(self, *, user: str, role: str) -> None:
        super().__init__(f"{user} is the {role} already")
        self.user = user
        self.role = role


class AlreadySnoozed(Conflict):
    """``by`` snoozed this reminder already."""

    def __init__(self, *, by: str) -> None:
        super().__init__("this reminder was snoozed already")
        self.by = by
