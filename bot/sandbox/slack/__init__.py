"""The Slack Web API fake: a loopback server (``api``) over an in-memory workspace
(``state``, ``model``) whose methods (``methods/``) validate like Slack (``blocks``)."""

from __future__ import annotations

from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.slack.blocks import block_errors, view_errors
from bot.sandbox.slack.state import (
    Call,
    Ephemeral,
    InvalidBlocks,
    ResponsePost,
    SlackState,
    UploadedFile,
)

__all__ = [
    "Call",
    "Ephemeral",
    "FakeSlackApi",
    "InvalidBlocks",
    "ResponsePost",
    "SlackState",
    "UploadedFile",
    "block_errors",
    "view_errors",
]
