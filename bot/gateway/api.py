"""The direct channel: ``/api/v1`` for integrations, load tests and end-to-end tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
from typing import Any

from aiohttp import web

from bot.channels.direct import IdempotencyConflict
from bot.core import jsonsafe
from bot.core.text import clean_text, is_client_id, is_conversation_id
from bot.gateway.errors import ApiError
from bot.gateway.keys import DIRECT, ENGINE, SETTINGS, STORE, TELEGRAM
from bot.handoff.language import language_code
from bot.identity.deeplinks import DeepLinks, UnknownCustomer

routes = web.RouteTableDef()

#: Largest request body read (a message is at most 4000 characters).
MAX_BODY = 64 * 1024
#: A cursor is a database row id: ASCII digits, at most a signed 64-bit integer.
CURSOR = re.compile(r"[0-9]{1,19}")
MAX_CURSOR = 2**63 - 1


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>``.

    Raises:
        ApiError: 401 when the header is missing or not a bearer token.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Missing bearer token.")
    return token.strip()


def require_token(request: web.Request, expected: str) -> None:
    """Check ``Authorization: Bearer <token>`` in constant time.

    Raises:
        ApiError: 401 when the header is missing or the token is wrong.
    """
    if not hmac.compare_digest(bearer_token(request).encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "Invalid token.")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """Parse the body as a JSON object or raise a 400 that says why (size and nesting checked first)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", "Request body is larger than 64 KiB.")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", "Request body is larger than 64 KiB.")
    try:
        body = jsonsafe.loads(raw, max_bytes=MAX_BODY)
    except jsonsafe.UnsafeJson as exc:
        raise ApiError(400, "invalid_json", f"Request body is not acceptable JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Request body must be a JSON object.")
    return body


@routes.post("/api/v1/messages")
async def post_message(request: web.Request) -> web.Response:
    """Send a customer message on the direct channel and answer with the bot's replies."""
    settings = request.app[SETTINGS]
    require_token(request, settings.gateway.api_token)
    body = await read_json_object(request)
    conversation_id = body.get("conversation_id")
    if not isinstance(conversation_id, str) or not is_conversation_id(conversation_id):
        raise ApiError(
            400, "invalid_conversation_id", "conversation_id must be 1-128 letters, digits or _ . : - characters."
        )
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "invalid_text", "text must be a string.")
    text = clean_text(text)
    if not text:
        raise ApiError(400, "invalid_text", "text must not be empty.")
    if len(text) > settings.limits.max_message_chars:
        raise ApiError(400, "text_too_long", f"text must be at most {settings.limits.max_message_chars} characters.")
    token = body.get("customer_token")
    if token is not None and not isinstance(token, str):
        raise ApiError(400, "invalid_customer_token", "customer_token must be a string.")
    if "client_id" in body and not is_client_id(body["client_id"]):
        raise ApiError(400, "invalid_idempotency_key", "client_id must be 1-64 letters, digits, _ or -.")
    key = request.headers.get("Idempotency-Key", body.get("client_id"))
    if key is not None and not is_client_id(key):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-64 letters, digits, _ or -.")
    language = body.get("language")
    if language is not None and language_code(language) is None:
        raise ApiError(400, "invalid_language", "language must be a language tag such as de or de-AT.")
    try:
        turn = await request.app[DIRECT].send(conversation_id, text, token, key, language_code(language))
    except IdempotencyConflict:
        raise ApiError(409, "idempotency_conflict", "This Idempotency-Key was used for a different message.") from None
    handoff = {"id": turn.handoff.id, "status": turn.handoff.status} if turn.handoff else None
    answer = {
        "replies": [{"text": r.text, "buttons": [b.to_json() for b in r.buttons]} for r in turn.replies],
        "handoff": handoff,
    }
    if not turn.finished:
        # Accepted and stored: the turn goes on, its replies arrive in GET .../messages.
        return web.json_response({**answer, "status": "processing"}, status=202)
    return web.json_response(answer)


@routes.get("/api/v1/conversations/{conversation_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    """A conversation's messages after a cursor, oldest first."""
    require_token(request, request.app[SETTINGS].gateway.api_token)
    conversation_id = request.match_info["conversation_id"]
    if not is_conversation_id(conversation_id):
        raise ApiError(400, "invalid_conversation_id", "Malformed conversation id.")
    after_raw = request.query.get("after", "0") or "0"
    if not CURSOR.fullmatch(after_raw) or int(after_raw) > MAX_CURSOR:
        raise ApiError(400, "invalid_cursor", "after must be a cursor: an integer from 0 to 2^63-1.")
    after = int(after_raw)
    try:
        limit = min(max(int(request.query.get("limit", "500")), 1), 500)
    except ValueError:
        raise ApiError(400, "invalid_limit", "limit must be an integer from 1 to 500.") from None
    store = request.app[STORE]
    if await store.get(conversation_id) is None:
        raise ApiError(404, "conversation_not_found", "No conversation with that id.")
    messages = await store.messages_after(conversation_id, after, limit)
    next_cursor = messages[-1].cursor if messages else after
    return web.json_response(
        {
            "conversation_id": conversation_id,
            "messages": [m.to_json() for m in messages],
            "next_cursor": next_cursor,
        }
    )


@routes.post("/api/v1/deep-links")
async def post_deep_link(request: web.Request) -> web.Response:
    """Mint a one-time Telegram deep link for a signed-in customer (the host site calls this)."""
    settings = request.app[SETTINGS]
    require_token(request, settings.gateway.api_token)
    body = await read_json_object(request)
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, str) or not 0 < len(customer_id) <= 32:
        raise ApiError(400, "invalid_customer_id", "customer_id must be a customer's id.")
    links = DeepLinks(request.app[ENGINE], settings.identity.secret)
    try:
        minted = await asyncio.to_thread(links.mint, customer_id)
    except UnknownCustomer:
        raise ApiError(404, "unknown_customer", "No customer with that id.") from None
    answer: dict[str, Any] = {
        "token": minted.token,
        "expires_at": minted.expires_at.replace(tzinfo=dt.timezone.utc).isoformat(),
        "telegram_url": None,
    }
    telegram = request.app.get(TELEGRAM)
    username = telegram.username if telegram is not None else None
    if username:
        answer["telegram_url"] = f"https://t.me/{username}?start={minted.token}"
    return web.json_response(answer, status=201)
