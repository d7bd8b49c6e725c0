"""`shipbot dev`: the bot on SQLite with the example config, against the local Slack
emulator, so shipbot can be tried with no workspace, token or cloud account.

Requests reach the bot exactly as production ones do: signed HTTP to /slack/events."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

import httpx

from bot.logging_setup import configure_logging
from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.signing import SlackRequestSigner, slash_command_body
from bot.sandbox.slack_api import FakeSlackApi
from bot.sandbox.terminal import blocks_to_text
from bot.server_thread import ServerThread
from bot.settings import Settings

SANDBOX_TOKEN = "xoxb-sandbox"
SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"

PROMPT_HELP = """Type a slash command as the current user, e.g. /shipbot help
  :as NAME           act as another user (alice, bob, carol, dave)
  :messages CHANNEL  show what the bot posted in a channel (e.g. :messages deploys)
  :help              this help
  :quit              stop the sandbox (or Ctrl-C)"""


class Sandbox:
    def __init__(self, args: argparse.Namespace) -> None:
        from workflows.config import load_config

        self.config = load_config(args.config)
        self.slack = FakeSlackApi(port=args.slack_port).start()
        seed_workspace(self.slack, self.config)
        settings = Settings(
            SLACK_BOT_TOKEN=SANDBOX_TOKEN,
            SLACK_SIGNING_SECRET=SANDBOX_SIGNING_SECRET,
            SLACK_API_URL=self.slack.url,
            SHIPBOT_DATABASE_URL=args.database,
            SHIPBOT_CONFIG=str(args.config),
        )
        self.runtime = Runtime(settings, config=self.config)
        self.runtime.start_background()
        self.server = ServerThread(self.runtime.http, port=args.port).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=10)
        self.signer = SlackRequestSigner(SANDBOX_SIGNING_SECRET)
        self.names = {user.name: user_id for user_id, user in self.config.users.items()}
        self.user = next(iter(self.names), "alice")

    def banner(self) -> str:
        return (
            "shipbot sandbox is running (SQLite, example config, local Slack emulator)\n"
            f"  bot:            {self.server.url}  (/slack/events /healthz /readyz /metrics)\n"
            f"  Slack emulator: {self.slack.url}\n"
            f"  users:          {', '.join(self.names)}; channels: "
            f"{', '.join('#' + name for name in self.config.channels)}"
        )

    def send(self, line: str) -> str:
        command, _, text = line.partition(" ")
        user_id = self.names[self.user]
        body = slash_command_body(
            command=command,
            text=text,
            user_id=user_id,
            user_name=self.user,
            channel_id=next(iter(self.config.channels.values()), "C0DEPLOYS"),
            response_url=self.slack.response_url(channel="C0DEPLOYS", user=user_id),
        )
        body, headers = self.signer.signed(body, "application/x-www-form-urlencoded")
        response = self.http.post("/slack/events", content=body, headers=headers)
        if response.status_code != 200:
            return f"(bot answered HTTP {response.status_code}: {response.text[:200]})"
        if not response.content:
            return "(acknowledged)"
        answer: dict[str, Any] = response.json()
        visibility = (
            "only you see this" if answer.get("response_type") != "in_channel" else "in channel"
        )
        shown = blocks_to_text(answer.get("blocks", []), fallback=answer.get("text", ""))
        return f"({visibility})\n{shown}"

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

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        self.runtime.stop()
        self.slack.stop()


def run_dev(args: argparse.Namespace) -> int:
    configure_logging("WARNING", secrets=(SANDBOX_SIGNING_SECRET,))
    sandbox = Sandbox(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(sandbox.banner(), flush=True)
    try:
        if sys.stdin.isatty():
            print(PROMPT_HELP, flush=True)
            while True:
                try:
                    line = input(f"{sandbox.user}> ").strip()
                except EOFError:
                    break
                if not line:
                    continue
                output = sandbox.handle(line)
                if output is None:
                    break
                print(output, flush=True)
        else:
            print("(no terminal attached: serving until stopped)", flush=True)
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.close()
    return 0
