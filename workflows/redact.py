"""Secret redaction: nothing token-shaped reaches the audit log, a log line or Slack.

Two nets, because neither is enough alone:

* by *name*: a value stored under a secret-ish key (``token``, ``client_secret``,
  ``X-Api-Key``, ``sessionToken`` ...) is replaced whole, whatever it looks like;
* by *shape*: token-shaped substrings of any string (Slack and GitHub tokens, AWS key ids,
  bearer credentials, PEM private keys, passwords in URLs, signed query parameters,
  ``password=...`` assignments) are replaced where they stand, so the rest of the text
  stays readable.

Values the process knows to be secret (the signing secret, the bot token, HMAC secrets
from the config) are registered with :func:`register_secret` and replaced wherever they
appear, even when they look like nothing in particular.

Redaction errs on the side of hiding: a false positive costs a little readability, a
false negative leaks a credential into an append-only log that cannot be cleaned.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

from pydantic import SecretBytes, SecretStr

REDACTED = "[redacted]"

# Registered values shorter than this are ignored: replacing "abc" everywhere would shred
# ordinary text and hides nothing worth hiding.
MIN_SECRET_LENGTH = 6

# Compared against the key with case and separators removed, so ``client_secret``,
# ``Client-Secret`` and ``clientSecret`` all become ``clientsecret``.
_SECRET_KEY_SUFFIXES = (
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "authorization",
    "apikey",
    "privatekey",
    "accesskey",
    "cookie",
    "credential",
    "credentials",
    "signature",
    "webhookurl",
)


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``X-Auth-Token``, ``dbPassword``)."""
    compact = re.sub(r"[\s_\-.]", "", str(key)).lower()
    return compact.endswith(_SECRET_KEY_SUFFIXES)


_NOT_ALREADY = r"(?!\[redacted\])"

# (pattern, replacement) pairs applied in order; each replacement keeps the context that
# tells a reader what was there (the header name, the URL host, the PEM armour type).
_PEM = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY((?: BLOCK)?)-----.*?(?:-----END \1PRIVATE KEY\2-----|\Z)",
    re.DOTALL,
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/?#@:]*):[^\s/?#@]+@")
_SLACK_WEBHOOK = re.compile(
    r"(https?://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_\-]+"
)
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"code|key|token|access_token|refresh_token|secret|client_secret|password|api_key|apikey)"
    r"=)[^&#\s\"'<>]+"
)
# A header whose whole value is a credential, up to the end of the line or the quote.
_HEADER_SECRET = re.compile(
    r"(?i)(?<![A-Za-z0-9_\-])((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|"
    r"x-auth-token)([\"']?\s*[:=]\s*[\"']?)" + _NOT_ALREADY + r"[^\s\"'][^\"'\r\n]*"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+" + _NOT_ALREADY + r"[A-Za-z0-9\-._~+/]{8,}=*")
_BASIC = re.compile(r"(?i)\b(basic)\s+([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])")
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"xox[abposre](?:\.xox[abposr])?-[A-Za-z0-9\-]{4,}"  # Slack bot/user/config tokens
    r"|xapp-[A-Za-z0-9\-]{4,}"  # Slack app-level tokens (socket mode)
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{20,}"  # GitHub fine-grained tokens
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"  # JWTs
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe secret and restricted keys
    r"|npm_[A-Za-z0-9]{36}"  # npm tokens
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab personal access tokens
    r")"
)
# A bare AWS secret access key: exactly 40 base64 characters standing alone.
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
# ``password=hunter2``, ``"client_secret": "..."``, ``AWS_SECRET_ACCESS_KEY=...``.
_ASSIGNMENT = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]*?(?:token|secret|password|passwd|passphrase|"
    r"api[_\-]?key|private[_\-]?key|access[_\-]?key|credentials?|signature))"
    r"([\"']?\s*[:=]\s*)" + _NOT_ALREADY + r"(\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^\s\"'&,;<>)}\]]+)"
)


def _basic(match: re.Match[str]) -> str:
    # "Basic" is also an English word: only a base64 "user:password" is a credential.
    try:
        decoded = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return f"{match.group(1)} {REDACTED}" if b":" in decoded else match.group(0)


_PERMALINK_PATH = re.compile(r"com/archives/[A-Z0-9]+/p[0-9]+")


def _aws_secret(match: re.Match[str]) -> str:
    # Git SHAs are 40 characters too: only mixed case with digits is a key's randomness.
    value = match.group(0)
    # A Slack permalink's path can be exactly 40 such characters after "slack."
    # ("com/archives/C0123ABCD/p1767000000000300"); it is a link, not a key.
    before = match.string[max(0, match.start() - 6) : match.start()]
    if before == "slack." and _PERMALINK_PATH.fullmatch(value):
        return value
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return REDACTED if mixed and any(c.isdigit() for c in value) else value


