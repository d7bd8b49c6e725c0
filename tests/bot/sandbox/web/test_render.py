"""Block Kit and mrkdwn as the sandbox page shows them: formatted, and never executable."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bot.sandbox.web.blocks_html import blocks_html, find_element
from bot.sandbox.web.modal_html import missing_required, state_values, view_html
from bot.sandbox.web.mrkdwn import Directory, mrkdwn_to_html, plain_to_html

PEOPLE = Directory(users={"U0BOB": "bob"}, channels={"C0DEPLOYS": "deploys"})


def test_mrkdwn_formatting() -> None:
    html = mrkdwn_to_html("*web* _now_ ~old~ `1.2.3` and a snake_case_name", PEOPLE)
    assert html == ("<b>web</b> <i>now</i> <s>old</s> <code>1.2.3</code> and a snake_case_name")
    assert mrkdwn_to_html("```line 1\n*not bold* <@U0BOB>```") == (
        '<pre>line 1\n*not bold* <span class="mention" data-user="U0BOB">@U0BOB</span></pre>'
    )
    assert mrkdwn_to_html("> quoted\nplain") == "<blockquote>quoted</blockquote>plain"
    assert mrkdwn_to_html("a\nb :white_check_mark: :unknown_code: 09:00:00") == (
        "a<br>b \u2705 :unknown_code: 09:00:00"
    )


def test_mrkdwn_links_mentions_and_channels() -> None:
    html = mrkdwn_to_html(
        "<https://ci.example/run?a=1&amp;b=2|the logs> by <@U0BOB> in <#C0DEPLOYS> "
        "<#C0OTHER|other> <!here> <!subteam^S1|@sre> <!date^1700000000^{date}|Nov 14>",
        PEOPLE,
    )
    assert (
        '<a href="https://ci.example/run?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">the logs</a>'
    ) in html
    assert '<span class="mention" data-user="U0BOB">@bob</span>' in html
    assert 'data-channel="C0DEPLOYS">#deploys</a>' in html
    assert 'data-channel="C0OTHER">#other</a>' in html
    assert "@here" in html and "@sre" in html and "Nov 14" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        '<img src=x onerror="alert(1)">',
        "<javascript:alert(1)|click me>",
        '<https://ok.example/" onmouseover="alert(1)|x>',
        '<https://ok.example|<b onclick="alert(1)">x</b>>',
        "*<svg onload=alert(1)>*",
        "```<script>alert(1)</script>```",
        "`<iframe src=javascript:alert(1)>`",
        "<@U0BOB|<script>alert(1)</script>>",
        "\ue0000\ue001<script>",
    ],
)
def test_mrkdwn_cannot_inject_markup(text: str) -> None:
    html = mrkdwn_to_html(text, PEOPLE)
    # Parsed as a browser would: only the renderer's own tags and attributes, and links
    # only to http(s).
    for tag, attributes in _elements(html):
        assert tag in {"b", "i", "s", "code", "pre", "a", "span", "br", "blockquote"}, html
        for name, value in attributes:
            assert name in {"href", "target", "rel", "class", "data-user", "data-channel"}, html
            if name == "href":
                assert value == "#" or value.startswith("https://"), html


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_script_text_shows_as_text() -> None:
    assert mrkdwn_to_html("<script>alert(1)</script>") == ("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert plain_to_html('<b>"hi"</b>') == "&lt;b&gt;&quot;hi&quot;&lt;/b&gt;"


def test_message_blocks() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy <1>"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*web*"},
            "fields": [{"type": "mrkdwn", "text": "*Status*\nrunning"}],
            "accessory": {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "x"},
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "by <@U0BOB>"}]},
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "action_id": "deploy.approve",
                    "value": "secret-value-not-shown",
                    "style": "primary",
                }
            ],
        },
        {"type": "image", "image_url": "https://img.example/a.png", "alt_text": 'a "b"'},
        {"type": "video"},
    ]
    html = blocks_html(blocks, PEOPLE)
    assert '<h3 class="block header">Deploy &lt;1&gt;</h3>' in html
    assert '<div class="field"><b>Status</b><br>running</div>' in html
    assert "javascript:" not in html and "[image: x]" in html
    assert '<hr class="block divider">' in html
    assert "by <span" in html and "@bob" in html
    assert (
        '<button type="button" class="btn btn-primary" data-path="blocks/4/elements/0" '
        'data-action-id="deploy.approve">Approve</button>'
    ) in html
    assert "secret-value-not-shown" not in html  # the server reads values, the page never
    assert 'src="https://img.example/a.png" alt="a &quot;b&quot;"' in html
    assert "[video block]" in html
    assert find_element({"blocks": blocks}, "blocks/4/elements/0") == blocks[4]["elements"][0]
    assert find_element({"blocks": blocks}, "blocks/9/elements/0") is None


DEPLOY_FORM = {
    "id": "V1",
    "type": "modal",
    "title": {"type": "plain_text", "text": "Deploy"},
    "submit": {"type": "plain_text", "text": "Ask"},
    "blocks": [
        {
            "type": "input",
            "block_id": "service",
            "label": {"type": "plain_text", "text": "Service"},
            "element": {
                "type": "static_select",
                "action_id": "service",
                "options": [
                    {"text": {"type": "plain_text", "text": "<web>"}, "value": "web"},
                    {"text": {"type": "plain_text", "text": "api"}, "value": "api"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Commander"},
            "element": {"type": "users_select", "action_id": "who", "initial_user": "U0BOB"},
        },
        {
            "type": "input",
            "block_id": "reason",
            "optional": True,
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "why", "multiline": True},
        },
    ],
}


def test_modal_form_and_its_state_values() -> None:
    html = view_html(DEPLOY_FORM, PEOPLE)
    assert 'data-view-id="V1"' in html
    assert '<option value="0">&lt;web&gt;</option>' in html
    assert '<option value="U0BOB" selected>bob</option>' in html
    assert '<textarea name="reason"' in html and "(optional)" in html
    values = state_values(DEPLOY_FORM, {"service": "1", "who": "U0BOB", "reason": "because"})
    assert values == {
        "service": {
            "service": {
                "type": "static_select",
                "selected_option": DEPLOY_FORM["blocks"][0]["element"]["options"][1],
            }
        },
        "who": {"who": {"type": "users_select", "selected_user": "U0BOB"}},
        "reason": {"why": {"type": "plain_text_input", "value": "because"}},
    }
    empty = state_values(DEPLOY_FORM, {"service": "", "who": "", "reason": ""})
    assert missing_required(DEPLOY_FORM, empty) == {
        "service": "Please complete this required field.",
        "who": "Please complete this required field.",
    }
    assert missing_required(DEPLOY_FORM, values) == {}
