"""Typed errors a flow raises.

A ``UserError`` is something the person in Slack can fix; the edge shows its message
(and ``hint``) as an ephemeral reply. Anything else is a bug or an outage, and the edge
gives it an error id instead of details.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or a refused action, explained in words the user can act on."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class PermissionDenied(UserError):
    """The actor may not do this."""


class NotFound(UserError):
    """The thing named does not exist."""


class Conflict(UserError):
    """The action clashes with the current state (a lock, a deploy in flight, ...)."""


class DuplicateDelivery(RuntimeError):
    """This delivery (a Slack retry, a double click, a webhook redelivery) was handled before."""


class ConfigError(ValueError):
    """The configuration file is invalid; the message names the path of the bad field."""


class AuditChainBroken(RuntimeError):
    """The audit chain does not verify; the message names the first bad entry."""
