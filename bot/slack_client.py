"""The Slack Web API client shipbot uses: slack_sdk's, counted per method and status.

``METHOD_SCOPES`` lists every Web API method shipbot calls and the bot scope it needs;
``app_manifest.yaml`` must request exactly those scopes (a test keeps them in step).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.metrics import Metrics
from workflows.redact import redact, redact_text

log = logging.getLogger(__name__)

METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    # Called with the app-level token (xapp-); its connections:write scope belongs to that
    # token, not to the bot, so no bot scope is listed for it.
    "apps.connections.open": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
    "conversations.info": "channels:read",
    "conversations.list": "channels:read",
    "conversations.create": "channels:manage",
    "conversations.invite": "channels:manage",
    "conversations.setTopic": "channels:manage",
    "conversations.join": "channels:join",
    "conversations.archive": "channels:manage",
    "pins.add": "pins:write",
    "views.open": None,
    "views.update": None,
    "views.push": None,
    "views.publish": None,
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}

# Scopes that belong to no single Web API method: private incident channels need the
# groups:* twins of the channels:* scopes (create, invite, topic and archive: groups:write;
# conversations.list of private_channel, to adopt one: groups:read).
EXTRA_SCOPES = frozenset({"commands", "groups:read", "groups:write"})


def required_scopes() -> set[str]:
    return {scope for scope in METHOD_SCOPES.values() if scope} | set(EXTRA_SCOPES)


# Keyword arguments of ``api_call`` that carry what the bot sends.
_OUTGOING = ("json", "params", "data")
# Text arguments of ``files_upload_v2`` whose content goes to Slack outside ``api_call``.
_UPLOAD_TEXT = ("content", "title", "filename", "initial_comment", "alt_txt", "snippet_type")


def _redacted_arguments(arguments: Any) -> Any:
    """Every argument redacted except ``token``: some methods (apps.connections.open with
    the app-level token) send their credential as a parameter, and it must reach Slack."""
    if not isinstance(arguments, dict):
        return redact(arguments)
    return {key: value if key == "token" else redact(value) for key, value in arguments.items()}


class MeteredWebClient(WebClient):
    """``WebClient`` that counts every call in ``shipbot_slack_api_calls`` and is the
    output boundary for secrets: every argument of every call (text, blocks, modal views,
    channel names, topics, uploaded file contents) passes through
    ``workflows.redact.redact`` on its way out, whoever built it."""

    def __init__(self, *args: Any, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> SlackResponse:
        if api_method not in METHOD_SCOPES:
            log.error("Slack method %s is not declared in METHOD_SCOPES / the manifest", api_method)
        for name in _OUTGOING:
            if kwargs.get(name) is not None:
                kwargs[name] = _redacted_arguments(kwargs[name])
        status = "error"
        try:
            response = super().api_call(api_method, *args, **kwargs)
            status = str(response.status_code)
            return response
        except SlackApiError as error:
            status = str(error.response.status_code)
            raise
        finally:
            if self._metrics is not None:
                self._metrics.slack_api_calls.labels(method=api_method, status=status).inc()

    def files_upload_v2(self, **kwargs: Any) -> SlackResponse:
        # The file body goes to an upload URL, not through ``api_call``: redact it here.
        for name in _UPLOAD_TEXT:
            if isinstance(kwargs.get(name), str):
                kwargs[name] = redact_text(kwargs[name])
        if isinstance(kwargs.get("file_uploads"), list):
            kwargs["file_uploads"] = [redact(upload) for upload in kwargs["file_uploads"]]
        return super().files_upload_v2(**kwargs)


def make_client(
    *, token: str, base_url: str, metrics: Metrics | None, timeout: int = 10
) -> WebClient:
    return MeteredWebClient(token=token, base_url=base_url, timeout=timeout, metrics=metrics)
