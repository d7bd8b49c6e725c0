"""What the AWS backends share: building clients and sorting errors.

A refusal a person must fix (access denied, no such service/function/pipeline, invalid
parameters, missing credentials or region) becomes a ``BackendError``. Throttling, 5xx
and connection trouble propagate unchanged, so the flow retries them with backoff
(botocore has already retried a few times by then).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from workflows.backends.base import BackendError, BackendPorts
from workflows.redact import redact_text

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",  # ECS's 5xx
        "ServiceException",  # Lambda's 5xx
        "EC2ThrottledException",
        # Lambda: "an update is in progress" on the function; it passes by itself.
        "ResourceConflictException",
    }
)


def default_aws_client(service: str, region: str | None) -> Any:
    """A boto3 client from a session of its own (sessions are not thread-safe); honours
    the standard AWS variables, ``AWS_ENDPOINT_URL`` included."""
    # boto3-stubs types client() per literal service name; ``service`` is a runtime str.
    return boto3.session.Session().client(service, region_name=region)  # type: ignore[call-overload]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def is_transient(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return error_code(exc) in TRANSIENT_CODES or int(status) >= 500


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn permanent AWS refusals inside the block into ``BackendError("<what>: ...")``."""
    try:
        yield
    except ClientError as exc:
        if is_transient(exc):
            raise
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        raise BackendError(redact_text(f"{what}: {error_code(exc)}: {message}")) from None
    except (NoCredentialsError, PartialCredentialsError, NoRegionError) as exc:
        raise BackendError(f"{what}: {exc} (configure AWS credentials and region)") from None
    except ParamValidationError as exc:
        raise BackendError(redact_text(f"{what}: {exc}")) from None


class AwsClientMixin:
    """A lazily built client for one service, from ``ports.aws_client`` or boto3."""

    _service: str
    ports: BackendPorts
    region: str | None

    def client(self) -> Any:
        cached = getattr(self, "_client", None)
        if cached is None:
            factory: Callable[[str, str | None], Any] = self.ports.aws_client or default_aws_client
            with aws_errors(f"AWS {self._service}"):
                cached = factory(self._service, self.region)
            self._client = cached
        return cached

    def console_region(self) -> str:
        return str(getattr(self.client().meta, "region_name", "") or "us-east-1")
