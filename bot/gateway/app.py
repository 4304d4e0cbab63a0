"""The gateway's composition root: ``create_app(settings) -> web.Application``.

Each resource the gateway holds is opened by its own context manager below, in order, and
closed in reverse order on shutdown. They are entered on one exit stack, so when one fails
to start (Telegram unreachable with a bad token, Slack's Socket Mode refused...) everything
opened before it is closed before the error reaches aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.agentdesk.slack import SlackDesk
from bot.analytics.consumer import EventsConsumer
from bot.analytics.store import import_turns
from bot.channels import direct as direct_channel
from bot.channels import slack as slack_channel
from bot.channels import telegram as telegram_channel
from bot.channels import web as web_channel
from bot.channels.direct import DirectChannel
from bot.channels.inbox import ALONE_WAIT_POLL_S, CLUSTER_WAIT_POLL_S, Inbox, InboxWorker
from bot.channels.outbox import Outbox, OutboxWorker
from bot.channels.pacing import LocalPacer, RedisPacer
from bot.channels.retry import RetryPolicy
from bot.channels.texts import load_channel_texts
from bot.channels.web import WebChannel
from bot.conversations.hub import ConversationHub
from bot.conversations.identity import IdentityResolver
from bot.conversations.relay import RedisRelay
from bot.conversations.service import ConversationService
from bot.conversations.store import ConversationStore
from bot.db.engine import create_db_engine
from bot.db.leases import ReplicaLeases
from bot.dialogue.rasa_client import RasaClient
from bot.gateway import (
    agent_api,
    agent_tools_api,
    api,
    follow_up_api,
    health,
    help_pages,
    insights,
    metrics,
    return_labels,
)
from bot.gateway.errors import error_middleware
from bot.gateway.keys import (
    AGENTS,
    CHANNEL_TEXTS,
    CONVERSATIONS,
    DIALOGUE,
    DIRECT,
    ENGINE,
    HANDOFFS,
    HELP_ARTICLES,
    HTTP,
    HUB,
    INBOX,
    INBOX_WORKER,
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_TEXTS,
    ORDER_NOTIFICATIONS,
    ORDER_STATUS,
    OUTBOX,
    OUTBOX_WORKER,
    SETTINGS,
    SLACK,
    SLACK_DESK,
    STORE,
    TELEGRAM,
    TEXTS,
    WEB,
)
from bot.gateway.limits import rate_limit_middleware
from bot.handoff.agents import AgentCredentials
from bot.handoff.canned import load_canned_replies
from bot.handoff.desk import HandoffDesk
from bot.handoff.events import HandoffEvents
from bot.handoff.hours import load_hours
from bot.handoff.lookup import HandoffLookup
from bot.handoff.router import HandoffRouter
from bot.handoff.routing import load_routing
from bot.handoff.service import HandoffService
from bot.handoff.timers import HandoffTimers
from bot.handoff.tools import HandoffTools
from bot.help import load_help_center
from bot.identity.deeplinks import DeepLinks
from bot.identity.wiring import build_mailer
from bot.notifications.commands import ChatOptIn
from bot.notifications.follow_up import FollowUpMailer, FollowUps
from bot.notifications.orders import OrderNotifications
from bot.notifications.preferences import PreferenceStore
from bot.notifications.texts import load_notification_texts
from bot.notifications.timer import NotificationTimer
from bot.records.status import OrderStatusUpdates
from bot.settings import Settings
from bot.slack.app import SlackApp
from bot.texts import load_texts

_LOGGER = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

Resource = Callable[[web.Application], AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def _database(app: web.Application) -> AsyncIterator[None]:
    """The SQLAlchemy engine (a pool of connections)."""
    engine = app[ENGINE] = create_db_engine(app[SETTINGS].database_url)
    try:
        yield
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def _http(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client session for Rasa, the action server's probe and the platforms."""
    session = app[HTTP] = aiohttp.ClientSession()
    try:
        yield
    finally:
        await session.close()


