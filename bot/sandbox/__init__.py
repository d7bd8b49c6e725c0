"""The local Slack emulator: a loopback Web API fake and Slack-signed requests.

Tests use it as their Slack; ``shipbot dev`` serves the same state in a browser."""

from bot.sandbox.slack_api import FakeSlackApi
from bot.sandbox.slack_state import (
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
]
