"""Start the real bot (``python -m bot run``) on free ports for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.settings import PROJECT_ROOT
from tests.helpers import free_port, free_ports


@dataclass
class RunningStack:
    """The supervisor process and how to reach the gateway."""

    process: subprocess.Popen[bytes]
    output_path: Path
    var_dir: Path
    gateway_url: str
    api_token: str
    #: The demo agent's (AG-01's) own token, as `python -m bot run` printed it in development.
    agent_token: str = ""
    rasa_url: str = ""
    rasa_token: str = ""
    action_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    #: The bot's database and Rasa's tracker store (SQLite files in var/, or a cluster's PostgreSQL).
    database_url: str = ""
    tracker_url: str = ""

    def output(self) -> str:
        """Everything the supervisor printed so far."""
        return self.output_path.read_text(errors="replace")

    def logs(self) -> str:
        """The children's logs, for failure messages."""
        parts = []
        for path in sorted((self.var_dir / "logs").glob("*.log")):
            parts.append(f"--- {path.name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(parts)

    def issue_agent_token(self, agent_id: str) -> str:
        """A new API token of ``agent_id``, issued as an operator would: ``python -m bot agents token``."""
        result = subprocess.run(
            [sys.executable, "-m", "bot", "agents", "token", agent_id],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM the supervisor (as Ctrl-C would) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return -9


E2E_IDENTITY_SECRET = "e2e-identity-secret-for-signing-customer-tokens"
#: The secrets between the three processes (docs/identity.md), shared with a second gateway on the same Rasa.
E2E_CHANNEL_SECRET = "e2e-rasa-channel-secret-signing-gateway-requests"
E2E_ACTION_TOKEN = "e2e-action-server-token-that-rasa-presents"
E2E_TURN_SECRET = "e2e-turn-secret-signing-each-messages-identity"
E2E_SLACK_SIGNING_SECRET = "e2e-slack-signing-secret"


@contextmanager
def serve_in_thread(app: web.Application) -> Iterator[int]:
    """Serve an aiohttp app on 127.0.0.1 and a free port from its own thread; yield the port."""
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        with contextlib.suppress(Exception):  # a handler still sleeping must not fail the teardown
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _ports(block: int) -> tuple[int, int, int]:
    """Three distinct front ports, each followed by ``block - 1`` free ones."""
    chosen: list[int] = []
    while len(chosen) < 3:
        port = free_ports(block)
        if all(abs(port - other) >= block for other in chosen):
            chosen.append(port)
    return chosen[0], chosen[1], chosen[2]


def start_stack(
    var_dir: Path,
    models_dir: Path,
    ready_timeout_s: float = 300,
    extra_env: dict[str, str] | None = None,
    command: tuple[str, ...] = ("run",),
    database_urls: tuple[str, str] | None = None,
    attempt: int = 1,
) -> RunningStack:
    """Run ``python -m bot run --no-train`` (or ``command``: ``cluster ...``) and wait until it is ready.

    ``database_urls``: the bot's database and the tracker store when they are not the SQLite
    files in ``var_dir`` (a cluster's PostgreSQL databases).
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    # A cluster's replicas listen on the ports after their front's.
    block = 1 + (int(command[command.index("--replicas") + 1]) if "--replicas" in command else 0)
    gateway_port, rasa_port, action_port = _ports(block)
    env = {
        **os.environ,
        "BOT_ENV": "development",
        "BOT_VAR_DIR": str(var_dir),
        "BOT_MODELS_DIR": str(models_dir),
        "BOT_GATEWAY_PORT": str(gateway_port),
        "BOT_RASA_PORT": str(rasa_port),
        "BOT_ACTION_PORT": str(action_port),
        "BOT_API_TOKEN": "e2e-api-token",
        "BOT_RASA_TOKEN": "e2e-rasa-token",
        "BOT_IDENTITY_SECRET": E2E_IDENTITY_SECRET,
        "BOT_RASA_CHANNEL_SECRET": E2E_CHANNEL_SECRET,
        "BOT_ACTION_TOKEN": E2E_ACTION_TOKEN,
        "BOT_TURN_SECRET": E2E_TURN_SECRET,
        **(extra_env or {}),
    }
    output_path = var_dir / "supervisor.out"
    with open(output_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *command, "--no-train", "--ready-timeout", str(ready_timeout_s)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = RunningStack(
        process,
        output_path,
        var_dir,
        f"http://127.0.0.1:{gateway_port}",
        "e2e-api-token",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        rasa_token="e2e-rasa-token",
        action_url=f"http://127.0.0.1:{action_port}",
        env=env,
        database_url=database_urls[0] if database_urls else f"sqlite:///{var_dir / 'bot.db'}",
        tracker_url=database_urls[1] if database_urls else f"sqlite:///{var_dir / 'rasa_tracker.db'}",
    )
    deadline = time.monotonic() + ready_timeout_s + 30
    while time.monotonic() < deadline:
        if "Press Ctrl-C to stop." in stack.output():
            # The demo works out of the box: development issues the first agent's token and prints it.
            printed = re.search(r"^\s*Agent token:\s+(\S+) \(.*, AG-01\)$", stack.output(), re.MULTILINE)
            if printed is None:
                stack.stop()
                raise RuntimeError(f"no agent token printed:\n{stack.output()}")
            stack.agent_token = printed.group(1)
            return stack
        if process.poll() is not None:
            if process.returncode == 2 and "already in use" in stack.output() and attempt < 3:
                # Another program took a port between our choosing it and the bot's binding it.
                return start_stack(var_dir, models_dir, ready_timeout_s, extra_env, command, database_urls, attempt + 1)
            raise RuntimeError(f"bot exited with {process.returncode}:\n{stack.output()}\n{stack.logs()}")
        time.sleep(0.5)
    stack.stop()
    raise RuntimeError(f"bot not ready in time:\n{stack.output()}\n{stack.logs()}")


async def say(
    session: aiohttp.ClientSession, stack: RunningStack, conversation: str, text: str, token: str | None = None
) -> dict[str, Any]:
    """Send one customer message over the direct API (with a customer token if given); return the body."""
    body: dict[str, Any] = {"conversation_id": conversation, "text": text}
    if token is not None:
        body["customer_token"] = token
    async with session.post(
        f"{stack.gateway_url}/api/v1/messages", json=body, headers={"Authorization": f"Bearer {stack.api_token}"}
    ) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


def reply_texts(reply: dict[str, Any]) -> list[str]:
    """The texts of a direct-API answer's replies."""
    return [r["text"] for r in reply["replies"] if r.get("text")]


def joined(reply: dict[str, Any]) -> str:
    """The texts of a direct-API answer, one per line."""
    return "\n".join(reply_texts(reply))


def buttons(reply: dict[str, Any]) -> dict[str, str]:
    """Button title -> payload over all replies of a direct-API answer."""
    return {b["title"]: b["payload"] for r in reply["replies"] for b in r.get("buttons") or []}


class DirectChat:
    """One conversation of a verified (signed token) or anonymous customer over the direct API."""

    def __init__(
        self, session: aiohttp.ClientSession, stack: RunningStack, name: str, customer: str | None = None
    ) -> None:
        from bot.identity.tokens import mint_customer_token

        self.session, self.stack, self.name = session, stack, name
        self.token = mint_customer_token(customer, E2E_IDENTITY_SECRET, ttl_s=900) if customer else None
        self.last: dict[str, Any] = {}

    async def say(self, text: str) -> str:
        """Send ``text``; the replies' texts, one per line."""
        self.last = await say(self.session, self.stack, self.name, text, self.token)
        return joined(self.last)

    def button(self, title: str) -> str:
        """The payload of the last answer's button ``title`` (which must be there)."""
        found = buttons(self.last)
        assert title in found, f"no button {title!r} in {found}"
        return found[title]

    async def tap(self, title: str) -> str:
        """Press the last answer's button ``title``."""
        return await self.say(self.button(title))


@dataclass
class Gateway:
    """A ``python -m bot gateway`` subprocess (its own process group) and how to reach it."""

    env: dict[str, str]
    url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, timeout_s: float = 60) -> None:
        """Start the process and wait until ``GET /healthz`` answers 200."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "gateway"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310 (local)
                    if response.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"gateway not healthy within {timeout_s}s:\n{self.log_tail()}")

    def stop(self, *, kill: bool, timeout_s: float = 20) -> None:
        """SIGKILL the process group, or SIGTERM it (SIGKILL when it does not stop in time)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        if kill:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def restart(self, kill: bool) -> None:
        """Stop (SIGKILL when ``kill``), then start again with the same environment."""
        self.stop(kill=kill)
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the gateway's output, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_cluster(
    var_dir: Path,
    models_dir: Path,
    *,
    postgres_admin_url: str,
    redis_url: str,
    rabbitmq_url: str,
    extra_env: dict[str, str] | None = None,
    replicas: int = 2,
) -> tuple[RunningStack, str]:
    """Run ``python -m bot cluster`` on its own PostgreSQL databases; the stack and their name.

    Drop the databases with :func:`drop_cluster_databases` once the cluster stopped.
    """
    from sqlalchemy.engine import make_url

    name = f"e2e_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres_admin_url)
    urls = tuple(admin.set(database=db).render_as_string(hide_password=False) for db in (name, f"{name}_tracker"))
    command = (
        "cluster",
        "--name",
        name,
        "--postgres",
        postgres_admin_url,
        "--redis",
        redis_url,
        "--rabbitmq",
        rabbitmq_url,
        "--replicas",
        str(replicas),
    )
    stack = start_stack(var_dir, models_dir, extra_env=extra_env, command=command, database_urls=(urls[0], urls[1]))
    return stack, name


def drop_cluster_databases(postgres_admin_url: str, name: str) -> None:
    """Drop a cluster's two databases (:func:`start_cluster`)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    admin = create_engine(make_url(postgres_admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            for database in (name, f"{name}_tracker"):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        admin.dispose()
