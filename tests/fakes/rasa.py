"""A fake Rasa server (the signed customer channel + its HTTP API) for gateway tests: a real aiohttp app on a free port.

Like the real one (rasa_components/gateway_channel.py), its customer channel answers only
requests signed with the channel secret (bot/dialogue/signing.py) and never the same nonce
twice, so every gateway test also checks the gateway's signing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.dialogue.rasa_client import WEBHOOK_PATH
from bot.dialogue.signing import NONCE_HEADER, signature_problem
from bot.identity.turns import METADATA_KEY, TurnIdentity, verify_turn_token


@dataclass
class FakeRasa:
    """Scriptable stand-in for ``rasa run --enable-api``; records every request it receives."""

    token: str
    channel_secret: str
    received: list[dict[str, Any]] = field(default_factory=list)
    tokens_seen: list[str | None] = field(default_factory=list)
    #: Why each refused customer-channel request was refused (``replayed``, or signing.signature_problem's reason).
    refused: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    triggered: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int | None = None
    delay_s: float = 0.0
    #: A caller that hangs up mid-message (a gateway killed) cancels the message, as aiohttp does,
    #: unless this is set: then the message is processed to the end and lands in the tracker.
    finish_when_client_leaves: bool = False
    model_loaded: bool = True
    #: The tracker events per conversation: each message (with its metadata) and the bot's replies.
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Messages being answered right now, and the most there ever were at once.
    in_flight: int = 0
    max_in_flight: int = 0

    def reply_for(self, message: str) -> list[dict[str, Any]]:
        """Canned dialogue: a greeting with buttons, an echo otherwise."""
        if message in ("hi", "/greet"):
            return [
                {"text": "Hi! How can I help?", "buttons": [{"title": "Track my order", "payload": "/order_status"}]}
            ]
        if message == "silence":  # what Rasa answers when a custom action fails
            return []
        if message == "two":
            return [{"text": "first"}, {"text": "second"}]
        return [{"text": f"you said: {message}"}]

    def vouched(self, turn_secret: str, index: int = -1) -> TurnIdentity | None:
        """The identity the turn token of the ``index``-th message received vouches for, as the action server reads it."""
        body = self.received[index]
        metadata = body.get("metadata") or {}
        return verify_turn_token(
            metadata.get(METADATA_KEY), turn_secret, conversation_id=body["sender"], turn=metadata.get("turn")
        )

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()

        async def webhook(request: web.Request) -> web.Response:
            self.tokens_seen.append(request.query.get("token"))
            raw = await request.read()
            problem = signature_problem(self.channel_secret, raw, request.headers)
            if problem is None and request.headers[NONCE_HEADER] in self.nonces:
                problem = "replayed"
            if problem is not None:
                self.refused.append(problem)
                return web.json_response({"error": "unauthorized"}, status=401)
            self.nonces.add(request.headers[NONCE_HEADER])
            body = json.loads(raw)
            self.received.append(body)
            answering = asyncio.ensure_future(answer(body))
            if self.finish_when_client_leaves:
                return await asyncio.shield(answering)
            return await answering

        async def answer(body: dict[str, Any]) -> web.Response:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
            finally:
                self.in_flight -= 1
            if self.fail_with:
                return web.Response(status=self.fail_with, text="boom")
            replies = [{"recipient_id": body["sender"], **r} for r in self.reply_for(body["message"])]
            log = self.events.setdefault(body["sender"], [])
            log.append({"event": "user", "text": body["message"], "metadata": body.get("metadata") or {}})
            for reply in replies:
                data = {"buttons": reply["buttons"]} if reply.get("buttons") else {}
                log.append({"event": "bot", "text": reply.get("text"), "data": data})
            return web.json_response(replies)

        async def status(request: web.Request) -> web.Response:
            if request.query.get("token") != self.token:
                return web.json_response({"status": "failure"}, status=401)
            return web.json_response({"model_file": "models/fake.tar.gz" if self.model_loaded else None})

        async def trigger_intent(request: web.Request) -> web.Response:
            if request.query.get("token") != self.token:
                return web.json_response({"status": "failure"}, status=401)
            conversation = request.match_info["conversation_id"]
            intent = (await request.json())["name"]
            self.triggered.append((conversation, intent))
            message = {"recipient_id": conversation, "text": f"triggered {intent}"}
            return web.json_response({"tracker": {"sender_id": conversation}, "messages": [message]})

        async def tracker(request: web.Request) -> web.Response:
            if request.query.get("token") != self.token:
                return web.json_response({"status": "failure"}, status=401)
            conversation = request.match_info["conversation_id"]
            return web.json_response({"sender_id": conversation, "events": self.events.get(conversation, [])})

        app.router.add_post(WEBHOOK_PATH, webhook)
        app.router.add_get("/conversations/{conversation_id}/tracker", tracker)
        app.router.add_post("/conversations/{conversation_id}/trigger_intent", trigger_intent)
        app.router.add_get("/status", status)
        return app


async def start_fake_rasa(token: str, channel_secret: str) -> tuple[FakeRasa, TestServer]:
    """Start a fake Rasa on 127.0.0.1 and a free port (API ``token``, customer channel signed with ``channel_secret``)."""
    fake = FakeRasa(token=token, channel_secret=channel_secret)
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    return fake, server
