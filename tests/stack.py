"""Start the real bot (``python -m bot run``) on free ports for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.settings import PROJECT_ROOT
from tests.helpers import free_port


@dataclass
class RunningStack:
    """The supervisor process and how to reach the gateway."""

    process: subprocess.Popen[bytes]
    output_path: Path
    var_dir: Path
    gateway_url: str
    api_token: str
    agent_token: str
    rasa_url: str = ""
    rasa_token: str = ""

    def output(self) -> str:
        """Everything the supervisor printed so far."""
        return self.output_path.read_text(errors="replace")

    def logs(self) -> str:
        """The children's logs, for failure messages."""
        parts = []
        for name in ("rasa", "actions", "gateway"):
            path = self.var_dir / "logs" / f"{name}.log"
            if path.exists():
                parts.append(f"--- {name}.log ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(parts)

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


def start_stack(
    var_dir: Path, models_dir: Path, ready_timeout_s: float = 300, extra_env: dict[str, str] | None = None
) -> RunningStack:
    """Run ``python -m bot run --no-train`` and wait until it prints that it is ready."""
    var_dir.mkdir(parents=True, exist_ok=True)
    gateway_port = free_port()
    rasa_port = free_port()
    env = {
        **os.environ,
        "BOT_ENV": "development",
        "BOT_VAR_DIR": str(var_dir),
        "BOT_MODELS_DIR": str(models_dir),
        "BOT_GATEWAY_PORT": str(gateway_port),
        "BOT_RASA_PORT": str(rasa_port),
        "BOT_ACTION_PORT": str(free_port()),
        "BOT_API_TOKEN": "e2e-api-token",
        "BOT_AGENT_TOKEN": "e2e-agent-token",
        "BOT_RASA_TOKEN": "e2e-rasa-token",
        "BOT_IDENTITY_SECRET": E2E_IDENTITY_SECRET,
        **(extra_env or {}),
    }
    output_path = var_dir / "supervisor.out"
    with open(output_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--no-train", "--ready-timeout", str(ready_timeout_s)],
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
        "e2e-agent-token",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        rasa_token="e2e-rasa-token",
    )
    deadline = time.monotonic() + ready_timeout_s + 30
    while time.monotonic() < deadline:
        if "Press Ctrl-C to stop." in stack.output():
            return stack
        if process.poll() is not None:
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
