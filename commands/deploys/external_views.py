"""Block Kit for what outside systems report: deploys made by GitHub or Argo CD, failing
(then fixed) CI workflows, and GitHub releases. Pure functions of the stored rows; every
outside text is escaped and every link checked before it is shown."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session

from commands.common.reply import context, escape, section
from commands.common.seams import RenderedMessage, Renderer
from commands.deploys.views import STATE_LABELS
from workflows.deploys import queries
from workflows.deploys.models import Deploy
from workflows.external.ci import get_workflow
from workflows.external.models import CiState, CiWorkflow, ExternalRelease
from workflows.external.releases import get_release
from workflows.external.views import (
    CI_PREFIX,
    EXTERNAL_DEPLOY_PREFIX,
    RELEASE_PREFIX,
    ids_of,
)

_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")
SOURCE_NAMES = {"github": "GitHub", "argocd": "Argo CD"}


def _link(url: str | None, label: str) -> str:
    return f"<{url}|{label}>" if url and _SAFE_URL.match(url) else ""


def _joined(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def external_deploy_message(deploy: Deploy) -> tuple[str, list[dict[str, Any]]]:
    """A deploy shipbot did not run: what, where, by whom, its state. No buttons."""
    source = SOURCE_NAMES.get(deploy.source, escape(deploy.source))
    emoji, label = STATE_LABELS.get(deploy.state, (":grey_question:", deploy.state))
    title = (
        f"{source} deploy #{deploy.id}: *{escape(deploy.service)}* "
        f"`{escape(deploy.version)}` to *{escape(deploy.environment)}*"
    )
    text = f"{source} deploy of {deploy.service} {deploy.version} to {deploy.environment}: {label}"
    notes = _joined(
        f"by {escape(deploy.requested_by)}",
        f"started {deploy.requested_at:%Y-%m-%d %H:%M} UTC",
        _link(deploy.logs_url, "details"),
    )
    return escape(text), [section(f"{title}\n{emoji} {label}"), context(notes)]


def ci_message(row: CiWorkflow) -> tuple[str, list[dict[str, Any]]]:
    """A workflow failing on a branch, or fixed again."""
    where = f"{row.workflow} on {row.branch} ({row.repository})"
    if row.state == CiState.fixed:
        head = f":white_check_mark: *Fixed*: {escape(where)}"
        text = f"Fixed: {where}"
        detail = f"after {row.failures} failed run{'s' if row.failures != 1 else ''}"
    else:
        head = f":x: *Failing*: {escape(where)}"
        text = f"Failing: {where}"
        detail = f"{row.failures} failed run{'s' if row.failures != 1 else ''} in a row"
    notes = _joined(
        escape(detail),
        f"service *{escape(row.service)}*",
        f"run {row.run_number}" + (f" by {escape(row.actor)}" if row.actor else ""),
        f"`{escape(row.head_sha[:7])}`" if row.head_sha else "",
        _link(row.run_url, "run"),
    )
    return escape(text), [section(head), context(notes)]


def release_message(row: ExternalRelease) -> tuple[str, list[dict[str, Any]]]:
    kind = "Pre-release" if row.prerelease else "Release"
    name = f" {row.name}" if row.name and row.name != row.tag else ""
    text = f"{kind} {row.tag}{name} of {row.service} published"
    head = (
        f":package: *{kind}* `{escape(row.tag)}`{escape(name)} of *{escape(row.service)}* published"
    )
    notes = _joined(
        escape(row.repository),
        f"by {escape(row.author)}" if row.author else "",
        _link(row.url, "release notes"),
    )
    return escape(text), [section(head), context(notes)]


def _external_deploy(session: Session, view_key: str) -> RenderedMessage | None:
    ids = ids_of(view_key)
    deploy = queries.get_deploy(session=session, deploy_id=ids[0]) if ids else None
    if deploy is None:
        return None
    text, blocks = external_deploy_message(deploy)
    return RenderedMessage(text=text, blocks=blocks)


def _ci(session: Session, view_key: str) -> RenderedMessage | None:
    ids = ids_of(view_key)
    row = get_workflow(session=session, workflow_id=ids[0]) if len(ids) == 2 else None
    if row is None or row.episode != ids[1]:
        return None  # a later episode has its own message; this one stays as it was
    text, blocks = ci_message(row)
    return RenderedMessage(text=text, blocks=blocks)


def _release(session: Session, view_key: str) -> RenderedMessage | None:
    ids = ids_of(view_key)
    row = get_release(session=session, release_id=ids[0]) if ids else None
    if row is None:
        return None
    text, blocks = release_message(row)
    return RenderedMessage(text=text, blocks=blocks)


RENDERERS: dict[str, Renderer] = {
    EXTERNAL_DEPLOY_PREFIX: _external_deploy,
    CI_PREFIX: _ci,
    RELEASE_PREFIX: _release,
}
