"""A fake Rasa server (REST channel + /status) for gateway tests: a real aiohttp app on a free port."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class FakeRasa:
    """Scriptable stand-in for ``rasa run --enable-api``; records every request it receives."""

    token: str
    received: list[dict[str, Any]] = field(default_factory=list)
    tokens_seen: list[str | None] = field(default_factory=list)
    triggered: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int | None = None
    delay_s: float = 0.0
    model_loaded: bool = True
    #: The tracker events per conversation: each message (with its metadata) and the bot's replies.
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()

        async def webhook(request: web.Request) -> web.Response:
            self.tokens_seen.append(request.query.get("token"))
            body = await request.json()
            self.received.append(body)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
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

        app.router.add_post("/webhooks/rest/webhook", webhook)
        app.router.add_get("/conversations/{conversation_id}/tracker", tracker)
        app.router.add_post("/conversations/{conversation_id}/trigger_intent", trigger_intent)
        app.router.add_get("/status", status)
        return app


async def start_fake_rasa(token: str) -> tuple[FakeRasa, TestServer]:
    """Start a fake Rasa on 127.0.0.1 and a free port."""
    fake = FakeRasa(token=token)
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    return fake, server
