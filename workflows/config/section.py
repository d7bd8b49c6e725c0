"""The base of every config model, and small validators several sections share."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def owner_slash_name(value: str) -> str:
    """A GitHub repository as ``owner/name``, or a config error saying so."""
    if not _REPO_RE.fullmatch(value):
        raise PydanticCustomError("repo", f"expected 'owner/name', got {value!r}")
    return value


class Section(BaseModel):
    """Base of every config model: unknown keys are errors, and a loaded config is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
