"""Fixtures of the backend tests: a loopback HTTP server, moto, AWS credentials."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.workflows.backends.http_fake import FakeHttpServer

AWS_REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"


@pytest.fixture
def http_server() -> Iterator[FakeHttpServer]:
    server = FakeHttpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Fake credentials and region; nothing from the developer's ~/.aws."""
    missing = tmp_path_factory.mktemp("aws") / "none"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto(moto_url: str, aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto, reached the way production reaches AWS: the standard ``AWS_ENDPOINT_URL``."""
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url


from tests.fakes.kube_fixtures import kube, kubeconfig  # noqa: E402, F401  (fixtures)
