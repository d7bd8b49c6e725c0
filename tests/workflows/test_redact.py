"""Secret redaction: by key, by shape, by registered value, and in log records."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from workflows.redact import (
    REDACTED,
    RedactingLogFilter,
    _known,
    forget_secret,
    is_secret_key,
    redact,
    redact_shapes,
    redact_text,
    register_secret,
)

SLACK_BOT = "xox" + "b-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"  # split: not a real token
GITHUB_PAT = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA7v1x\nq2w3e4r5t6y7u8i9o0p\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token is {SLACK_BOT}.", f"token is {REDACTED}."),
        ("user " + "xox" + "p-11-22-33-abcdef here", f"user {REDACTED} here"),
        ("rotating xoxe.xoxp-1-Mi0yLTE here", f"rotating {REDACTED} here"),
        ("app xapp-1-A0123-456-abcdef0123", f"app {REDACTED}"),
        ("key " + "AKIA" + "IOSFODNN7EXAMPLE used", f"key {REDACTED} used"),
        ("sts ASIAY34FZKBOKMUTVV7A ok", f"sts {REDACTED} ok"),
        (f"aws_secret_access_key = {AWS_SECRET}", f"aws_secret_access_key = {REDACTED}"),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", f"AWS_SECRET_ACCESS_KEY={REDACTED}"),
        (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', f'{{"SecretAccessKey": "{REDACTED}"}}'),
        (f"push with {GITHUB_PAT}", f"push with {REDACTED}"),
        ("gho_16C7e42F292c6912E7710c838347Ae178B4a x", f"{REDACTED} x"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", REDACTED),
        ("curl -H 'Authorization: Bearer abc.def-ghi_jkl'", f"curl -H 'Authorization: {REDACTED}'"),
        ("sent Bearer eyJhbGciOi.eyJzdWIiOi.sig and more", f"sent Bearer {REDACTED} and more"),
        ("auth Basic dXNlcjpodW50ZXIy end", f"auth Basic {REDACTED} end"),
        (f"key:\n{PEM}\ndone", f"key:\n{REDACTED}\ndone"),
        ("tail -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", f"tail {REDACTED}"),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----!",
            f"{REDACTED}!",
        ),
        (
            "postgresql://shipbot:s3cr3t-pw@db.internal:5432/shipbot",
            f"postgresql://shipbot:{REDACTED}@db.internal:5432/shipbot",
        ),
        (
            "GET https://x.s3.amazonaws.com/a?X-Amz-Signature=abc123&part=1",
            f"GET https://x.s3.amazonaws.com/a?X-Amz-Signature={REDACTED}&part=1",
        ),
        ("https://h/cb?a=1&sig=deadbeef#top", f"https://h/cb?a=1&sig={REDACTED}#top"),
        ("https://h/x?token=abcdef&page=2", f"https://h/x?token={REDACTED}&page=2"),
        ("signature=v0:abcdef0123 rest", f"signature={REDACTED} rest"),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
            f"https://hooks.slack.com/services/{REDACTED}",
        ),
        ("password=hunter2 user=bob", f"password={REDACTED} user=bob"),
        ('{"client_secret": "a b c", "n": 1}', f'{{"client_secret": "{REDACTED}", "n": 1}}'),
        ("export SLACK_SIGNING_SECRET=8f742231b10e8888", f"export SLACK_SIGNING_SECRET={REDACTED}"),
        ("Cookie: session=abc; theme=dark", f"Cookie: {REDACTED}"),
    ],
)
def test_token_shapes_are_redacted_in_place(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "deploy api to production at 09:00",
        "Basic setup done",  # "Basic" followed by a word, not base64 user:password
        "Basic aGVsbG8=",  # base64 of "hello": no user:password in it
        "the token expired, retry",
        "max_tokens=5 tokens: 3",
        "ssh://git@github.com/acme/api.git",
        "see https://example.com/a?page=2&sort=asc",
        "xoxb- is the prefix of a bot token",
        "AKIA1234",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        f"a {SLACK_BOT} b",
        "Authorization: Bearer abcdefghijkl",
        "postgresql://u:pw123456@h/db",
        '{"password": "x"}',
        f"{PEM} and password=p4ss",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert once != text
    assert redact_text(once) == once


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "Token",
        "bot_token",
        "X-Auth-Token",
        "sessionToken",
        "secret",
        "client_secret",
        "signing-secret",
        "password",
        "DB_PASSWD",
        "Authorization",
        "api_key",
        "apiKey",
        "x-api-key",
        "private_key",
        "access_key",
        "secret_access_key",
        "cookie",
        "Set-Cookie",
        "credentials",
        "webhook_url",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["service", "secret_name", "token_count", "max_tokens", "public_key", "channel"]
)
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_values_under_secret_keys_are_replaced_whole_at_any_depth() -> None:
    params = {
        "service": "api",
        "token": "not-token-shaped",
        "nested": {"Client-Secret": {"a": 1}, "missing_token": None},
        "items": [{"password": 42}, ("tuple", f"got {SLACK_BOT}")],
        "tags": {"safe"},
    }
    assert redact(params) == {
        "service": "api",
        "token": REDACTED,
        "nested": {"Client-Secret": REDACTED, "missing_token": None},
        "items": [{"password": REDACTED}, ("tuple", f"got {REDACTED}")],
        "tags": {"safe"},
    }


def test_redact_copies_and_never_mutates_its_input() -> None:
    params = {"token": "abcdefgh", "list": [SLACK_BOT]}
    result = redact(params)
    assert params == {"token": "abcdefgh", "list": [SLACK_BOT]}
    assert result is not params and result["list"] is not params["list"]


def test_secret_str_renders_redacted_anywhere() -> None:
    assert redact(SecretStr("hunter2hunter2")) == REDACTED
    assert redact({"config": [SecretStr("x")]}) == {"config": [REDACTED]}
    assert redact(7) == 7 and redact(None) is None


@pytest.fixture
def registered() -> Iterator[list[str]]:
    values: list[str] = []
    yield values
    for value in values:
        forget_secret(value)


def test_registered_secrets_are_redacted_even_without_a_shape(registered: list[str]) -> None:
    signing_secret = "8f742231b10e8888abc"
    registered.append(signing_secret)
    assert redact_text(f"sig {signing_secret}!") == f"sig {signing_secret}!"
    register_secret(signing_secret)
    assert redact_text(f"sig {signing_secret}!") == f"sig {REDACTED}!"
    assert redact({"note": f"x{signing_secret}y"}) == {"note": f"x{REDACTED}y"}


def test_longest_registered_secret_wins(registered: list[str]) -> None:
    registered.extend(["abcdef", "abcdefghij"])
    register_secret("abcdef")
    register_secret(SecretStr("abcdefghij"))
    assert redact_text("<abcdefghij>") == f"<{REDACTED}>"


def test_short_and_empty_secrets_are_ignored(registered: list[str]) -> None:
    registered.append("abc12")
    register_secret("abc12")
    register_secret("")
    register_secret(None)
    assert redact_text("abc12 is short") == "abc12 is short"


def test_registration_is_thread_safe(registered: list[str]) -> None:
    values = [f"known-secret-{n:04d}" for n in range(200)]
    registered.extend(values)
    barrier = threading.Barrier(4)

    def register(chunk: list[str]) -> None:
        barrier.wait()
        for value in chunk:
            register_secret(value)

    threads = [threading.Thread(target=register, args=(values[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = " ".join(values)
    assert redact_text(text) == " ".join([REDACTED] * len(values))


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingLogFilter())
    logger = logging.getLogger("tests.redact.captured")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_log_filter_redacts_message_and_arguments(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("posting with %s to %s", SLACK_BOT, "postgresql://u:pw9999@db/x")
    logger.warning({"token": "plain"})  # a non-string message is formatted then redacted
    logger.info("password=%s", "hunter2")
    lines = stream.getvalue().splitlines()
    assert lines == [
        f"INFO posting with {REDACTED} to postgresql://u:{REDACTED}@db/x",
        f"WARNING {{'token': '{REDACTED}'}}",
        f"INFO password={REDACTED}",
    ]


def test_log_filter_redacts_tracebacks(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"slack refused {SLACK_BOT}")
    except RuntimeError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert "RuntimeError: slack refused [redacted]" in output
    assert SLACK_BOT not in output


def test_log_filter_survives_a_bad_format_string_without_leaking(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.error("bad %d format", f"password={'hunter2'}")
    output = stream.getvalue()
    assert "bad %d format" in output
    assert "hunter2" not in output


# --- the shared corpus (tests/secret_corpus.py), also posted end to end ---------------
from tests.secret_corpus import READABLE, SECRETS  # noqa: E402


def test_the_corpus_has_at_least_twenty_shapes() -> None:
    assert len({secret.name for secret in SECRETS}) >= 20


@pytest.mark.parametrize("secret", SECRETS, ids=lambda secret: secret.name)
def test_every_corpus_secret_is_redacted(secret: object) -> None:
    from tests.secret_corpus import Secret

    assert isinstance(secret, Secret)
    redacted = redact_text(secret.sentence)
    assert secret.raw not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize("text", READABLE)
def test_technical_text_stays_readable(text: str) -> None:
    assert redact_text(text) == text


def test_a_slack_permalink_is_not_mistaken_for_an_aws_secret() -> None:
    # "com/archives/C0123ABCD/p1767000000000300" is 40 characters of the AWS secret shape.
    link = "https://acme.slack.com/archives/C0123ABCD/p1767000000000300"
    assert redact_text(f"<{link}|a message>") == f"<{link}|a message>"
    # The same shape elsewhere, and a key that only follows "slack.", are still redacted.
    assert "wJalr" not in redact_text("slack.wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert "com/archives" not in redact_text("x com/archives/C0123ABCD/p1767000000000300")


# The pre-filter in redact_text skips the shape rules for text that has nothing any rule
# needs; it must never change an answer. Fragments of every rule, glued with noise.
_FRAGMENTS = (
    "xoxb-",
    "xapp-",
    "AKIA",
    "ASIA",
    "ghp_",
    "github_pat_",
    "eyJ",
    "AIza",
    "sk_live_",
    "rk_test_",
    "npm_",
    "glpat-",
    "bearer ",
    "Basic ",
    "-----BEGIN PRIVATE KEY-----",
    "password",
    "token",
    "secret",
    "api_key",
    ":",
    "=",
    "@",
    "://",
    "?sig=",
    "&code=",
    "Cookie",
    "hooks.slack.com/services/",
    "dXNlcjpwYXNz",
    "AbCdEfGhIjKlMnOp",
    "0123456789",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "-",
    "_",
    ".",
    " ",
    "\n",
)


@given(
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)), max_size=12).map("".join)
)
@settings(max_examples=3000, deadline=None, derandomize=True)
def test_the_pre_filter_never_changes_the_answer(text: str) -> None:
    assert redact_text(text) == _without_filter(text)


def test_the_pre_filter_agrees_on_the_corpus() -> None:
    texts = [secret.sentence for secret in SECRETS] + list(READABLE)
    for text in texts:
        assert redact_text(text) == _without_filter(text), text


def _without_filter(text: str) -> str:
    """What redact_text gave before the pre-filter: every rule, then registered values."""
    text = redact_shapes(text)
    known = _known.pattern
    return known.sub(REDACTED, text) if known is not None else text
