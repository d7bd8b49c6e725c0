"""Modals for the browser sandbox: a stored view as an HTML form, and what the person
entered turned into Slack's ``view.state.values``.

The form carries each input's ``block_id`` and what was typed or chosen (an option's
index, a user id); ``state_values`` looks everything else up in the stored view, so the
submission names the exact option objects Slack would send back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox.web.blocks_html import block_html
from bot.sandbox.web.mrkdwn import Directory, escape, plain_to_html, text_object_to_html
from bot.sandbox.workspace import BOT_USER_ID

TEXT_INPUTS = ("plain_text_input", "number_input", "email_text_input", "url_text_input")
SINGLE_SELECTS = ("static_select", "radio_buttons")
MULTI_SELECTS = ("multi_static_select", "checkboxes")
USER_SELECTS = ("users_select", "multi_users_select")
CHANNEL_SELECTS = ("conversations_select", "channels_select")
SUPPORTED = (*TEXT_INPUTS, *SINGLE_SELECTS, *MULTI_SELECTS, *USER_SELECTS, *CHANNEL_SELECTS)


def options_of(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, dict)]


def _choice(value: str, label: str, selected: bool) -> str:
    mark = " selected" if selected else ""
    return f'<option value="{escape(value)}"{mark}>{label}</option>'


def _select(
    name: str, kind: str, choices: list[tuple[str, str, bool]], *, multiple: bool, hint: str
) -> str:
    first = "" if multiple else _choice("", escape(hint or "Choose…"), False)
    items = first + "".join(_choice(v, label, chosen) for v, label, chosen in choices)
    many = " multiple" if multiple else ""
    return f'<select name="{escape(name)}" data-kind="{escape(kind)}"{many}>{items}</select>'


def _input_element(block_id: str, element: dict[str, Any], directory: Directory) -> str:
    kind = str(element.get("type"))
    placeholder = str((element.get("placeholder") or {}).get("text", ""))
    if kind in TEXT_INPUTS:
        initial = escape(str(element.get("initial_value", "")))
        attrs = f'name="{escape(block_id)}" data-kind="{escape(kind)}"'
        attrs += f' placeholder="{escape(placeholder)}"'
        if element.get("max_length"):
            attrs += f' maxlength="{int(element["max_length"])}"'
        if element.get("multiline"):
            return f"<textarea {attrs} rows=4>{initial}</textarea>"
        html_type = {"number_input": "number", "email_text_input": "email", "url_text_input": "url"}
        return f'<input type="{html_type.get(kind, "text")}" {attrs} value="{initial}">'
    if kind in (*SINGLE_SELECTS, *MULTI_SELECTS):
        preset = [element.get("initial_option"), *(element.get("initial_options") or [])]
        initial_values = {o.get("value") for o in preset if isinstance(o, dict)}
        choices = [
            (
                str(i),
                text_object_to_html(o.get("text"), directory),
                o.get("value") in initial_values,
            )
            for i, o in enumerate(options_of(element))
        ]
        return _select(block_id, kind, choices, multiple=kind in MULTI_SELECTS, hint=placeholder)
    if kind in USER_SELECTS:
        chosen = {element.get("initial_user"), *(element.get("initial_users") or [])}
        choices = [
            (user_id, escape(name), user_id in chosen)
            for user_id, name in directory.users.items()
            if user_id != BOT_USER_ID
        ]
        return _select(
            block_id, kind, choices, multiple=kind.startswith("multi_"), hint=placeholder
        )
    if kind in CHANNEL_SELECTS:
        chosen = {element.get("initial_conversation"), element.get("initial_channel")}
        choices = [
            (channel_id, "#" + escape(name), channel_id in chosen)
            for channel_id, name in directory.channels.items()
        ]
        return _select(block_id, kind, choices, multiple=False, hint=placeholder)
    return f'<span class="unsupported">[{escape(kind)} input]</span>'


def _input_block(block: dict[str, Any], directory: Directory) -> str:
    block_id = str(block.get("block_id", ""))
    element = block.get("element") or {}
    label = plain_to_html(str((block.get("label") or {}).get("text", "")))
    optional = ' <span class="optional">(optional)</span>' if block.get("optional") else ""
    hint = block.get("hint")
    hint_html = f'<div class="hint">{text_object_to_html(hint, directory)}</div>' if hint else ""
    return (
        f'<div class="block input" data-block-id="{escape(block_id)}">'
        f"<label>{label}{optional}</label>"
        f"{_input_element(block_id, element, directory)}{hint_html}"
        f'<div class="field-error" data-error-for="{escape(block_id)}"></div></div>'
    )


def view_html(view: dict[str, Any], directory: Directory) -> str:
    """A stored modal as a form (title, blocks with inputs, Close and Submit)."""
    body = []
    for index, block in enumerate(view.get("blocks") or []):
        if isinstance(block, dict) and block.get("type") == "input":
            body.append(_input_block(block, directory))
        else:
            body.append(block_html(block, f"blocks/{index}", directory))
    title = text_object_to_html(view.get("title"), directory)
    close = text_object_to_html(view.get("close"), directory) or "Cancel"
    submit = ""
    if view.get("submit"):
        label = text_object_to_html(view["submit"], directory)
        submit = f'<button type="submit" class="btn btn-primary modal-submit">{label}</button>'
    return (
        f'<form class="modal" data-view-id="{escape(str(view.get("id", "")))}">'
        f'<div class="modal-title">{title}</div><div class="modal-body">{"".join(body)}</div>'
        f'<div class="modal-error"></div><div class="modal-buttons">'
        f'<button type="button" class="btn modal-close">{close}</button>{submit}</div></form>'
    )


def _input_blocks(view: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(block.get("block_id")): block
        for block in view.get("blocks") or []
        if isinstance(block, dict) and block.get("type") == "input"
    }


def _picked(options: list[dict[str, Any]], indexes: list[str]) -> list[dict[str, Any]]:
    return [options[int(i)] for i in indexes if i.isdigit() and int(i) < len(options)]


def state_values(view: Mapping[str, Any], entered: Mapping[str, Any]) -> dict[str, Any]:
    """Slack's ``view.state.values`` (``{block_id: {action_id: {...}}}``) for what was
    ``entered`` (``{block_id: text, option index, user id, or a list of them}``)."""
    values: dict[str, Any] = {}
    for block_id, block in _input_blocks(view).items():
        element = block.get("element") or {}
        kind = str(element.get("type"))
        raw = entered.get(block_id)
        many = [str(v) for v in raw] if isinstance(raw, list) else ([str(raw)] if raw else [])
        one = many[0] if many else None
        state: dict[str, Any] = {"type": kind}
        if kind in TEXT_INPUTS:
            state["value"] = one or None
        elif kind in SINGLE_SELECTS:
            picked = _picked(options_of(element), many)
            state["selected_option"] = picked[0] if picked else None
        elif kind in MULTI_SELECTS:
            state["selected_options"] = _picked(options_of(element), many)
        elif kind == "users_select":
            state["selected_user"] = one
        elif kind == "multi_users_select":
            state["selected_users"] = many
        elif kind == "conversations_select":
            state["selected_conversation"] = one
        elif kind == "channels_select":
            state["selected_channel"] = one
        else:
            continue
        values[block_id] = {str(element.get("action_id") or block_id): state}
    return values


def missing_required(view: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, str]:
    """Slack's own check before a submission reaches the app: required inputs filled."""
    errors: dict[str, str] = {}
    for block_id, block in _input_blocks(view).items():
        if block.get("optional") or block_id not in values:
            continue
        (state,) = values[block_id].values()
        filled = [v for k, v in state.items() if k != "type" and v not in (None, "", [])]
        if not filled:
            errors[block_id] = "Please complete this required field."
    return errors
