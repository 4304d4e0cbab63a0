"""``GET /metrics``: the gateway's numbers in Prometheus' text format (no personal data; docs/metrics.md).

Each app has its own :class:`GatewayMetrics` on its own ``CollectorRegistry`` (never the
process-wide default), so tests and several apps in one process do not share counters. Turns,
dialogue calls and refusals are counted as they happen; the figures that live in the database
(queue rows, open handoffs) and the open sockets are read when Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.channels import direct as direct_channel
from bot.channels import inbox as inbox_queue
from bot.channels import outbox as outbox_queue
from bot.channels import web as web_channel
from bot.channels.retry import DEAD
from bot.conversations.service import TURN_OUTCOMES, TurnRecord
from bot.db.models import Handoff, HandoffStatus
from bot.dialogue.rasa_client import DialogueCall
from bot.gateway.api import require_token
from bot.gateway.errors import ApiError, Handler
from bot.gateway.keys import ENGINE, INBOX, OUTBOX, WEB
from bot.settings import MetricsSettings

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

#: Seconds a scrape waits for the database's figures before it answers without them.
DATABASE_TIMEOUT_S = 3.0
#: Seconds: from a parse of Rasa's (tens of ms) to a turn that waited out ``BOT_RASA_TIMEOUT`` (30 s).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Handoffs not resolved yet: ``open`` waits for an agent (the queue), ``claimed`` has one.
HANDOFF_STATES = (HandoffStatus.OPEN.value, HandoffStatus.CLAIMED.value)
#: Where a limit refuses customers, as the ``channel`` and ``limit`` labels of the refusals.
REFUSALS = (
    (web_channel.PLATFORM, "connections"),
    (web_channel.PLATFORM, "messages"),
    (direct_channel.PLATFORM, "requests"),
)


@dataclass(frozen=True)
class Snapshot:
    """The figures read at scrape time (``None``: the database did not answer in time)."""

    inbox: Mapping[str, int] | None
    outbox: Mapping[str, int] | None
    handoffs: Mapping[str, int] | None
    websocket_connections: int


def _by_label(name: str, help_text: str, label: str, values: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class _ScrapeTimeFigures(Collector):
    """Yields the gauges of the :class:`Snapshot` the scrape handler has just read."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return
        yield GaugeMetricFamily(
            "bot_websocket_connections",
            "Web widget connections open on this gateway replica.",
            value=snapshot.websocket_connections,
        )
        yield GaugeMetricFamily(
            "bot_database_up",
            "1 when this scrape read the queue and handoff figures from the database, else 0.",
            value=0 if snapshot.inbox is None else 1,
        )
        if snapshot.inbox is None or snapshot.outbox is None or snapshot.handoffs is None:
            return
        inbox = {**dict.fromkeys((*inbox_queue.OPEN_STATES, DEAD), 0), **snapshot.inbox}
        outbox = {**dict.fromkeys((*outbox_queue.OPEN_STATES, DEAD), 0), **snapshot.outbox}
        yield _by_label("bot_inbox_events", "Customer messages in the durable inbox, by state.", "state", inbox)
        yield _by_label("bot_outbox_replies", "Replies in the durable outbox, by state.", "state", outbox)
        dead = {"inbox": inbox[DEAD], "outbox": outbox[DEAD]}
        yield _by_label("bot_dead_letters", "Messages and replies given up after a day of retries.", "queue", dead)
        handoffs = {**dict.fromkeys(HANDOFF_STATES, 0), **snapshot.handoffs}
        yield _by_label(
            "bot_handoffs", "Handoffs not resolved: open (waiting for an agent) or claimed.", "status", handoffs
        )