@contextlib.asynccontextmanager
async def _services(app: web.Application) -> AsyncIterator[None]:
    """The conversation and handoff services, agents' credentials, the queues, the web and direct channels."""
    settings, engine = app[SETTINGS], app[ENGINE]
    store = app[STORE] = ConversationStore(engine)
    hub = app[HUB] = ConversationHub()
    dialogue = app[DIALOGUE] = RasaClient(
        session=app[HTTP],
        base_url=settings.dialogue.rasa_url,
        token=settings.dialogue.token,
        channel_secret=settings.dialogue.channel_secret,
        timeout_s=settings.dialogue.timeout_s,
        on_call=app[metrics.METRICS].dialogue_call,
    )
    identity = IdentityResolver(
        engine,
        settings.identity.secret,
        turn_secret=settings.dialogue.turn_secret,
        link_idle=dt.timedelta(days=settings.identity.link_idle_days),
    )
    events = HandoffEvents()
    conversations = app[CONVERSATIONS] = ConversationService(
        store=store,
        hub=hub,
        dialogue=dialogue,
        texts=app[TEXTS],
        identity=identity,
        handoff_events=events,
        observers=(app[metrics.METRICS],),
    )
    rules = load_routing(settings.paths.data_dir / "routing.yml")
    router = HandoffRouter(engine, rules, events, offer_s=settings.limits.offer_s or None)
    events.subscribe(router)  # first: a handoff is offered before the desks hear of it
    app[HANDOFFS] = HandoffService(
        desk=HandoffDesk(engine),
        events=events,
        conversations=conversations,
        limits=settings.limits,
        router=router,
        tools=HandoffTools(engine, list(rules.queues)),
        lookup=HandoffLookup(engine),
        canned=load_canned_replies(settings.paths.data_dir / "canned_replies.yml"),
    )
    app[AGENTS] = AgentCredentials(engine)
    retry = RetryPolicy(give_up_after=dt.timedelta(seconds=settings.limits.retry_for_s))
    # On SQLite the gateway runs alone: a waiting request is woken by its own worker, and looks at
    # the database only now and then; replicas sharing PostgreSQL look often (docs/performance.md).
    wait_poll_s = ALONE_WAIT_POLL_S if engine.dialect.name == "sqlite" else CLUSTER_WAIT_POLL_S
    inbox = app[INBOX] = Inbox(
        engine, settings.gateway.owner_id, lease_s=settings.limits.lease_s, policy=retry, wait_poll_s=wait_poll_s
    )
    app[OUTBOX] = Outbox(engine, settings.gateway.owner_id, lease_s=settings.limits.lease_s)
    worker = app[INBOX_WORKER] = InboxWorker(inbox, {}, max_concurrent=settings.limits.max_concurrent_turns)
    shared = _shared_redis(settings)  # a cluster: the platforms' pace is kept across replicas
    pacer = (
        (lambda platform, rate: RedisPacer(shared, f"{settings.services.redis_prefix}:pace:{platform}", rate))
        if shared is not None
        else (lambda _platform, rate: LocalPacer(rate))
    )
    app[OUTBOX_WORKER] = OutboxWorker(app[OUTBOX], [], policy=retry, pacer=pacer)
    web_chat = app[WEB] = WebChannel(
        conversations=conversations,
        store=store,
        hub=hub,
        inbox=inbox,
        identity=identity,
        texts=app[TEXTS],
        limits=settings.limits,
        allowed_origins=settings.gateway.allowed_origins,
        wake_inbox=worker.wake,
        run_now=worker.run_now,
        trust_forwarded_for=settings.gateway.trust_forwarded_for,
        on_refused=functools.partial(app[metrics.METRICS].refused, web_channel.PLATFORM),
        follow_ups=FollowUps(engine),
    )
    direct = app[DIRECT] = DirectChannel(
        conversations=conversations,
        store=store,
        inbox=inbox,
        identity=identity,
        wake_inbox=worker.wake,
        wait_s=settings.limits.turn_wait_s,
        run_now=worker.run_now,
    )
    worker.register(web_channel.PLATFORM, web_chat.process)
    worker.register(direct_channel.PLATFORM, direct.process)
    try:
        yield
    finally:
        if shared is not None:
            await shared.close()


def _shared_redis(settings: Settings) -> Any:
    """With BOT_REDIS_URL, a client of the Redis the replicas share (None on one host)."""
    if not settings.services.redis_url:
        return None
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(settings.services.redis_url, socket_connect_timeout=2, socket_timeout=2)


