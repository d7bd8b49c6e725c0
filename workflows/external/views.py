"""View keys of the messages outside events keep current (rule 3); commands/deploys
renders each prefix."""

from __future__ import annotations

EXTERNAL_DEPLOY_PREFIX = "deploy-ext:"  # a deploy recorded from GitHub or Argo CD
CI_PREFIX = "ci:"  # a failing (then fixed) workflow on a branch, one per episode
RELEASE_PREFIX = "release:"  # a published GitHub release


def external_deploy_view(deploy_id: int, incident_id: int | None = None) -> str:
    suffix = f":inc:{incident_id}" if incident_id is not None else ""
    return f"{EXTERNAL_DEPLOY_PREFIX}{deploy_id}{suffix}"


def ci_view(workflow_id: int, episode: int, incident_id: int | None = None) -> str:
    suffix = f":inc:{incident_id}" if incident_id is not None else ""
    return f"{CI_PREFIX}{workflow_id}:{episode}{suffix}"


def release_view(release_id: int) -> str:
    return f"{RELEASE_PREFIX}{release_id}"


def ids_of(view_key: str) -> list[int]:
    """The numbers after the prefix (``"ci:3:2:inc:9"`` -> [3, 2]), up to a non-number."""
    numbers: list[int] = []
    for part in view_key.split(":")[1:]:
        if not part.isdigit():
            break
        numbers.append(int(part))
    return numbers
