"""One version number: pyproject.toml's. The CLI, `/shipbot version`, the image label, the
Kubernetes image tag and the CHANGELOG's newest section all say the same."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.e2e.conftest import RunningBot

REPO = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_the_installed_package_is_this_version() -> None:
    assert version("shipbot") == VERSION


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"shipbot {VERSION}\n"


def test_slash_command_version(running_bot: RunningBot) -> None:
    answer = running_bot.command("version", command="/shipbot")
    assert answer.json()["text"] == f"shipbot {VERSION}"


def test_changelog_opens_with_this_version_and_has_upgrade_steps() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    sections = re.split(r"^## ", changelog, flags=re.MULTILINE)[1:]
    assert sections[0].startswith(f"{VERSION} ")
    assert "### Upgrading" in sections[0]  # release notes say how to get there


def test_image_label_comes_from_the_build_argument_the_install_step_checks() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'org.opencontainers.image.version="${SHIPBOT_VERSION}"' in dockerfile
    assert re.search(r"install\.sh \S+ \S+ \"\$\{SHIPBOT_VERSION\}\"", dockerfile)
    # install.sh installs exactly that version or fails the build.
    assert '"shipbot==$version"' in (REPO / "deploy/image/install.sh").read_text()


def test_kubernetes_image_tag() -> None:
    kustomization = yaml.safe_load((REPO / "deploy/kubernetes/base/kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    assert image["newTag"] == VERSION
