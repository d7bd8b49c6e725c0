"""Check the Dockerfile's steps without Docker: run them in a clean directory as a
non-root user, then start the image's ENTRYPOINT + CMD from the result and probe it.

The steps are read from the Dockerfile itself (RUN, ENV, WORKDIR, ENTRYPOINT, CMD,
HEALTHCHECK), with its container paths mapped onto a scratch directory, so the image and
this check cannot drift: a RUN step this script does not know how to replay fails it.
The build context is the repository filtered through .dockerignore, as Docker sends it.

Usage: python3 .ci/image_check.py      (exit 0 ok, 1 failed)
"""

from __future__ import annotations

import fnmatch
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[1]
NON_ROOT = "nobody"
# The one RUN step that is not a deploy/image script: creating the image's user. Here the
# non-root user already exists, and the state dir is created for it below.
USER_STEP = re.compile(r"^groupadd .*useradd .*install -d .*")


Stage = list[tuple[str, str]]  # (INSTRUCTION, arguments) of one Dockerfile stage


def fail(message: str) -> NoReturn:
    print(f"image check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def instructions(dockerfile: Path) -> Stage:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined]


def stages(steps: Stage) -> list[Stage]:
    found: list[Stage] = []
    for name, args in steps:
        if name == "FROM":
            found.append([])
        if found:
            found[-1].append((name, args))
    return found


def env_pairs(args: str) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in shlex.split(args)]  # type: ignore[misc]


def ignored(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's .dockerignore: the last matching rule wins; a rule matches a path or any
    of its parent folders; ``**/`` also matches at the top."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, pattern in rules:
        variants = {pattern.rstrip("/"), pattern.replace("**/", "").rstrip("/")}
        if any(fnmatch.fnmatchcase(p, v) for p in prefixes for v in variants):
            result = not negate
    return result


def build_context(target: Path) -> None:
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!")))
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    sent = [path for path in listed if (REPO / path).is_file() and not ignored(path, rules)]
    for path in sent:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, target / path)
    if not sent or any(p.startswith(("tests/", "bench/", ".ci/")) for p in sent):
        fail(".dockerignore must send the sources and keep tests/, bench/ and .ci/ out")


