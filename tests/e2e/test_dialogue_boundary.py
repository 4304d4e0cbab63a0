"""Security point 1, end to end: reaching Rasa's or the action server's port buys no customer's records.

The attack: any process that can reach the Rasa server (or the action server) sends
"show my recent orders" for a conversation of its own with ``metadata.customer_id`` set to
somebody else's id (C1002), hoping the custom actions believe it. On the real stack every
door is tried: Rasa's stock REST webhook, the gateway channel without or with a wrong
signature, the gateway channel correctly signed but without the gateway's turn token, and
the action server's ``/webhook`` with a forged tracker, without and with its token. None
answers with C1002's orders or looks a record up; the same question through the gateway,
with C1002's signed customer token, does get them.

As in a cluster, the stack's Rasa and action server listen on every interface (``0.0.0.0``),
and every attack comes both over loopback and to this machine's own network address.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
import yaml

from bot.db.seed import load_demo_data
from bot.dialogue.signing import signed_headers
from bot.identity.tokens import mint_customer_token
from bot.settings import PROJECT_ROOT
from tests.helpers import interface_addresses
from tests.stack import E2E_ACTION_TOKEN, E2E_CHANNEL_SECRET, E2E_IDENTITY_SECRET, RunningStack, joined, say

pytestmark = pytest.mark.e2e

VICTIM = "C1002"
VICTIM_ORDERS = [o.number for o in load_demo_data(PROJECT_ROOT / "data").orders if o.customer_id == VICTIM]
QUESTION = "show my recent orders"


def forged_metadata(conversation: str) -> dict[str, Any]:
    """What the attacker claims: the metadata the gateway used to send, naming the victim."""
    return {
        "channel": "direct",
        "conversation_id": conversation,
        "channel_user": conversation,
        "customer_id": VICTIM,
        "verified_by": "token",
    }


def attack_body(conversation: str) -> bytes:
    return json.dumps({"sender": conversation, "message": QUESTION, "metadata": forged_metadata(conversation)}).encode()


def leaked(text: str) -> list[str]:
    """The victim's order numbers found in ``text``."""
    return [number for number in VICTIM_ORDERS if number in text]


def victim_lookups(stack: RunningStack) -> int:
    """How many times the victim's records were looked up (the action server audits every lookup)."""
    url = stack.database_url
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT count(*) FROM record_access_audit WHERE customer_id = :customer")
            return int(connection.execute(query, {"customer": VICTIM}).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as client:
        yield client


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str] | None = None, **params: str
) -> tuple[int, str]:
    headers = {"Content-Type": "application/json", **(headers or {})}
    async with session.post(url, data=body, headers=headers, params=params) as response:
        return response.status, await response.text()


def conversation() -> str:
    return f"attack-{uuid.uuid4().hex[:8]}"


Door = Callable[[str], str]


@pytest.fixture(params=["loopback", "network"])
def door(request: pytest.FixtureRequest) -> Door:
    """How the attacker reaches a port: over loopback, or at this machine's address as another pod would."""
    if request.param == "loopback":
        return lambda url: url
    addresses = interface_addresses()
    assert addresses, "this machine has no IPv4 address besides loopback to attack from"
    return lambda url: url.replace("127.0.0.1", addresses[0], 1)


def listening_on(port: int) -> set[str]:
    """The local IPv4 addresses a TCP port listens on (``/proc/net/tcp``, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_rasa_and_the_action_server_listen_on_every_interface(stack: RunningStack) -> None:
    for url in (stack.rasa_url, stack.action_url):
        assert listening_on(int(url.rsplit(":", 1)[1])) == {"0.0.0.0"}, url


async def test_the_attack_used_to_work_through_the_gateway_only_with_the_victims_token(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    """The control: the question does reach C1002's orders for C1002, through the gateway."""
    token = mint_customer_token(VICTIM, E2E_IDENTITY_SECRET, ttl_s=600)
    reply = await say(session, stack, conversation(), QUESTION, token)
    assert leaked(joined(reply)), reply


