"""Log lines go through the redacting filter: no token reaches a log.

``SHIPBOT_LOG_FORMAT=json`` writes one JSON object a line (for a log pipeline), with the
fields of the request or job being handled (bot/log_context.py), all redacted.

Redaction happens when a record is *made* (a log record factory,
``redact_all_records``), so every handler sees redacted records, including ones
libraries or test harnesses attach to loggers of their own.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from bot import log_context
from workflows.redact import RedactingLogFilter, redact, register_secret

LogFormat = Literal["text", "json"]

_REDACTING = RedactingLogFilter()


def redact_all_records() -> None:
    """Make every log record of this process redacted at creation (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "shipbot_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _REDACTING.filter(record)
        return record

    factory.shipbot_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, context fields, exception.

    Runs after ``RedactingLogFilter`` (message and traceback already redacted); the
    context fields are redacted here, since they come from request payloads."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **redact(log_context.current()),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        # ensure_ascii: a lone surrogate from hostile input cannot break the line's encoding.
        return json.dumps(line, default=str, ensure_ascii=True)


def configure_logging(
    level: str = "INFO", *, secrets: tuple[str | None, ...] = (), fmt: LogFormat = "text"
) -> None:
    for secret in secrets:
        if secret:
            register_secret(secret)
    redact_all_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Uncaught exceptions would otherwise reach stderr unformatted and unredacted.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_uncaught


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    logging.getLogger("shipbot").critical("uncaught exception", exc_info=(kind, error, traceback))


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    logging.getLogger("shipbot").error(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
