"""`shipbot dev`: the bot on SQLite with the example config, against the local Slack
emulator, with a browser page to use it as alice, bob, carol or dave. No workspace,
token or cloud account.

Three loopback servers run in this process: the bot (its real HTTP app: /slack/events,
/hooks/..., /healthz), the Slack Web API emulator the bot's WebClient talks to, and the
sandbox page (bot/sandbox/web). Requests reach the bot exactly as production ones do:
signed HTTP to /slack/events. ``--terminal`` gives the older line prompt instead.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from pathlib import Path

from bot.logging_setup import configure_logging
from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.slack.state import SlackState
from bot.sandbox.terminal import blocks_to_text
from bot.sandbox.web import SandboxError, SandboxPage, SlackFrontend
from bot.sandbox.web.frontend import escaped_commands
from bot.server_thread import ServerThread
from bot.settings import Settings
from workflows.clock import SystemClock
from workflows.config import ShipbotConfig, load_config

SANDBOX_TOKEN = "xoxb-sandbox"
SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
MANIFEST = Path(__file__).resolve().parents[1] / "app_manifest.yaml"

PROMPT_HELP = """Type a slash command as the current user, e.g. /shipbot help
  :as NAME           act as another user (alice, bob, carol, dave)
  :messages CHANNEL  show the messages in a channel (e.g. :messages deploys)
  :help              this help
  :quit              stop the sandbox (or Ctrl-C)"""


def alert_token(config: ShipbotConfig) -> str | None:
    """The bearer token the config's Alertmanager source accepts, if it has one."""
    source = config.alerts.sources.alertmanager
    if source is None or source.auth != "bearer" or source.token is None:
        return None
    return source.token.get_secret_value()


class Sandbox:
    """Everything `shipbot dev` runs. ``database=None`` means a fresh SQLite file in a
    temporary directory: the emulator's workspace lives in memory, so a database kept
    from an earlier run would point at messages that no longer exist."""

    def __init__(
        self,
        *,
        config_path: Path,
        database: str | None = None,
        port: int = 0,
        slack_port: int = 0,
        web_port: int = 0,
    ) -> None:
        self.config = load_config(config_path)
        self._scratch = tempfile.TemporaryDirectory(prefix="shipbot-dev-")
        scratch = Path(self._scratch.name)
        self._stack = contextlib.ExitStack()
        self._stack.callback(self._scratch.cleanup)
        try:
            self.slack = FakeSlackApi(port=slack_port, state=SlackState(clock=SystemClock()))
            self.slack.start()
            self._stack.callback(self.slack.stop)
            seed_workspace(self.slack, self.config)
            settings = Settings(
                SLACK_BOT_TOKEN=SANDBOX_TOKEN,
                SLACK_SIGNING_SECRET=SANDBOX_SIGNING_SECRET,
                SLACK_API_URL=self.slack.url,
                SHIPBOT_DATABASE_URL=database or f"sqlite:///{scratch / 'shipbot-dev.db'}",
                SHIPBOT_CONFIG=str(config_path),
                SHIPBOT_STATE_DIR=str(scratch / "state"),
            )
            self.runtime = Runtime(settings, config=self.config)
            self.runtime.start_background()
            self._stack.callback(self.runtime.stop)
            self.server = ServerThread(self.runtime.http, port=port).start()
            self._stack.callback(self.server.stop)
            self.frontend = SlackFrontend(
                self.slack,
                app_url=self.server.url,
                signing_secret=SANDBOX_SIGNING_SECRET,
                should_escape=escaped_commands(MANIFEST),
            )
            self._stack.callback(self.frontend.close)
            self.page = SandboxPage(
                self.frontend,
                channel_order=list(self.config.channels.values()),
                alert_token=alert_token(self.config),
            )
            self.web = ServerThread(self.page.app(), port=web_port).start()
            self._stack.callback(self.web.stop)
            self._stack.callback(self.page.close)  # runs first: ends the long polls
        except BaseException:
            self._stack.close()
            raise
        self.names = {user.name: user_id for user_id, user in self.config.users.items()}
        self.user = next(iter(self.names), "alice")

    @property
    def url(self) -> str:
        """The page's address: the one URL `shipbot dev` prints."""
        return self.web.url + "/"

    def close(self) -> None:
        self._stack.close()

    # --- the terminal prompt (--terminal) -------------------------------------------------

    def send(self, line: str) -> str:
        user_id = self.names[self.user]
        channel = next(iter(self.config.channels.values()), "C0DEPLOYS")
        before = len(self.slack.ephemerals(user_id))
        try:
            self.frontend.slash_command(user=user_id, channel=channel, line=line)
        except SandboxError as error:
            return f"({error})"
        shown = self.slack.ephemerals(user_id)[before:]
        if not shown:
            return "(acknowledged)"
        return "\n".join(
            f"(only you see this)\n{blocks_to_text(e.blocks or [], fallback=e.text)}" for e in shown
        )

    def messages(self, channel: str) -> str:
        channel_id = self.config.channels.get(channel.lstrip("#"), channel)
        posted = self.slack.messages(channel_id)
        if not posted:
            return f"(no messages in #{channel.lstrip('#')})"
        return "\n\n".join(
            f"[{m['ts']}] {blocks_to_text(m.get('blocks', []), fallback=m.get('text', ''))}"
            for m in posted
        )

    def handle(self, line: str) -> str | None:
        if line in (":quit", ":q", "exit"):
            return None
        if line.startswith(":as "):
            name = line.split(maxsplit=1)[1].strip()
            if name not in self.names:
                return f"unknown user {name!r}; choose one of {', '.join(self.names)}"
            self.user = name
            return f"you are {name} now"
        if line.startswith(":messages"):
            parts = line.split(maxsplit=1)
            return self.messages(parts[1] if len(parts) > 1 else "deploys")
        if line.startswith("/"):
            return self.send(line)
        return PROMPT_HELP


def _prompt(sandbox: Sandbox) -> None:
    print(PROMPT_HELP, flush=True)
    while True:
        try:
            line = input(f"{sandbox.user}> ").strip()
        except EOFError:
            return
        if not line:
            continue
        output = sandbox.handle(line)
        if output is None:
            return
        print(output, flush=True)


def run_dev(args: argparse.Namespace) -> int:
    configure_logging("WARNING", secrets=(SANDBOX_SIGNING_SECRET,))
    try:
        sandbox = Sandbox(
            config_path=args.config,
            database=args.database,
            port=args.port,
            slack_port=args.slack_port,
            web_port=args.web_port,
        )
    except (OSError, RuntimeError) as error:
        print(
            f"shipbot dev: could not start ({error}). Is a port taken? "
            "Choose others with --port / --web-port (0 picks a free one).",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.terminal and sys.stdin.isatty():
            print(
                f"shipbot sandbox is running; the bot listens at {sandbox.server.url}", flush=True
            )
            _prompt(sandbox)
        else:
            print(
                f"shipbot sandbox: open {sandbox.url} in your browser (Ctrl-C stops it)",
                flush=True,
            )
            while not stop.wait(0.5):  # a short wait keeps Ctrl-C responsive
                pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.close()
    return 0
