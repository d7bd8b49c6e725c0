"""The `shipbot dev` page in headless Chromium, driving the real bot: the production
deploy scenario (alice asks, bob and carol approve, it succeeds), the /deploy form, and
who sees what. Screenshots of each step go to test-output/browser-sandbox/.

Uses Debian's chromium through Playwright (``executable_path``; no browser download;
``SHIPBOT_CHROMIUM`` names another binary). Without it or the playwright package the
tests skip, saying why; with CI=true they fail instead, because CI installs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.dev import Sandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shipbot.yaml"
CHROMIUM = Path(os.environ.get("SHIPBOT_CHROMIUM", "/usr/bin/chromium"))
SHOTS = REPO / "test-output" / "browser-sandbox"
WAIT_MS = 30_000  # the longest any step may take (a deploy's rollout included)


def _browser_or_skip() -> Any:
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install them")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")
    monkeypatch.chdir(REPO)  # the example config runs examples/rollout.sh
    running = Sandbox(config_path=EXAMPLE)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def playwright_api() -> Any:
    """Playwright's sync entry point, or a skip (a failure on CI) saying what is missing."""
    return _browser_or_skip()


@pytest.fixture
def page(playwright_api: Any, sandbox: Sandbox) -> Iterator[Any]:
    # playwright_api comes first: without a browser, no sandbox is started for nothing.
    sync_playwright = playwright_api
    SHOTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(sandbox.url)
            yield page
            assert errors == [], f"the page's script failed: {errors}"
        finally:
            browser.close()


class Screen:
    """The page as a person uses it, with a screenshot after each step."""

    def __init__(self, page: Any, name: str) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.page = page
        self.name = name
        self.step = 0

    def shot(self, what: str) -> None:
        self.step += 1
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{self.step:02d}-{what}.png"))

    def be(self, user: str, channel: str) -> None:
        """Switch user and channel, and wait until the page shows them."""
        self.page.select_option("#user", user)
        # First the new user's screen (their modal, if any, or none), then the channel.
        self.page.wait_for_selector(f"body[data-shown-user='{user}']")
        self.page.click(f"nav a[data-channel='{channel}']")
        shown = f"body[data-shown-user='{user}'][data-shown-channel='{channel}']"
        self.page.wait_for_selector(shown)

    def type(self, text: str) -> None:
        self.page.fill("#composer-text", text)
        self.page.press("#composer-text", "Enter")
        # Cleared once the sandbox has sent it (the page's CSP forbids wait_for_function).
        self.expect(self.page.locator("#composer-text")).to_have_value("")

    def message(self, text: str) -> Any:
        return self.page.locator(".messages > .msg", has_text=text)


def test_production_deploy_with_two_approvals(page: Any) -> None:
    from playwright.sync_api import expect

    screen = Screen(page, "deploy")
    screen.be("U0ALICE", "C0DEPLOYS")
    screen.type("/deploy web 1.2.3 to production")
    answer = page.locator(".msg.ephemeral", has_text="waiting for 2 approval(s)")
    expect(answer).to_be_visible()
    card = screen.message("Deploy #1:")
    expect(card).to_contain_text("awaiting approval")
    screen.shot("alice-asked")

    # bob does not see alice's ephemeral answer, but does see the card.
    screen.be("U0BOB", "C0DEPLOYS")
    expect(card).to_contain_text("awaiting approval")
    expect(page.locator(".msg.ephemeral")).to_have_count(0)
    screen.shot("bob-sees-no-ephemeral")

    for approver, name, approved in (
        ("U0BOB", "bob", "1/2 approved"),
        ("U0CAROL", "carol", "2/2 approved"),
    ):
        screen.be(approver, "C0APPROVE")
        request = screen.message("to deploy")  # "asks", then "asked" once decided
        request.locator("button[data-action-id='deploy.approve']").click()
        expect(request).to_contain_text(approved)
        screen.shot(f"{name}-approved")

    screen.be("U0CAROL", "C0DEPLOYS")
    # The same message moved through its states in place and ends succeeded.
    expect(card).to_have_count(1)
    expect(card.locator(".field").first).to_contain_text("succeeded", timeout=WAIT_MS)
    expect(card).to_contain_text("2/2 approved by @bob, @carol")
    expect(card.locator(".thread")).to_contain_text("web 1.2.3 is live in production")
    screen.shot("succeeded")

    # bob's approval request also came as a direct message, now decided.
    page.select_option("#user", "U0BOB")
    page.locator("#dms a").click()
    expect(page.locator(".messages")).to_contain_text("Decided")
    expect(page.locator(".messages button[data-action-id='deploy.approve']")).to_have_count(0)
    screen.shot("bob-dm-decided")


def test_the_deploy_form(page: Any) -> None:
    from playwright.sync_api import expect

    screen = Screen(page, "form")
    screen.be("U0ALICE", "C0DEPLOYS")
    screen.type("/deploy")
    modal = page.locator(".overlay .modal")
    expect(modal).to_contain_text("Deploy")
    screen.shot("opened")

    modal.locator("select[name='service']").select_option(label="web")
    modal.locator("select[name='environment']").select_option(label="staging")
    modal.locator("input[name='version']").fill("not a version!")
    modal.locator(".modal-submit").click()
    expect(modal.locator("[data-error-for='version']")).to_contain_text("not a version")
    screen.shot("field-error")

    modal.locator("input[name='version']").fill("2.0.0")
    modal.locator("textarea[name='reason']").fill("<b>from the form</b>")
    modal.locator(".modal-submit").click()
    expect(page.locator(".overlay")).to_be_hidden()
    card = screen.message("Deploy #1:")
    expect(card.locator(".field").first).to_contain_text("succeeded")
    expect(card).to_contain_text("<b>from the form</b>")  # shown as typed, not as markup
    screen.shot("submitted")

    # Only alice had the form: bob never sees a modal.
    screen.type("/deploy")
    expect(modal).to_be_visible()
    screen.be("U0BOB", "C0DEPLOYS")
    expect(page.locator(".overlay")).to_be_hidden()


def test_message_text_cannot_run_script(page: Any) -> None:
    from playwright.sync_api import expect

    screen = Screen(page, "xss")
    screen.be("U0DAVE", "C0INCIDNT")
    screen.type('<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> hi @bob')
    message = screen.message("hi")
    expect(message).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(message.locator(".mention")).to_have_text("@bob")
    assert page.evaluate("window.pwned") is None
    assert message.locator("img, script").count() == 0
    screen.shot("escaped")
