"""Log lines go through the redacting filter: no token reaches a log."""

from __future__ import annotations

import logging
import sys

from workflows.redact import RedactingLogFilter, register_secret


def configure_logging(level: str = "INFO", *, secrets: tuple[str | None, ...] = ()) -> None:
    for secret in secrets:
        if secret:
            register_secret(secret)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
