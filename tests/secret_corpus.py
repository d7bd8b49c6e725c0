"""Secret shapes that must never leave shipbot raw (issue 9 item 2), and technical text
that must stay readable. Shared by the unit test of ``workflows.redact`` and the
end-to-end test that posts each secret through Slack and webhooks.

Each secret is assembled from pieces so this file never holds a scannable live token.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Secret:
    name: str
    raw: str  # the part that must never appear in anything shipbot sends or logs
    sentence: str  # how a person would paste it

    @staticmethod
    def said(name: str, raw: str, template: str = "see {} now") -> Secret:
        return Secret(name, raw, template.format(raw))


_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
_JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiJib2IiLCJhZG1pbiI6dHJ1ZX0.c2lnbmF0dXJlLXBhcnQ"

SECRETS: tuple[Secret, ...] = (
    Secret.said("slack bot token", "xox" + "b-1234567890-0987654321-AbCdEfGhIjKlMnOp"),
    Secret.said("slack user token", "xox" + "p-1234567890-0987654321-1122334455-abcdef12"),
    Secret.said("slack app token", "xa" + "pp-1-A0123456789-1234567890-abcdef0123456789"),
    Secret.said("slack refresh token", "xox" + "e-1-abcdefABCDEF0123456789"),
    Secret.said(
        "slack webhook url", "https://hooks.slack.com/services/T0001/B0002/" + "XyZ0123456789abcDEF"
    ),
    Secret.said("slack workflow url", "https://hooks.slack.com/workflows/T01/A02/" + "3456/abcDEF"),
    Secret.said("aws access key", "AKIA" + "IOSFODNN7EXAMPLE"),
    Secret.said("aws session key", "ASIA" + "Y34FZKBOKMUTVV7A"),
    Secret.said("aws secret key, bare", _AWS_SECRET),
    Secret("aws secret key, assigned", _AWS_SECRET, f"aws_secret_access_key={_AWS_SECRET}"),
    Secret.said("github classic token", "gh" + "p_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    Secret.said("github oauth token", "gh" + "o_16C7e42F292c6912E7710c838347Ae178B4a"),
    Secret.said(
        "github fine-grained token", "github_pat_11ABCDEFG0" + "123456789_abcdefghijklmnopqrst"
    ),
    Secret.said("jwt", _JWT),
    Secret.said(
        "pem rsa key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7v1xq2w3e4r5\n"
        "-----END RSA PRIVATE KEY-----",
        "key:\n{}\nend",
    ),
    Secret.said(
        "pem openssh key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----",
        "key:\n{}\nend",
    ),
    Secret("password pair", "hunter2-Pw", "db password=hunter2-Pw please"),
    Secret("token pair", "tk-81b3f2a9c", "use token: tk-81b3f2a9c for the api"),
    Secret("api key pair", "k3y-9d8c7b6a", "api_key=k3y-9d8c7b6a"),
    Secret(
        "url with user:pass", "s3cr3t-Pa55", "db at postgresql://app:s3cr3t-Pa55@db.internal/app"
    ),
    Secret(
        "authorization bearer", "abc.def-ghi_jkl0123", "Authorization: Bearer abc.def-ghi_jkl0123"
    ),
    Secret("authorization basic", "dXNlcjpodW50ZXIy", "Authorization: Basic dXNlcjpodW50ZXIy"),
    Secret.said("google api key", "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    Secret.said("stripe live key", "sk_" + "live_51H8abcDEFghiJKLmnoPQRst"),
    Secret.said("npm token", "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    Secret.said("gitlab token", "glpat-" + "x1Y2z3A4b5C6d7E8f9G0"),
)

# Technical text that looks a little like a secret and must come out unchanged.
READABLE: tuple[str, ...] = (
    "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "request 123e4567-e89b-12d3-a456-426614174000",
    "version 1.14.2",
    "version v2.0.0-rc.1+build.7",
    "image sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "short sha 3f2a9c1",
)
