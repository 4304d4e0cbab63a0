"""Shared fixtures: settings on temporary paths, a fake Rasa, a running gateway, the real stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.gateway.app import create_app
from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.training import ensure_model
from tests.fakes.rasa import FakeRasa, start_fake_rasa
from tests.fakes.slack import FakeSlack, start_fake_slack
from tests.helpers import free_port
from tests.mail import MailSink, smtp_server
from tests.stack import E2E_SLACK_SIGNING_SECRET, RunningStack, serve_in_thread, start_stack

pytest_plugins = ["tests.db_fixtures"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings: SQLite under tmp_path, fixed tokens, free ports."""
    return load_settings(
        {
            "BOT_ENV": "test",
            "BOT_VAR_DIR": str(tmp_path / "var"),
            "BOT_API_TOKEN": "api-token-for-tests",
            "BOT_AGENT_TOKEN": "agent-token-for-tests",
            "BOT_RASA_TOKEN": "rasa-token-for-tests",
            "BOT_IDENTITY_SECRET": "identity-secret-for-tests",
            "BOT_RASA_PORT": str(free_port()),
            "BOT_ACTION_PORT": str(free_port()),
            "BOT_RASA_TIMEOUT": "5",
        }
    )


@pytest.fixture
async def fake_rasa(settings: Settings) -> AsyncIterator[tuple[FakeRasa, Settings]]:
    """A fake Rasa server, and settings that point the gateway at it."""
    fake, server = await start_fake_rasa(settings.rasa_token)
    try:
        yield fake, settings.with_overrides(rasa_port=server.port)
    finally:
        await server.close()


@pytest.fixture
async def gateway(fake_rasa: tuple[FakeRasa, Settings]) -> AsyncIterator[tuple[TestClient, FakeRasa]]:
    """The real gateway app on a migrated SQLite database, talking to the fake Rasa."""
    from bot.db.migrate import upgrade

    fake, settings = fake_rasa
    upgrade(settings.database_url)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield client, fake
    finally:
        await client.close()


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers carrying the test API token."""
    return {"Authorization": "Bearer api-token-for-tests"}


@pytest.fixture(scope="session")
def mailbox() -> Iterator[MailSink]:
    """A local SMTP server the stack sends account-linking codes to."""
    with smtp_server() as sink:
        yield sink


@pytest.fixture(scope="session")
def slack_api() -> Iterator[tuple[FakeSlack, str]]:
    """A fake Slack Web API (in its own thread) that the stack's agent desk talks to."""
    fake = FakeSlack()
    with serve_in_thread(fake.app()) as port:
        yield fake, f"http://127.0.0.1:{port}/api/"


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, mailbox: MailSink, slack_api: tuple[FakeSlack, str]
) -> Iterator[RunningStack]:
    """The real bot (Rasa, action server, gateway) as ``make run`` starts it, once per test run.

    Linking codes go to a local SMTP server; the Slack agent desk talks to a fake Slack API.
    """
    models_dir = PROJECT_ROOT / "models"
    ensure_model(PROJECT_ROOT, models_dir)  # a no-op when `make test` already trained
    env = {
        "BOT_SMTP_HOST": "127.0.0.1",
        "BOT_SMTP_PORT": str(mailbox.port),
        "BOT_SLACK_BOT_TOKEN": "xoxb-e2e-token",
        "BOT_SLACK_SIGNING_SECRET": E2E_SLACK_SIGNING_SECRET,
        "BOT_SLACK_AGENTS_CHANNEL": "#support-agents",
        "BOT_SLACK_API_URL": slack_api[1],
    }
    running = start_stack(tmp_path_factory.mktemp("stack") / "var", models_dir, extra_env=env)
    try:
        yield running
    finally:
        code = running.stop()
        assert code == 0, f"supervisor exit {code}:\n{running.output()}"
        assert "Stopped." in running.output()


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, str]]:
    """A fake Slack Web API for one test (its base URL); an unexpected API method fails the test."""
    fake, server = await start_fake_slack()
    try:
        yield fake, str(server.make_url("/api/"))
    finally:
        await server.close()
    assert fake.unknown == [], f"unexpected Slack API calls: {fake.unknown}"
