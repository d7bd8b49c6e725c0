"""Names the incident flow parses or makes: severities and channel names."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from workflows.config.models import SEVERITIES, SeverityName
from workflows.errors import UserError

# Slack allows 80 characters; keep room for a "-NN" suffix after a name collision.
MAX_SLUG = 40
MAX_SUFFIX = 20
_SEVERITY_RE = re.compile(r"^(?:sev)?\s*([1-4])$", re.IGNORECASE)
_NON_NAME = re.compile(r"[^a-z0-9]+")


def parse_severity(word: str) -> SeverityName:
    """``SEV2``, ``sev2`` or ``2`` -> ``"SEV2"``; anything else is a ``UserError``."""
    match = _SEVERITY_RE.match(word.strip())
    if match is None:
        raise UserError(
            f"{word!r} is not a severity.",
            hint=f"Use one of {', '.join(SEVERITIES)} (SEV1 is the most severe).",
        )
    severity = f"SEV{match.group(1)}"
    assert severity in SEVERITIES
    return severity


def slugify(title: str) -> str:
    """A channel-name-safe slug of ``title``: lowercase ASCII, digits and single dashes."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _NON_NAME.sub("-", ascii_title.lower()).strip("-")
    slug = slug[:MAX_SLUG].rstrip("-")
    return slug or "incident"


def channel_base_name(*, prefix: str, declared_at: datetime, title: str) -> str:
    """``<prefix>-<yyyymmdd>-<slug>``, the date in UTC."""
    return f"{prefix}-{declared_at:%Y%m%d}-{slugify(title)}"


def channel_name_candidates(base: str) -> list[str]:
    """The names tried in order: ``base``, then ``base-2``, ``base-3``, ..."""
    return [base] + [f"{base}-{n}" for n in range(2, MAX_SUFFIX + 1)]
