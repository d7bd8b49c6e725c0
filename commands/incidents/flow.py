"""Running one incident change from Slack: its transaction, and its typed refusals worded
for Slack (who may instead, with the refusal audited; an example command; mentions).

Shared by the slash commands (``handlers``) and the card's buttons and forms (``actions``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from commands.common.permissions import audited_refusals, mention
from commands.common.reply import SlashCommand
from commands.common.seams import Deps
from workflows.config.models import ShipbotConfig
from workflows.errors import Conflict, NotFound, UserError
from workflows.incidents.errors import AlreadyInRole, AlreadySnoozed, EmptyText, TextField

LIST_HINT = "`/incident list` shows the open incidents."
EXAMPLES: dict[TextField, str] = {
    "title": "/incident declare SEV2 web Checkout errors",
    "status": "/incident status identified bad config",
    "note": "/incident note rolled back web to 1.4.1",
    "summary": "/incident resolve cache config reverted",
    "follow_up": "/incident followup - [ ] alert on cache misses",
    "reopen": "/incident reopen errors are back",
}


def config_of(deps: Deps) -> ShipbotConfig:
    # Incidents work on the defaults (SEV1-SEV4, anyone may declare) without a config.
    return deps.config if deps.config is not None else ShipbotConfig()


@contextmanager
def worded(deps: Deps, *, delivery_key: str, channel: str | None) -> Iterator[None]:
    """The incident flows' typed refusals as Slack answers; a permission refusal is
    audited (after the refused change rolled back)."""
    with audited_refusals(deps, config_of(deps), delivery_key=delivery_key, channel=channel):
        try:
            yield
        except EmptyText as error:
            raise UserError(
                error.message, hint=f"For example `{EXAMPLES[error.field]}`."
            ) from error
        except AlreadyInRole as error:
            raise UserError(f"{mention(error.user)} is the {error.role} already.") from error
        except AlreadySnoozed as error:
            raise Conflict(f"{mention(error.by)} snoozed this reminder already.") from error
        except NotFound as error:
            raise NotFound(error.message, hint=error.hint or LIST_HINT) from error


def change(
    deps: Deps,
    flow: Callable[..., Any],
    *,
    delivery_key: str,
    channel: str | None = None,
    **arguments: Any,
) -> Any:
    """Run one workflow change in its own transaction, then wake the worker for its jobs."""
    # The refusal is worded outside the transaction, which has rolled back by then.
    with (
        worded(deps, delivery_key=delivery_key, channel=channel),
        deps.database.transaction() as session,
    ):
        result = flow(
            session=session,
            clock=deps.clock,
            delivery_key=delivery_key,
            channel=channel,
            **arguments,
        )
    deps.wake_worker()
    return result


def by(command: SlashCommand) -> dict[str, Any]:
    """Who asked, where, and the delivery to claim (the same for every change)."""
    return {
        "actor": command.user_id,
        "delivery_key": command.delivery_key,
        "channel": command.channel_id,
    }


def checked(deps: Deps) -> dict[str, Any]:
    """What the permission rules of a change read: the config and the user-group directory."""
    return {"config": config_of(deps), "directory": deps.directory}
