"""The gateway's one Slack app: a slack-bolt ``AsyncApp`` shared by the agent desk and the customer channel.

Slack reaches it through ``POST /slack/events`` (Events API and interactivity; slack-bolt checks
the signature and its 5-minute replay window, anything else gets 401) or through Socket Mode
when ``BOT_SLACK_APP_TOKEN`` is set. Listeners run before Slack is answered
(``process_before_response``): they only store or enqueue, so the answer stays immediate and
what was acknowledged is already safe.

``message`` events go to the registered message handlers in order until one takes the event
(the desk first: replies in its handoff threads; then the customer channel).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import SlackSettings

_LOGGER = logging.getLogger(__name__)

#: Takes a ``message`` event (request body, event) and says whether it handled it.
MessageHandler = Callable[[dict[str, Any], dict[str, Any]], Awaitable[bool]]


def web_client(settings: SlackSettings) -> AsyncWebClient:
    """A Web API client for a process without the Slack app (the CLI), waiting out rate limits."""
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


class SlackApp:
    """The bolt app, its Web API client and the Socket Mode connection."""

    def __init__(self, settings: SlackSettings, session: aiohttp.ClientSession | None = None) -> None:
        """Build the app (no network until :meth:`start`)."""
        self._settings = settings
        self.client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url, session=session)
        verify = bool(settings.signing_secret)
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret if verify else None,
            request_verification_enabled=verify,
            process_before_response=True,  # listeners only store or enqueue: the answer is still immediate
            logger=logging.getLogger("bot.slack.bolt"),
        )
        self._message_handlers: list[MessageHandler] = []
        self._socket: AsyncSocketModeHandler | None = None
        self.bolt.event("message")(self._on_message)

    def on_message(self, handler: MessageHandler) -> None:
        """Offer every ``message`` event to ``handler`` (after the handlers registered before it)."""
        self._message_handlers.append(handler)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        for handler in self._message_handlers:
            if await handler(body, event):
                return

    async def start(self) -> None:
        """Connect Socket Mode when an app token is set."""
        if self._settings.app_token:
            self._socket = AsyncSocketModeHandler(self.bolt, self._settings.app_token, web_client=self.client)
            await self._socket.connect_async()
            _LOGGER.info("slack.socket_mode_connected")

    async def close(self) -> None:
        """Disconnect Socket Mode."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None

    async def dispatch_http(self, request: web.Request) -> web.Response:
        """Handle ``POST /slack/events``; 401 when unsigned or stale."""
        response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)