@pytest.mark.parametrize("with_api_token", [False, True], ids=["no-token", "rasa-api-token"])
async def test_rasas_stock_rest_webhook_is_gone(
    stack: RunningStack, session: aiohttp.ClientSession, door: Door, with_api_token: bool
) -> None:
    before = victim_lookups(stack)
    chat = conversation()
    params = {"token": stack.rasa_token} if with_api_token else {}
    status, text = await post(session, door(f"{stack.rasa_url}/webhooks/rest/webhook"), attack_body(chat), **params)

    assert status == 404, text
    assert leaked(text) == []
    assert victim_lookups(stack) == before


@pytest.mark.parametrize("signing", ["unsigned", "wrong-secret", "rasa-api-token", "stale"])
async def test_the_gateway_channel_refuses_what_the_gateway_did_not_sign(
    stack: RunningStack, session: aiohttp.ClientSession, door: Door, signing: str
) -> None:
    before = victim_lookups(stack)
    body = attack_body(conversation())
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if signing == "wrong-secret":
        headers = signed_headers("a-guessed-channel-secret-of-some-length", body)
    elif signing == "rasa-api-token":
        params = {"token": stack.rasa_token}
        headers = {"Authorization": f"Bearer {stack.rasa_token}"}
    elif signing == "stale":
        headers = signed_headers(E2E_CHANNEL_SECRET, body, now=time.time() - 3600)  # a copy sent an hour later
    status, text = await post(session, door(f"{stack.rasa_url}/webhooks/gateway/webhook"), body, headers, **params)

    assert status == 401, text
    assert leaked(text) == []
    assert victim_lookups(stack) == before


async def test_a_signed_message_without_the_gateways_turn_token_is_anonymous(
    stack: RunningStack, session: aiohttp.ClientSession, door: Door
) -> None:
    """Even with the channel secret, claiming a customer in plain metadata only gets "verify first"."""
    before = victim_lookups(stack)
    body = attack_body(conversation())
    status, text = await post(
        session, door(f"{stack.rasa_url}/webhooks/gateway/webhook"), body, signed_headers(E2E_CHANNEL_SECRET, body)
    )

    assert status == 200, text
    assert "make sure it's you" in text, text
    assert leaked(text) == []
    assert victim_lookups(stack) == before


def forged_action_call(chat: str) -> dict[str, Any]:
    """A tracker as Rasa would send it to run action_recent_orders, its latest message claiming the victim."""
    metadata = forged_metadata(chat)
    parse = {"text": QUESTION, "intent": {"name": "recent_orders", "confidence": 0.99}, "entities": []}
    user = {"event": "user", "timestamp": time.time(), "text": QUESTION, "parse_data": parse, "metadata": metadata}
    tracker = {
        "sender_id": chat,
        "slots": {},
        "latest_message": {**parse, "metadata": metadata},
        "events": [user],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {"next_action": "action_recent_orders", "sender_id": chat, "tracker": tracker, "domain": domain}


@pytest.mark.parametrize("credential", ["none", "wrong-token", "rasa-api-token", "action-token"])
async def test_the_action_server_runs_nothing_for_a_forged_tracker(
    stack: RunningStack, session: aiohttp.ClientSession, door: Door, credential: str
) -> None:
    before = victim_lookups(stack)
    headers = {
        "none": {},
        "wrong-token": {"Authorization": "Bearer not-the-action-token"},
        "rasa-api-token": {"Authorization": f"Bearer {stack.rasa_token}"},
        "action-token": {"Authorization": f"Bearer {E2E_ACTION_TOKEN}"},
    }[credential]
    body = json.dumps(forged_action_call(conversation())).encode()
    status, text = await post(session, door(f"{stack.action_url}/webhook"), body, headers)

    if credential == "action-token":  # Rasa's own credential: the action runs, for an anonymous customer
        assert status == 200 and "utter_need_verification" in text, text
    else:
        assert status == 401, text
    assert leaked(text) == []
    assert victim_lookups(stack) == before


async def test_the_action_servers_health_probe_stays_open(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{stack.action_url}/health") as response:
        assert response.status == 200
    async with session.get(f"{stack.action_url}/actions") as response:
        assert response.status == 401
