"""pytest fixtures for the fake Kubernetes API (import them into a conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.fakes.kube_api import FakeKubeApi

KUBE_TOKEN = "kube-token-" + "q7" * 10


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi(token=KUBE_TOKEN).start()
    yield server
    server.stop()


def write_kubeconfig(kube: FakeKubeApi, directory: Path) -> Path:
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(kube.kubeconfig(context="fake-cluster")))
    return path


@pytest.fixture
def kubeconfig(kube: FakeKubeApi, tmp_path: Path) -> Path:
    return write_kubeconfig(kube, tmp_path)