@contextlib.asynccontextmanager
async def _slack(app: web.Application) -> AsyncIterator[None]:
    """The Slack app with the agent desk and (unless turned off) the customer channel."""
    settings = app[SETTINGS]
    if not settings.slack.enabled:
        yield
        return
    slack = app[SLACK] = SlackApp(settings.slack, app[HTTP])
    desk = app[SLACK_DESK] = SlackDesk(
        slack=slack,
        agents_channel=settings.slack.agents_channel,
        handoffs=app[HANDOFFS],
        engine=app[ENGINE],
        legacy_threads_file=settings.paths.var_dir / "slack_threads.json",
    )
    app[HANDOFFS].events.subscribe(desk)
    if settings.slack.customers:
        customers = slack_channel.SlackCustomers(
            slack,
            limits=settings.limits,
            inbox=app[INBOX],
            conversations=app[CONVERSATIONS],
            store=app[STORE],
            texts=app[CHANNEL_TEXTS],
            wake_inbox=app[INBOX_WORKER].wake,
            is_desk_channel=desk.is_desk_channel,
        )
        app[INBOX_WORKER].register(slack_channel.PLATFORM, customers.process)
        app[OUTBOX_WORKER].register(slack_channel.SlackSender(settings.slack, app[HTTP]))
    try:
        await desk.start()
        await slack.start()
        yield
    finally:
        await slack.close()
        await desk.close()


@contextlib.asynccontextmanager
async def _telegram(app: web.Application) -> AsyncIterator[None]:
    """The Telegram customer channel (webhook or long polling)."""
    settings = app[SETTINGS]
    if not settings.telegram.enabled:
        yield
        return
    telegram = app[TELEGRAM] = telegram_channel.TelegramChannel(
        settings.telegram,
        limits=settings.limits,
        inbox=app[INBOX],
        conversations=app[CONVERSATIONS],
        store=app[STORE],
        texts=app[CHANNEL_TEXTS],
        deep_links=DeepLinks(app[ENGINE], settings.identity.secret),
        wake_inbox=app[INBOX_WORKER].wake,
        leases=_leases(app),
        opt_in=ChatOptIn(app[NOTIFICATION_PREFERENCES], app[NOTIFICATION_TEXTS]),
    )
    app[INBOX_WORKER].register(telegram_channel.PLATFORM, telegram.process)
    app[OUTBOX_WORKER].register(telegram.sender)
    try:
        await telegram.start()
        yield
    finally:
        await telegram.close()


@contextlib.asynccontextmanager
async def _queues(app: web.Application) -> AsyncIterator[None]:
    """The inbox and outbox workers of the push channels registered above."""
    inbox_worker, outbox_worker = app[INBOX_WORKER], app[OUTBOX_WORKER]
    app[HUB].on_publish(lambda _message: outbox_worker.wake())
    inbox_worker.start()
    outbox_worker.start()
    channels = ",".join(inbox_worker.platforms)
    _LOGGER.info("gateway.started port=%d channels=%s", app[SETTINGS].gateway.port, channels)
    try:
        yield
    finally:
        await inbox_worker.close()
        await outbox_worker.close()


#: The lease of the replica that reads Rasa's events queue.
CONSUMER_LEASE = "analytics_consumer"


def _leases(app: web.Application) -> ReplicaLeases | None:
    """In a cluster (BOT_REDIS_URL set), the leases that keep single-holder work on one replica."""
    settings = app[SETTINGS]
    return ReplicaLeases(app[ENGINE], settings.gateway.owner_id) if settings.services.redis_url else None


@contextlib.asynccontextmanager
async def _relay(app: web.Application) -> AsyncIterator[None]:
    """With BOT_REDIS_URL: the hub joined to the other replicas' (bot/conversations/relay.py)."""
    services = app[SETTINGS].services
    if not services.redis_url:
        yield
        return
    relay = RedisRelay(app[HUB], services.redis_url, services.redis_prefix)
    await relay.start()
    _LOGGER.info("gateway.relay_started channel=%s", relay.channel)
    try:
        yield
    finally:
        await relay.close()


@contextlib.asynccontextmanager
async def _analytics_consumer(app: web.Application) -> AsyncIterator[None]:
    """With BOT_RABBITMQ_URL: one replica reads Rasa's events queue, imports the turns (analytics/consumer.py)."""
    settings = app[SETTINGS]
    if not settings.services.rabbitmq_url:
        yield
        return
    engine, tracker_url, leases = app[ENGINE], settings.dialogue.tracker_url, _leases(app)
    consumer = EventsConsumer(
        settings.services.rabbitmq_url,
        settings.services.events_queue,
        lambda: import_turns(engine, tracker_url),
        holding=(lambda: leases.hold(CONSUMER_LEASE, 30)) if leases is not None else (lambda: True),
    )
    task = asyncio.create_task(consumer.run(), name="analytics-consumer")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if leases is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(leases.release, CONSUMER_LEASE)


