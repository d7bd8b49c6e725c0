"""The whole app on real HTTP with the example config plus extra services, startable
more than once on one database (a restart is a new Runtime on the same rows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.signing import SlackRequestSigner
from bot.server_thread import ServerThread
from tests.e2e.conftest import EXAMPLE_CONFIG, SIGNING_SECRET, RunningBot, settings_for
from tests.e2e.listeners import register_test_listeners
from workflows.config import ShipbotConfig, load_config
from workflows.store.db import Database


def kube_deploy(kubeconfig: Path, **extra: Any) -> dict[str, Any]:
    """A ``deploy:`` section for the fake cluster's Deployment shop/web, polled every 1s."""
    return {
        "backend": "kubernetes",
        "kubeconfig": str(kubeconfig),
        "namespace": "shop",
        "name": "web",
        "container": "app",
        "poll_interval": "1s",
        **extra,
    }


def config_with(services: dict[str, Any], directory: Path) -> tuple[Path, ShipbotConfig]:
    """The example config with ``services`` added, written to ``directory``."""
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["services"].update(services)
    path = directory / "shipbot.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, load_config(path)


@contextmanager
def running(
    database: Database, slack: Any, config: ShipbotConfig, state_dir: Path, *, seed: bool = True
) -> Iterator[RunningBot]:
    """One shipbot process's worth (HTTP server, worker) until the block ends."""
    if seed:
        seed_workspace(slack, config)
    runtime = Runtime(
        settings_for(database, slack.url, state_dir),
        config=config,
        database=database,
        upgrade_sqlite=False,
        extra_registrars=[register_test_listeners],
    )
    server = ServerThread(runtime.http).start()
    client = httpx.Client(base_url=server.url, timeout=10)
    try:
        runtime.start_background(worker=True, scheduler=False)
        yield RunningBot(runtime, server, client, SlackRequestSigner(SIGNING_SECRET))
    finally:
        client.close()
        server.stop()
        runtime.stop()
