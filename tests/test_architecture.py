"""The shape of the code: what the import contracts, the type checker and review cannot see.

The dependency direction (bot -> commands -> workflows, no Slack in the domain, no runtime
in the sandbox) is import-linter's job: the contracts live in pyproject.toml and
`lint-imports` runs in .ci/run and scripts/check. Here we only prove those contracts bite,
and check what no linter does: Slack syntax built in the domain, and oversized modules and
functions. A check that fails today is marked ``xfail(strict=True)`` with the offenders
named, so it turns into a failure ("XPASS(strict)") the day the last offender is fixed, and
the mark must go; a second test keeps new offenders out meanwhile.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "commands", "workflows")

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Slack mrkdwn a workflow must not build: mentions (<@U…>), channel links (<#C…>), special
# mentions (<!here>, <!subteam^…>) and slash-command syntax. `(?<!` in a regex is not one.
SLACK_SYNTAX = re.compile(r"<[@#]|<!(?=[a-z^]|$)|/(?:deploy|incident)\b")


# --- import contracts ------------------------------------------------------------------

VIOLATIONS = {
    "workflows/__init__.py": "",
    "workflows/leak.py": "import slack_sdk\nfrom commands import handlers\n",
    "workflows/backends/__init__.py": "",
    "workflows/backends/base.py": "",
    "workflows/backends/factory.py": "",
    "workflows/backends/settings.py": "",
    "workflows/config/__init__.py": "from workflows.backends import settings\n",
    "workflows/config/loader.py": "from workflows.backends import factory\n",
    "commands/__init__.py": "",
    "commands/handlers.py": "import slack_bolt\nfrom bot import app\n",
    "bot/__init__.py": "",
    "bot/sandbox/__init__.py": "",
    "bot/sandbox/emulator.py": "from bot import runtime\n",
    **{
        f"bot/{name}.py": ""
        for name in ("app", "runtime", "worker", "sender", "http", "cli", "wiring", "scheduler")
    },
}


def test_every_import_contract_catches_its_violation(tmp_path: Path) -> None:
    """The committed contracts, run over a tree that breaks each one, report each broken."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    for relative, source in VIOLATIONS.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(source)
    done = subprocess.run(
        [lint_imports, "--no-logo", "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "5 broken" in done.stdout, done.stdout
    for chain in (
        "workflows.leak -> slack_sdk",
        "workflows.leak -> commands.handlers",
        "commands.handlers -> slack_bolt",
        "commands.handlers -> bot.app",
        "bot.sandbox.emulator -> bot.runtime",
        "workflows.config.loader -> workflows.backends.factory",
    ):
        assert chain in done.stdout, f"{chain} not reported:\n{done.stdout}"


# --- Slack syntax in the domain --------------------------------------------------------


def _docstrings(tree: ast.Module) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def slack_syntax(source: str) -> list[tuple[int, str]]:
    """(line, literal) of each string literal (f-string parts too) that builds Slack
    syntax; docstrings and comments are prose and do not count."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    hits = sorted(
        (node.lineno, node.col_offset, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SLACK_SYNTAX.search(node.value)
    )
    return [(line, text) for line, _, text in hits]


def _python_files(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.relative_to(ROOT).parts:
            yield path


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def domain_files_building_slack_syntax() -> dict[str, list[tuple[int, str]]]:
    found = {_relative(path): slack_syntax(path.read_text()) for path in _python_files("workflows")}
    return {path: hits for path, hits in found.items() if hits}


def test_the_slack_syntax_check_reads_literals_not_prose() -> None:
    source = '''
"""Module prose may say <@U1> and /deploy."""
import re

def mention(user):
    """Prose: <#C1|deploys>."""
    # a comment: <!here> /incident
    lookbehind = re.compile(r"(?<![a-z])x")
    paths = ("/deployments", "/incidents-api")
    return f"<@{user}>", "<#C1>", "<!here>", f"<!{user}>", "try `/deploy web 1.0`", "/incident"
'''
    assert [text for _, text in slack_syntax(source)] == [
        "<@",
        "<#C1>",
        "<!here>",
        "<!",
        "try `/deploy web 1.0`",
        "/incident",
    ]


# Issue 15: policy answers and flows return typed data; commands/ renders the Slack text.
def test_the_domain_builds_no_slack_syntax() -> None:
    assert domain_files_building_slack_syntax() == {}


# --- sizes -----------------------------------------------------------------------------


def long_modules() -> dict[str, int]:
    sizes = {
        _relative(path): len(path.read_text().splitlines())
        for package in PACKAGES
        for path in _python_files(package)
    }
    return {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES}


def long_functions_in(source: str, path: str) -> dict[str, int]:
    """``path::Qualified.name`` -> lines, from ``def`` to the last line, for each function
    (nested ones too) longer than the limit."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}."
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{path}::{name[:-1]}"] = lines
            visit(child, name)

    visit(ast.parse(source), "")
    return found


def long_functions() -> dict[str, int]:
    found: dict[str, int] = {}
    for package in PACKAGES:
        for path in _python_files(package):
            found.update(long_functions_in(path.read_text(), _relative(path)))
    return found


def test_the_function_length_check_counts_from_def_to_last_line() -> None:
    def method(name: str, lines: int) -> str:
        body = "".join(f"        x{i} = {i}\n" for i in range(lines - 1))
        return f"    def {name}(self):\n{body}"

    source = "class A:\n" + method("fits", MAX_FUNCTION_LINES) + method("long", 61)
    assert long_functions_in(source, "m.py") == {"m.py::A.long": MAX_FUNCTION_LINES + 1}


def test_no_module_is_over_the_limit() -> None:
    assert long_modules() == {}


def test_no_function_is_over_the_limit() -> None:
    """Every function fits on a screen; the last offenders were split in 0.3.0."""
    assert long_functions() == {}