class Mapper:
    """Container paths onto the scratch directory, longest first."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, text: str) -> str:
        for container in ("/opt/shipbot", "/var/lib/shipbot", "/etc/shipbot", "/src"):
            local = self.root / container.strip("/").replace("/", "_")
            text = re.sub(re.escape(container) + r"(?=[/\s\"']|$)", str(local), text)
        return text


def as_user(user: pwd.struct_passwd | None) -> dict[str, object]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def main() -> int:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    build, final = stages(instructions(REPO / "Dockerfile"))
    user = pwd.getpwnam(NON_ROOT) if os.geteuid() == 0 else None
    python = os.environ.get("IMAGE_CHECK_PYTHON", "/usr/bin/python3")
    root = Path(tempfile.mkdtemp(prefix="shipbot-image-check-"))
    root.chmod(0o755)
    mapped = Mapper(root)
    (root / "src").mkdir()
    build_context(root / "src")
    home = root / "home"
    home.mkdir()
    if user is not None:
        for path in [root, *root.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
    # pip's cache outlives the scratch directory, so a second run downloads nothing.
    cache = Path(os.environ.get("IMAGE_CHECK_PIP_CACHE", "/var/tmp/shipbot-image-check-pip"))
    cache.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(cache, user.pw_uid, user.pw_gid)
    base_env = {**os.environ, "HOME": str(home), "SHIPBOT_VERSION": version,
                "PIP_CACHE_DIR": str(cache)}
    # Stage 1 runs pip from the base image's interpreter; here a virtualenv stands in.
    run([python, "-m", "venv", str(root / "builder")], user, base_env)
    run_steps(build, mapped, user, {**base_env, "PYTHON": str(root / "builder/bin/python")})
    run_steps(final, mapped, user, {**base_env, "PYTHON": python})
    prefix = Path(mapped("/opt/shipbot"))
    leftovers = [p.name for p in (prefix / "lib").glob("python*/site-packages/*")
                 if p.name in {"tests", "pip", "setuptools", "wheel"}]
    if leftovers:
        fail(f"the installed image would carry {leftovers}")
    # The image's version label is the build argument; the install must refuse any other.
    wrong = subprocess.run(
        ["sh", str(root / "src/deploy/image/install.sh"), str(root / "src/dist"),
         str(root / "wrong-version"), "0.0.0-not-this-release"],
        env={**base_env, "PYTHON": python}, capture_output=True, **as_user(user),  # type: ignore[call-overload]
    )
    if wrong.returncode == 0:
        fail("install.sh accepted a version the wheel does not have")
    serve_and_probe(final, mapped, user, base_env, version)
    shutil.rmtree(root, ignore_errors=True)
    print(f"image check ok: shipbot {version} installed from wheels and served as "
          f"{NON_ROOT if user else 'the current user'} with a read-only install")
    return 0


def run(argv: list[str], user: pwd.struct_passwd | None, env: dict[str, str]) -> None:
    print("+", " ".join(argv), flush=True)
    done = subprocess.run(argv, env=env, **as_user(user))  # type: ignore[call-overload]
    if done.returncode != 0:
        fail(f"{argv} exited {done.returncode}")


def run_steps(
    stage: Stage, mapped: Mapper, user: pwd.struct_passwd | None, env: dict[str, str]
) -> None:
    for name, args in stage:
        if name != "RUN":
            continue
        command = re.sub(r"--mount=\S+\s*", "", args).strip()
        if USER_STEP.match(command):
            continue  # see USER_STEP; the state dir is made in serve_and_probe
        if not re.match(r"^sh /src/deploy/image/[\w-]+\.sh ", command):
            fail(f"a RUN step this check cannot replay: {command!r}")
        run(["sh", "-c", mapped(command)], user, env)


def serve_and_probe(
    final: Stage,
    mapped: Mapper,
    user: pwd.struct_passwd | None,
    base_env: dict[str, str],
    version: str,
) -> None:
    env = dict(base_env)
    workdir: str | None = None
    entry: list[str] | None = None
    cmd: list[str] | None = None
    health: list[str] | None = None
    for name, args in final:
        if name == "ENV":
            for key, value in env_pairs(args):
                env[key] = mapped(value.replace("$PATH", base_env["PATH"]))
        elif name == "WORKDIR":
            workdir = mapped(args)
        elif name == "ENTRYPOINT":
            entry = json.loads(args)
        elif name == "CMD":
            cmd = json.loads(args)
        elif name == "HEALTHCHECK":
            health = json.loads(args.split("CMD", 1)[1])
        elif name == "USER" and not args.split(":")[0].isdigit():
            fail("USER must be numeric, so Kubernetes can enforce runAsNonRoot")
    if not (workdir and entry and cmd and health):
        fail("the final stage needs WORKDIR, ENTRYPOINT, CMD and HEALTHCHECK")
    state = Path(env["SHIPBOT_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    config = Path(env["SHIPBOT_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "examples/shipbot.yaml", config)
    # A read-only root filesystem: only the state dir stays writable.
    subprocess.run(["chmod", "-R", "a-w", mapped("/opt/shipbot"), str(config.parent)], check=True)
    if user is not None:
        os.chown(state, user.pw_uid, user.pw_gid)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.update({
        "SHIPBOT_PORT": str(port), "SHIPBOT_HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": "xoxb-ci", "SLACK_SIGNING_SECRET": "image-check-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    })
    version_out = subprocess.run([*entry, "--version"], env=env, cwd=workdir, capture_output=True,
                                 text=True, **as_user(user))  # type: ignore[call-overload]
    if version_out.stdout.strip() != f"shipbot {version}":
        fail(f"`shipbot --version` said {version_out.stdout.strip()!r}, pyproject says {version}")
    process = subprocess.Popen([*entry, *cmd], env=env, cwd=workdir, **as_user(user))  # type: ignore[call-overload]
    try:
        probe_http(port, process)
        healthy = subprocess.run(health, env=env, cwd=workdir, **as_user(user))  # type: ignore[call-overload]
        if healthy.returncode != 0:
            fail(f"HEALTHCHECK command exited {healthy.returncode}")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    if code != 0:
        fail(f"shipbot serve exited {code} on SIGTERM")


def probe_http(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"shipbot serve exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                body = json.loads(answer.read())
                print(f"/readyz: {answer.status} {body}", flush=True)
                return
        except OSError:
            time.sleep(0.3)
    fail("shipbot serve did not become ready within 60 s")


if __name__ == "__main__":
    sys.exit(main())
