"""The emulated Web API methods, one module per family; ``METHODS`` maps each name Slack
knows to its implementation (``base`` holds what they share: arguments, errors, checks)."""

from __future__ import annotations

from bot.sandbox.slack.methods import apps, archive, chat, conversations, home, views_files
from bot.sandbox.slack.methods.base import (
    ApiError,
    Args,
    Method,
    MethodRegistry,
    decode_json_fields,
    dispatch,
)

METHODS: dict[str, Method] = {
    **chat.METHODS,
    **conversations.METHODS,
    **views_files.METHODS,
    **apps.METHODS,
    **archive.METHODS,
    **home.METHODS,
}
APP_TOKEN_METHODS = apps.APP_TOKEN_METHODS

__all__ = [
    "APP_TOKEN_METHODS",
    "METHODS",
    "ApiError",
    "Args",
    "Method",
    "MethodRegistry",
    "decode_json_fields",
    "dispatch",
]
