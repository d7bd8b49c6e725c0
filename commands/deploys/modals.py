"""Modals of the deploy flow: the bare `/deploy` form and "why reject?"."""

from __future__ import annotations

from typing import Any

from workflows.config import ShipbotConfig

REQUEST_CALLBACK = "deploy.request"
REJECT_CALLBACK = "deploy.reject"


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value[:75]}, "value": value}


def _text_input(
    block_id: str,
    label: str,
    *,
    placeholder: str = "",
    optional: bool = False,
    multiline: bool = False,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id}
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": placeholder}
    if multiline:
        element["multiline"] = True
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }


def _select(block_id: str, label: str, values: list[str]) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "static_select",
            "action_id": block_id,
            "options": [_option(v) for v in values[:100]],
        },
    }


def request_modal(config: ShipbotConfig) -> dict[str, Any]:
    environments = config.ordered_environments()
    return {
        "type": "modal",
        "callback_id": REQUEST_CALLBACK,
        "title": {"type": "plain_text", "text": "Deploy"},
        "submit": {"type": "plain_text", "text": "Ask to deploy"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _select("service", "Service", sorted(config.services)),
            _select("environment", "Environment", environments),
            _text_input("version", "Version", placeholder="1.4.2"),
            _text_input("reason", "Reason", optional=True, multiline=True),
        ],
    }


def reject_modal(deploy_id: int, version: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "private_metadata": f"{deploy_id}:{version}",
        "title": {"type": "plain_text", "text": f"Reject deploy #{deploy_id}"[:24]},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [_text_input("reason", "Why?", multiline=True)],
    }
