"""The gateway's composition root: ``create_app(settings) -> web.Application``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.agentdesk.slack import SlackDesk
from bot.channels import web as web_channel
from bot.channels.inbox import Inbox, InboxWorker, Processor
from bot.channels.outbox import Outbox, OutboxWorker, PlatformSender
from bot.channels.slack import SlackCustomers, SlackSender
from bot.channels.slack_app import SlackApp
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.channels.texts import load_channel_texts
from bot.conversations.hub import ConversationHub
from bot.conversations.identity import IdentityResolver
from bot.conversations.service import ConversationService
from bot.conversations.store import ConversationStore
from bot.db.engine import create_db_engine
from bot.dialogue.rasa_client import RasaClient
from bot.gateway import agent_api, api, health
from bot.gateway.errors import error_middleware
from bot.gateway.keys import (
    CONVERSATIONS,
    DESK,
    DIALOGUE,
    ENGINE,
    HTTP,
    HUB,
    INBOX,
    OUTBOX,
    SETTINGS,
    SLACK,
    SLACK_DESK,
    STORE,
    TELEGRAM,
    TEXTS,
)
from bot.handoff.desk import HandoffDesk
from bot.handoff.hours import load_hours
from bot.handoff.timers import HandoffTimers
from bot.identity.deeplinks import DeepLinks
from bot.settings import Settings
from bot.texts import load_texts

_LOGGER = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Open the database engine and the HTTP session; close them on shutdown."""
    settings = app[SETTINGS]
    engine = create_db_engine(settings.database_url)
    session = aiohttp.ClientSession()
    app[ENGINE] = engine
    app[HTTP] = session
    app[STORE] = ConversationStore(engine)
    app[HUB] = ConversationHub()
    app[DIALOGUE] = RasaClient(
        session=session, base_url=settings.rasa_url, token=settings.rasa_token, timeout_s=settings.rasa_timeout_s
    )
    app[DESK] = HandoffDesk(engine)
    app[CONVERSATIONS] = ConversationService(
        store=app[STORE],
        hub=app[HUB],
        dialogue=app[DIALOGUE],
        texts=app[TEXTS],
        identity=IdentityResolver(engine, settings.identity_secret),
    )
    timers = HandoffTimers(
        engine,
        load_hours(settings.data_dir / "business_hours.yml"),
        app[CONVERSATIONS],
        app[TEXTS].handoff_closed_silent,
    )
    inbox = app[INBOX] = Inbox(engine, settings.owner_id)
    outbox = app[OUTBOX] = Outbox(engine, settings.owner_id)
    processors: dict[str, Processor] = {}
    senders: list[PlatformSender] = []
    inbox_worker = InboxWorker(inbox, processors)
    channel_texts = load_channel_texts(settings.data_dir / "texts.yml")
    slack: SlackApp | None = None
    slack_desk: SlackDesk | None = None
    if settings.slack_enabled:
        slack = app[SLACK] = SlackApp(settings, session)
        slack_desk = SlackDesk(
            settings, desk=app[DESK], conversations=app[CONVERSATIONS], engine=engine, session=session, slack=slack
        )
        app[SLACK_DESK] = slack_desk
        app[CONVERSATIONS].handoff_events.subscribe(slack_desk)
        if settings.slack_customers:
            customers = SlackCustomers(
                settings,
                slack,
                inbox=inbox,
                conversations=app[CONVERSATIONS],
                store=app[STORE],
                texts=channel_texts,
                wake_inbox=inbox_worker.wake,
                is_desk_channel=slack_desk.is_desk_channel,
            )
            processors["slack"] = customers.process
            senders.append(SlackSender(settings, session))
        await slack_desk.start()
        await slack.start()
    telegram: TelegramChannel | None = None
    if settings.telegram_enabled:
        telegram = app[TELEGRAM] = TelegramChannel(
            settings,
            inbox=inbox,
            conversations=app[CONVERSATIONS],
            store=app[STORE],
            texts=channel_texts,
            deep_links=DeepLinks(engine, settings.identity_secret),
            wake_inbox=inbox_worker.wake,
        )
        processors["telegram"] = telegram.process
        senders.append(telegram.sender)
        await telegram.start()
    outbox_worker = OutboxWorker(outbox, senders)
    app[HUB].on_publish(lambda _message: outbox_worker.wake())
    inbox_worker.start()
    outbox_worker.start()
    _LOGGER.info("gateway.started port=%d channels=%s", settings.gateway_port, ",".join(["web", *processors]))
    async with timers.running():
        yield
    await inbox_worker.close()
    await outbox_worker.close()
    if telegram is not None:
        await telegram.close()
    if slack is not None:
        await slack.close()
    if slack_desk is not None:
        await slack_desk.close()
    await session.close()
    engine.dispose()
    _LOGGER.info("gateway.stopped")


async def _slack_events(request: web.Request) -> web.Response:
    """Slack's Events API and interactivity requests (signature checked by slack-bolt)."""
    return await request.app[SLACK].dispatch_http(request)


async def _telegram_webhook(request: web.Request) -> web.Response:
    """Telegram's webhook (secret-token header checked by the channel)."""
    return await request.app[TELEGRAM].webhook(request)


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _console(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "console.html")


def create_app(settings: Settings) -> web.Application:
    """Build the gateway application (nothing is opened until it starts).

    Raises:
        bot.texts.TextsError: ``data/texts.yml`` is missing or malformed.
    """
    app = web.Application(middlewares=[error_middleware], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[TEXTS] = load_texts(settings.data_dir / "texts.yml")
    load_channel_texts(settings.data_dir / "texts.yml")  # fail at start, not at the first Telegram message
    app.cleanup_ctx.append(_resources)
    app.add_routes(health.routes)
    app.add_routes(api.routes)
    app.add_routes(agent_api.routes)
    app.add_routes(web_channel.routes)
    if settings.slack_enabled and settings.slack_signing_secret:
        app.router.add_post("/slack/events", _slack_events)
    if settings.telegram_enabled and settings.telegram_mode == "webhook":
        app.router.add_post(WEBHOOK_PATH, _telegram_webhook)
    app.router.add_get("/", _index)
    app.router.add_get("/console", _console)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, append_version=False)
    return app