@contextlib.asynccontextmanager
async def _timers(app: web.Application) -> AsyncIterator[None]:
    """The handoff timers (escalation, silent customers), running in the background."""
    settings = app[SETTINGS]
    timers = HandoffTimers(
        app[ENGINE],
        load_hours(settings.paths.data_dir / "business_hours.yml"),
        conversations=app[CONVERSATIONS],
        events=app[HANDOFFS].events,
        closing_text=app[TEXTS].handoff_closed_silent,
        leases=_leases(app),
        router=app[HANDOFFS].router,
        interval_s=TIMERS_INTERVAL_S,
    )
    async with timers.running():
        yield


#: How often the handoff timers and the router's offers are checked (an offer times out within this).
TIMERS_INTERVAL_S = 2.0


@contextlib.asynccontextmanager
async def _notifications(app: web.Application) -> AsyncIterator[None]:
    """Follow-up (docs/notifications.md): order updates and their timer; answers mailed to web customers who left."""
    settings, engine = app[SETTINGS], app[ENGINE]
    app[ORDER_STATUS] = OrderStatusUpdates(engine)
    app[NOTIFICATION_PREFERENCES] = PreferenceStore(
        engine, link_idle=dt.timedelta(days=settings.identity.link_idle_days)
    )
    notifications = app[ORDER_NOTIFICATIONS] = OrderNotifications(
        engine, store=app[STORE], texts=app[NOTIFICATION_TEXTS], publish=app[HUB].publish
    )
    follow_up = FollowUpMailer(
        FollowUps(engine),
        build_mailer(settings.smtp, settings.paths),
        app[NOTIFICATION_TEXTS],
        tabs_open=app[HUB].subscriber_count,
    )
    app[HANDOFFS].events.subscribe(follow_up)  # agents' answers to web customers who left
    try:
        async with NotificationTimer(notifications, leases=_leases(app)).running():
            yield
    finally:
        await follow_up.close()


#: Opened in this order, closed in reverse.
RESOURCES: tuple[Resource, ...] = (
    _database,
    _http,
    _services,
    _notifications,
    _relay,
    _slack,
    _telegram,
    _queues,
    _analytics_consumer,
    _timers,
)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """The gateway's one cleanup context: every resource opened in order, closed in reverse."""
    async with contextlib.AsyncExitStack() as stack:
        for resource in RESOURCES:
            await stack.enter_async_context(resource(app))
        yield
    _LOGGER.info("gateway.stopped")


async def _websocket(request: web.Request) -> web.StreamResponse:
    """The web widget's WebSocket."""
    return await request.app[WEB].websocket(request)


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
        bot.help.HelpCenterError: an article in ``data/help/`` is malformed.
    """
    gateway_metrics = metrics.GatewayMetrics(settings.metrics)
    app = web.Application(
        middlewares=[
            error_middleware,
            metrics.count_refusals(gateway_metrics),  # sees the 429s of the limits below it
            rate_limit_middleware(settings.limits, settings.gateway),
        ],
        client_max_size=256 * 1024,
    )
    app[SETTINGS] = settings
    app[metrics.METRICS] = gateway_metrics
    texts_file = settings.paths.data_dir / "texts.yml"
    app[TEXTS] = load_texts(texts_file)
    app[CHANNEL_TEXTS] = load_channel_texts(texts_file)  # fails at start, not at the first Telegram message
    app[NOTIFICATION_TEXTS] = load_notification_texts(texts_file)
    app[HELP_ARTICLES] = {a.id: a for a in load_help_center(settings.paths.data_dir / "help")}
    app.cleanup_ctx.append(_resources)
    app.add_routes(health.routes)
    app.add_routes(api.routes)
    app.add_routes(agent_api.routes)
    app.add_routes(agent_tools_api.routes)
    app.add_routes(follow_up_api.routes)
    app.add_routes(metrics.routes)
    app.add_routes(help_pages.routes)
    app.add_routes(return_labels.routes)
    app.add_routes(insights.routes)
    app.router.add_get(web_channel.PATH, _websocket)
    if settings.slack.enabled and settings.slack.signing_secret:
        app.router.add_post("/slack/events", _slack_events)
    if settings.telegram.enabled and settings.telegram.mode == "webhook":
        app.router.add_post(telegram_channel.WEBHOOK_PATH, _telegram_webhook)
    app.router.add_get("/", _index)
    app.router.add_get("/console", _console)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, append_version=False)
    return app
