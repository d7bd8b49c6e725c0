"""The App Home and the shortcuts in the `shipbot dev` page, in headless Chromium: bob
approves alice's production deploy from his Home and the buttons leave carol's Home too;
the "Declare incident" shortcut opens the declare form; "Add to incident timeline" on a
message in #deploys puts it on the incident's card with a link. Screenshots go to
test-output/browser-sandbox/ (fixtures and the browser as in test_browser_sandbox.py)."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_browser_sandbox import (  # noqa: F401  (pytest fixtures)
    Screen,
    page,
    playwright_api,
    sandbox,
)


def _open_home(screen: Screen, user: str) -> Any:
    screen.page.select_option("#user", user)
    screen.page.wait_for_selector(f"body[data-shown-user='{user}']")
    screen.page.click("#home-link")
    screen.page.wait_for_selector(f"body[data-shown-user='{user}'][data-shown-channel='home']")
    return screen.page.locator(".home-view")


def test_approve_from_home(page: Any) -> None:  # noqa: F811 (the imported fixture)
    from playwright.sync_api import expect

    screen = Screen(page, "home")
    screen.be("U0ALICE", "C0DEPLOYS")
    screen.type("/deploy web 1.2.3 to production")
    expect(page.locator(".msg.ephemeral", has_text="waiting for 2 approval(s)")).to_be_visible()

    # erin approves in the approvals channel; carol's and bob's Homes show what is left.
    screen.be("U0ERIN", "C0APPROVE")
    request = screen.message("to deploy")
    request.locator("button[data-action-id='deploy.approve']").click()
    expect(request).to_contain_text("1/2 approved")
    carol = _open_home(screen, "U0CAROL")
    expect(carol.locator("button[data-action-id='deploy.approve']")).to_have_count(1)
    screen.shot("carol-home-waiting")

    bob = _open_home(screen, "U0BOB")
    expect(bob).to_contain_text("Waiting on you")
    expect(bob).to_contain_text("1/2 approved")
    bob.locator("button[data-action-id='deploy.approve']").click()
    expect(bob).to_contain_text("No deploy is waiting for your approval")
    expect(bob.locator("button[data-action-id='deploy.approve']")).to_have_count(0)
    screen.shot("bob-approved-from-home")

    carol = _open_home(screen, "U0CAROL")
    expect(carol).to_contain_text("No deploy is waiting for your approval")
    expect(carol.locator("button")).to_have_count(0)
    screen.be("U0CAROL", "C0APPROVE")
    expect(request).to_contain_text("2/2 approved")
    expect(request.locator("button[data-action-id='deploy.approve']")).to_have_count(0)
    # alice's Home lists her deploy with its state.
    alice = _open_home(screen, "U0ALICE")
    expect(alice).to_contain_text("Your recent deploys")
    expect(alice).to_contain_text("succeeded")
    screen.shot("alice-home")


def test_declare_and_add_a_message_to_the_timeline(page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    screen = Screen(page, "shortcuts")
    screen.be("U0DAVE", "C0DEPLOYS")
    page.click("#shortcut-declare")  # the global shortcut: the declare form
    modal = page.locator(".overlay .modal")
    expect(modal).to_contain_text("Declare an incident")
    modal.locator("input[name='title']").fill("Checkout errors")
    modal.locator(".modal-submit").click()
    expect(page.locator(".overlay")).to_be_hidden()
    screen.shot("declared")

    screen.type("web 1.2.2 rolled out at 10:02")
    said = screen.message("rolled out at 10:02")
    said.locator("button[data-shortcut='add_to_timeline']").click()
    expect(modal).to_contain_text("Add to timeline")
    expect(modal).to_contain_text("rolled out at 10:02")
    modal.locator("select[name='incident']").select_option(index=1)
    screen.shot("pick-incident")
    modal.locator(".modal-submit").click()
    expect(page.locator(".overlay")).to_be_hidden()

    channel = page.locator("nav a[data-channel]", has_text="checkout-errors")
    expect(channel).to_have_count(1)
    channel.click()
    card = screen.message("Checkout errors")
    expect(card).to_contain_text("added a message from @dave")
    expect(card.locator("a", has_text="a message")).to_have_attribute("href", _permalink())
    screen.shot("cited-on-card")


def _permalink() -> Any:
    import re

    return re.compile(r"^https://[^/]+\.slack\.com/archives/C0DEPLOYS/p\d+$")
