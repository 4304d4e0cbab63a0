"""Shared fixtures: settings on temporary paths, a fake Rasa, a running gateway, the real stack."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.gateway.app import create_app
from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.training import ensure_model
from tests.fakes.rasa import FakeRasa, start_fake_rasa
from tests.fakes.slack import FakeSlack, start_fake_slack
from tests.helpers import free_port, interface_addresses
from tests.mail import MailSink, smtp_server
from tests.stack import (
    E2E_SLACK_SIGNING_SECRET,
    RunningStack,
    drop_cluster_databases,
    serve_in_thread,
    start_cluster,
    start_stack,
)

pytest_plugins = ["tests.db_fixtures", "tests.shared_services"]

# Property tests (Hypothesis): a modest number of examples, no per-example deadline (two shared
# cores), no example database left in the work tree. CI (CI=true) derandomizes, so a run is
# reproducible; a developer's run explores new examples each time. Known counterexamples are
# pinned with @example, so an xfail stays failing until its fix lands.
hypothesis_settings.register_profile(
    "dev", max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("ci", parent=hypothesis_settings.get_profile("dev"), derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NetworkGuard:
    """Refuses socket connections that leave this machine (loopback, its own addresses and AF_UNIX stay), remembering each attempt.

    ``install`` patches ``socket.socket.connect``/``connect_ex`` (asyncio, aiohttp, httpx, redis... all
    end up there); C clients such as libpq and subprocesses are not affected. Host names other than
    ``localhost`` are refused without resolving them.
    """

    def __init__(self) -> None:
        self.blocked: list[str] = []

    @staticmethod
    def is_local(family: int, address: Any) -> bool:
        """Whether connecting a ``family`` socket to ``address`` stays on this machine."""
        if family not in (socket.AF_INET, socket.AF_INET6):
            return True  # AF_UNIX, netlink...
        host = str(address[0] if isinstance(address, tuple) else address).split("%", 1)[0]
        if host.lower() in _LOCAL_NAMES:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False  # a host name: would need a DNS lookup and is not local anyway
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        # 0.0.0.0 / :: and the machine's own interface addresses reach this machine
        return ip.is_loopback or ip.is_unspecified or str(ip) in interface_addresses()

    def check(self, sock: socket.socket, address: Any) -> None:
        """Raise ``OSError`` (and record it) unless ``address`` is local."""
        if not self.is_local(sock.family, address):
            description = f"{address!r} ({socket.AddressFamily(sock.family).name})"
            self.blocked.append(description)
            raise OSError(f"blocked outbound connection to {description}")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Guard every socket until ``monkeypatch`` is undone."""
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
        guard = self

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            guard.check(sock, address)
            return connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check(sock, address)
            return connect_ex(sock, address)

        monkeypatch.setattr(socket.socket, "connect", guarded_connect)
        monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(scope="session", autouse=True)
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    """asyncio's own event loop for every test (overrides pytest-asyncio's fixture).

    pytest-asyncio takes whatever policy is installed when the first async test starts; by then
    collection has imported ``rasa.core.channels``, which installs uvloop's for the whole process,
    and a gateway's teardown on uvloop once hung CI for good.
    """
    return asyncio.DefaultEventLoopPolicy()


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Every test: a connection to a non-loopback address raises and fails the test at teardown."""
    guard = NetworkGuard()
    guard.install(monkeypatch)
    yield guard
    if guard.blocked:
        pytest.fail(f"the test tried to reach the network: {guard.blocked}", pytrace=False)


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
            "BOT_RASA_CHANNEL_SECRET": "channel-secret-for-tests",
            "BOT_ACTION_TOKEN": "action-token-for-tests",
            "BOT_TURN_SECRET": "turn-secret-for-tests-at-least-32-bytes",
            "BOT_RASA_PORT": str(free_port()),
            "BOT_ACTION_PORT": str(free_port()),
            "BOT_RASA_TIMEOUT": "5",
        }
    )


@pytest.fixture
async def fake_rasa(settings: Settings) -> AsyncIterator[tuple[FakeRasa, Settings]]:
    """A fake Rasa server, and settings that point the gateway at it."""
    fake, server = await start_fake_rasa(settings.dialogue.token, settings.dialogue.channel_secret)
    try:
        yield fake, settings.with_overrides(dialogue={"rasa_port": server.port})
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
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: MailSink,
    slack_api: tuple[FakeSlack, str],
) -> Iterator[RunningStack]:
    """The real bot (Rasa, action server, gateway) as ``make run`` starts it, once per test run.

    Linking codes go to a local SMTP server; the Slack agent desk talks to a fake Slack API.
    With ``BOT_E2E_TOPOLOGY=cluster`` it is ``make run-cluster``'s cluster instead (two of each
    process behind HAProxy, on this run's PostgreSQL databases, Redis prefix and RabbitMQ
    virtual host), so the same end-to-end suites run against it (``make test`` does both).
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
        # A first offer to one agent times out quickly (routing.yml says 60 s; tests/e2e/test_routing.py).
        "BOT_OFFER_SECONDS": "6",
        # As in a cluster: Rasa and the action server listen on every interface, not only loopback.
        "BOT_RASA_HOST": "0.0.0.0",
        "BOT_ACTION_HOST": "0.0.0.0",
    }
    var_dir = tmp_path_factory.mktemp("stack") / "var"
    cluster_name = None
    if os.environ.get("BOT_E2E_TOPOLOGY") == "cluster":
        admin_url = request.getfixturevalue("postgres_admin_url")
        running, cluster_name = start_cluster(
            var_dir,
            models_dir,
            postgres_admin_url=admin_url,
            redis_url=request.getfixturevalue("redis_service").url,
            rabbitmq_url=request.getfixturevalue("rabbitmq_url"),
            extra_env=env,
        )
    else:
        running = start_stack(var_dir, models_dir, extra_env=env)
    try:
        yield running
    finally:
        code = running.stop()
        if cluster_name is not None:
            drop_cluster_databases(request.getfixturevalue("postgres_admin_url"), cluster_name)
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