class GatewayMetrics:
    """The gateway's Prometheus metrics; also a turn observer (``bot.conversations.service.TurnObserver``)."""

    def __init__(self, settings: MetricsSettings) -> None:
        """Create the metrics on a registry of their own; ``settings`` says who may read them."""
        self._settings = settings
        self.registry = CollectorRegistry()
        registry = self.registry
        self._turns = Counter(
            "bot_turns", "Customer turns by channel and outcome.", ["channel", "outcome"], registry=registry
        )
        self._conversations = Counter(
            "bot_conversations_started",
            "Conversations whose first customer message was handled.",
            ["channel"],
            registry=registry,
        )
        self._turn_seconds = Histogram(
            "bot_turn_duration_seconds",
            "Seconds from the gateway taking a customer turn up to its replies being stored.",
            ["channel", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._turn_dialogue_seconds = Histogram(
            "bot_turn_dialogue_duration_seconds",
            "Seconds of a turn spent waiting for the dialogue model (Rasa and the actions it ran).",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._rasa_seconds = Histogram(
            "bot_rasa_request_duration_seconds",
            "Seconds each request to the Rasa server took, failed ones included.",
            ["call"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._dialogue_errors = Counter(
            "bot_dialogue_errors",
            "Requests to the Rasa server that failed, by call and error.",
            ["call", "error"],
            registry=registry,
        )
        self._refusals = Counter(
            "bot_rate_limit_refusals",
            "Connections, messages and requests refused by a rate or connection limit.",
            ["channel", "limit"],
            registry=registry,
        )
        for channel in (web_channel.PLATFORM, direct_channel.PLATFORM):  # the channels every gateway serves
            for outcome in TURN_OUTCOMES:
                self._turns.labels(channel, outcome)
        for channel, limit in REFUSALS:
            self._refusals.labels(channel, limit)
        self._figures = _ScrapeTimeFigures()
        registry.register(self._figures)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        if not settings.token and not settings.open_without_token:
            _LOGGER.warning("metrics.closed reason=no_token")

    # -- counted as it happens ----------------------------------------------------------------

    def turn_done(self, record: TurnRecord) -> None:
        """Count a finished customer turn and its latencies."""
        self._turns.labels(record.channel, record.outcome).inc()
        self._turn_seconds.labels(record.channel, record.outcome).observe(record.latency_s)
        if record.rasa_latency_s is not None:
            self._turn_dialogue_seconds.labels(record.channel).observe(record.rasa_latency_s)
        if record.first_turn:
            self._conversations.labels(record.channel).inc()

    def dialogue_call(self, call: DialogueCall) -> None:
        """Time one request to Rasa; count it when it failed."""
        self._rasa_seconds.labels(call.call).observe(call.seconds)
        if call.error is not None:
            self._dialogue_errors.labels(call.call, call.error).inc()

    def refused(self, channel: str, limit: str) -> None:
        """Count a connection, message or request a limit refused on ``channel``."""
        self._refusals.labels(channel, limit).inc()

    # -- read at scrape time ------------------------------------------------------------------

    def check_access(self, request: web.Request) -> None:
        """Let the scrape through, or refuse it as the settings say.

        Raises:
            ApiError: 401 without the bearer token when one is set; 403 when none is set in production.
        """
        if self._settings.token:
            require_token(request, self._settings.token)
        elif not self._settings.open_without_token:
            raise ApiError(403, "metrics_closed", "Metrics are closed: set BOT_METRICS_TOKEN to read them.")

    def render(self, snapshot: Snapshot) -> bytes:
        """The text exposition of every metric, with ``snapshot``'s gauges."""
        self._figures.snapshot = snapshot  # read by the collector inside generate_latest, with no await between
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", GatewayMetrics)


def count_refusals(metrics: GatewayMetrics) -> Middleware:
    """A middleware counting the direct API's 429s (it sits between the error middleware and the limits)."""

    @web.middleware
    async def counting(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            if exc.status == 429:
                metrics.refused(direct_channel.PLATFORM, "requests")
            raise

    return counting


def _handoff_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Handoff.status, func.count())
            .where(Handoff.status != HandoffStatus.RESOLVED)
            .group_by(Handoff.status)
        ).all()
    return {status.value if isinstance(status, HandoffStatus) else str(status): count for status, count in rows}


async def _database_figures(
    app: web.Application,
) -> tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]] | None:
    """Inbox and outbox rows by state and open handoffs by status; ``None`` when the database does not answer."""
    try:
        return await asyncio.wait_for(
            asyncio.gather(app[INBOX].counts(), app[OUTBOX].counts(), asyncio.to_thread(_handoff_counts, app[ENGINE])),
            DATABASE_TIMEOUT_S,
        )
    except (SQLAlchemyError, asyncio.TimeoutError) as exc:
        # The in-memory counters are still worth a scrape; bot_database_up says what is missing.
        _LOGGER.warning("metrics.database_unavailable error=%s", type(exc).__name__)
        return None


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Every metric of the gateway in Prometheus' text format (docs/metrics.md)."""
    gateway_metrics = request.app[METRICS]
    gateway_metrics.check_access(request)
    figures = await _database_figures(request.app)
    inbox, outbox, handoffs = figures if figures is not None else (None, None, None)
    snapshot = Snapshot(inbox, outbox, handoffs, websocket_connections=request.app[WEB].open_connections)
    return web.Response(body=gateway_metrics.render(snapshot), headers={"Content-Type": CONTENT_TYPE_LATEST})