def _assignment(match: re.Match[str]) -> str:
    value = match.group(3)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{match.group(2)}{quote}{REDACTED}{quote}"


_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_PEM, REDACTED),
    (_URL_PASSWORD, rf"\1:{REDACTED}@"),
    (_SLACK_WEBHOOK, rf"\1{REDACTED}"),
    (_QUERY_SECRET, rf"\1{REDACTED}"),
    (_HEADER_SECRET, rf"\1\2{REDACTED}"),
    (_BEARER, rf"\1 {REDACTED}"),
    (_BASIC, _basic),
    (_TOKENS, REDACTED),
    (_AWS_SECRET, _aws_secret),
    (_ASSIGNMENT, _assignment),
)


# Something every rule above needs in what it matches: a ``:``/``=``/``@`` (URLs,
# headers, query strings, assignments), a keyword, a token prefix, or a 40-character run.
# Text with none of them (most alert labels, names, versions) cannot match any rule, so
# one search spares it ten substitutions. tests/workflows/test_redact.py checks that the
# answer is the same with and without this filter.
_MAYBE_SHAPED = re.compile(
    r"(?i)[:=@]|bearer|basic|-----BEGIN|xox|xapp|AKIA|ASIA|gh[pousr]_|github_pat_|eyJ|AIza"
    r"|[sr]k_|npm_|glpat-|[A-Za-z0-9/+]{40}"
)


def redact_shapes(text: str) -> str:
    """Every shape rule applied to ``text`` in order (no filter, no registered values)."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class _KnownSecrets:
    """The exact values registered as secret, as one compiled alternation.

    Writers rebuild the pattern under a lock; readers take the current pattern without
    one (an attribute read is atomic), so redaction never waits on registration."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def _rebuild(self) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(self._values, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def add(self, value: str) -> None:
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._rebuild()

    def discard(self, value: str) -> None:
        with self._lock:
            if value in self._values:
                self._values.discard(value)
                self._rebuild()


_known = _KnownSecrets()


def register_secret(value: str | SecretStr | None) -> None:
    """Redact this exact value wherever it appears from now on (thread-safe).

    Call it for every secret the process loads (signing secret, bot and app tokens, HMAC
    secrets of webhooks). ``None``, empty and short values (under
    ``MIN_SECRET_LENGTH`` characters) are ignored.
    """
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value and len(value) >= MIN_SECRET_LENGTH:
        _known.add(value)


def forget_secret(value: str) -> None:
    """Stop redacting a value given to :func:`register_secret` (a rotated secret, a test)."""
    _known.discard(value)


def registered_secrets() -> frozenset[str]:
    """The values :func:`register_secret` was given (for tests that must restore them)."""
    with _known._lock:
        return frozenset(_known._values)


def redact_text(text: str) -> str:
    """``text`` with every known secret and token-shaped substring replaced by ``[redacted]``.

    For log lines, command output tails, error messages and anything shown in Slack.
    Idempotent: redacting twice gives the same text as redacting once.
    """
    # Shapes first: a whole token is masked whole even when a registered value is a
    # prefix of it; registered values then catch secrets that have no telltale shape.
    if _MAYBE_SHAPED.search(text) is not None:
        text = redact_shapes(text)
    known = _known.pattern
    if known is not None:
        text = known.sub(REDACTED, text)
    return text


def redact(value: Any) -> Any:
    """A redacted deep copy of ``value``; the input is never modified.

    Mappings, lists, tuples and sets are copied with their items redacted; a value under a
    secret-ish key (see :func:`is_secret_key`) becomes ``[redacted]`` whole (``None``
    stays ``None``: "not set" is not a secret); strings go through :func:`redact_text`;
    pydantic ``SecretStr``/``SecretBytes`` render as ``[redacted]``. Other values
    (numbers, booleans, datetimes, enums) are returned as they are.
    """
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: (REDACTED if item is not None else None) if is_secret_key(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    if isinstance(value, set | frozenset):
        return type(value)(redact(item) for item in value)
    return value


class RedactingLogFilter(logging.Filter):
    """Redacts each record before a handler writes it.

    The message is formatted with its arguments first (a token passed as ``%s`` argument
    is caught too), then redacted; the traceback and stack text are redacted the same
    way. Attach it to *handlers* (``handler.addFilter(RedactingLogFilter())``): a filter
    on a logger does not see records propagated from its child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A bad format string still must not leak its arguments.
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
