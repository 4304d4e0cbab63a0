"""actions/server.py: the action server answers only Rasa (its bearer token); the health probe stays open.

The launcher's app is served on 127.0.0.1 in the test's loop and called as Rasa and as an
attacker would call it: a forged tracker (the latest message's metadata claiming customer
C1002) POSTed to ``/webhook``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sanic import Sanic

from actions.server import authorized, create_action_app
from actions.services import Services
from bot.db.seed import load_demo_data
from bot.settings import PROJECT_ROOT
from tests.actions.helpers import audit_rows, forged_identity, identity, load_domain, make_tracker
from tests.helpers import free_port

TOKEN = "action-token-for-the-launcher-tests"
#: C1002's orders (data/records/orders.yml): none may appear in an answer to a refused or forged call.
C1002_ORDERS = tuple(o.number for o in load_demo_data(PROJECT_ROOT / "data").orders if o.customer_id == "C1002")


@pytest.fixture
async def action_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The launcher's app on a free port; its base URL."""
    monkeypatch.setattr(Sanic, "test_mode", True)  # more than one Sanic app per process (see test_gateway_channel)
    app = create_action_app(TOKEN)
    app.config.USE_UVLOOP = False  # serving would install uvloop's loop policy for the rest of the session
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def action_call(metadata: dict[str, Any], action: str = "action_recent_orders") -> dict[str, Any]:
    """What Rasa POSTs to /webhook, with the latest message's metadata as given."""
    tracker = make_tracker("show my recent orders", "recent_orders", metadata=metadata)
    return {
        "next_action": action,
        "sender_id": tracker.sender_id,
        "tracker": tracker.current_state(),
        "domain": load_domain(),
        "version": "3.6.21",
    }


async def call(
    url: str, method: str = "POST", *, headers: dict[str, str] | None = None, body: Any = None, **params: str
) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=body, headers=headers or {}, params=params) as response,
    ):
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({}, {}),
        ({"Authorization": "Bearer not-the-token"}, {}),
        ({"Authorization": TOKEN}, {}),  # no scheme
        ({"Authorization": f"Basic {TOKEN}"}, {}),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, {}),
        ({}, {"token": TOKEN}),  # Rasa's `token:` query parameter is not how this server is called
    ],
    ids=["none", "wrong", "no-scheme", "basic", "prefix", "query-token"],
)
async def test_calls_without_the_token_are_refused_before_any_action_runs(
    action_server: str, services: Services, headers: dict[str, str], params: dict[str, str]
) -> None:
    status, text = await call(
        f"{action_server}/webhook", headers=headers, body=action_call(forged_identity("C1002")), **params
    )

    assert status == 401 and "unauthorized" in text
    assert not any(number in text for number in C1002_ORDERS)
    assert audit_rows(services.engine) == []
    listed, _ = await call(f"{action_server}/actions", "GET", headers=headers, **params)
    assert listed == 401


async def test_rasa_with_the_token_gets_the_action_run(action_server: str, services: Services) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, text = await call(f"{action_server}/webhook", headers=bearer, body=action_call(forged_identity("C1002")))

    # The token lets Rasa in, but the forged identity in the tracker still buys nothing.
    assert status == 200 and "utter_need_verification" in text, text
    assert not any(number in text for number in C1002_ORDERS)
    assert audit_rows(services.engine) == []
    listed, names = await call(f"{action_server}/actions", "GET", headers={"authorization": f"bearer {TOKEN}"})
    assert listed == 200 and "action_recent_orders" in names


async def test_rasa_with_the_token_and_the_gateways_turn_token_gets_the_records(
    action_server: str, services: Services
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, text = await call(f"{action_server}/webhook", headers=bearer, body=action_call(identity("C1002")))

    assert status == 200 and any(number in text for number in C1002_ORDERS), text
    assert audit_rows(services.engine) == [("C1002", "orders", "web", "found")]


async def test_the_health_probe_needs_no_token(action_server: str) -> None:
    assert await call(f"{action_server}/health", "GET") == (200, '{"status":"ok"}')
    status, _ = await call(f"{action_server}/health", "POST")
    assert status in (401, 405)


def test_authorized_compares_the_whole_bearer_token() -> None:
    assert authorized(f"Bearer {TOKEN}", TOKEN) and authorized(f"bearer  {TOKEN} ", TOKEN)
    for header in (None, "", "Bearer", "Bearer ", TOKEN, f"Token {TOKEN}", f"Bearer {TOKEN}x", f"Bearer x{TOKEN}"):
        assert not authorized(header, TOKEN), header
    assert not authorized("Bearer ", "")


def test_no_token_no_server() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        create_action_app("")
