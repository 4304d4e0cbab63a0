"""A live gateway for the fuzzers: the real app on a real port, a fake Rasa, a seeded SQLite database."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.db.engine import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import Agent, Customer
from bot.gateway.app import create_app
from bot.handoff.agents import AgentCredentials
from bot.handoff.requests import HandoffRequests
from bot.settings import Settings, load_settings
from tests.fakes.rasa import FakeRasa
from tests.stack import serve_in_thread

API_TOKEN = "api-token-for-fuzzing"
AGENT_TOKEN = "agent-token-for-fuzzing"
RASA_TOKEN = "rasa-token-for-fuzzing"
CHANNEL_SECRET = "channel-secret-for-fuzzing-at-least-32-bytes"
#: What docs/openapi.yaml's examples name: an active agent, a customer, handoff 1.
AGENTS = (("AG-01", True), ("AG-02", True), ("AG-09", False))
CUSTOMER = "C1001"
OPEN_HANDOFFS = 20
#: One line of figures per fuzzer run, shown at the end of the pytest run.
FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the fuzzers' figures after the test summary, whatever the verbosity."""
    for line in config.stash.get(FIGURES, []):
        terminalreporter.write_line(line)


class _Collect(logging.Handler):
    """Keeps the records of one logger (the gateway logs from its own thread)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)


@dataclass
class LiveGateway:
    """How to reach the gateway, and what it logged as unhandled errors (answered 500)."""

    url: str
    api_token: str
    agent_token: str
    settings: Settings
    _errors: _Collect = field(repr=False, default_factory=_Collect)

    @property
    def unhandled_errors(self) -> list[str]:
        """``gateway.unhandled_error`` lines with their exception, one per 500 answer."""
        found = []
        for record in self._errors.records:
            if record.getMessage().startswith("gateway.unhandled_error"):
                kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else "?"
                found.append(f"{record.getMessage()} ({kind}: {record.exc_info[1] if record.exc_info else ''})")
        return found


def _fake_action_server() -> web.Application:
    """The action server's health endpoint only: ``/readyz`` is then 200, as in a healthy stack."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", health)
    return app


def _seed(settings: Settings) -> None:
    """Agents, a customer for deep links and open handoffs, so the happy paths are reachable."""
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            for agent_id, active in AGENTS:
                session.add(Agent(id=agent_id, name=agent_id, email=f"{agent_id.lower()}@example.com", active=active))
            session.add(Customer(id=CUSTOMER, name="Ada Fuzz", email="ada@example.com"))
        # The fuzzer acts as the first agent, with that agent's own token.
        assert AgentCredentials(engine).register(AGENTS[0][0], AGENT_TOKEN)
        requests = HandoffRequests(engine)
        for number in range(1, OPEN_HANDOFFS + 1):
            requests.request(f"fuzz-{number}", "customer_request", {"summary": "seeded for the fuzzer"}, "direct")
    finally:
        engine.dispose()


@contextlib.contextmanager
def live_gateway_at(var_dir: Path) -> Iterator[LiveGateway]:
    """Serve the gateway (``create_app``) from a thread on 127.0.0.1, with its fake neighbours."""
    rasa = FakeRasa(token=RASA_TOKEN, channel_secret=CHANNEL_SECRET)
    with serve_in_thread(rasa.app()) as rasa_port, serve_in_thread(_fake_action_server()) as action_port:
        settings = load_settings(
            {
                "BOT_ENV": "test",
                "BOT_VAR_DIR": str(var_dir),
                "BOT_API_TOKEN": API_TOKEN,
                "BOT_RASA_TOKEN": RASA_TOKEN,
                "BOT_RASA_CHANNEL_SECRET": CHANNEL_SECRET,
                "BOT_IDENTITY_SECRET": "identity-secret-for-fuzzing",
                "BOT_RASA_PORT": str(rasa_port),
                "BOT_ACTION_PORT": str(action_port),
                "BOT_RASA_TIMEOUT": "5",
                # One client asking as fast as it can: the rate limits have their own tests.
                "BOT_API_RATE_PER_CLIENT": "100000",
                "BOT_API_RATE_TOTAL": "100000",
            }
        )
        _seed(settings)
        errors = _Collect()
        logger = logging.getLogger("bot.gateway.errors")
        logger.addHandler(errors)
        try:
            with serve_in_thread(create_app(settings)) as port:
                yield LiveGateway(f"http://127.0.0.1:{port}", API_TOKEN, AGENT_TOKEN, settings, errors)
        finally:
            logger.removeHandler(errors)


@pytest.fixture(scope="module")
def live_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """One live gateway per test module (the fuzzer changes its state)."""
    with live_gateway_at(tmp_path_factory.mktemp("live-gateway") / "var") as gateway:
        yield gateway
