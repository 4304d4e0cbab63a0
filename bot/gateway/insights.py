"""The insights dashboard: the support figures of a period for agents (docs/analytics.md, "Dashboard").

``GET /console/insights`` is the page, a shell like the agent console: it holds no figures and
signs in with the agent's own token (the console's, kept in the tab). With that token it fetches
``GET /console/insights/report`` (the figures and server-drawn SVG charts, as an HTML fragment);
``GET /console/insights.json`` answers the same figures as JSON (``Report.as_dict()``). Both
need ``Authorization: Bearer <an agent's token>``, exactly like the agent API.

Filters, the same on all three: ``since`` and ``until`` (``YYYY-MM-DD``, UTC days, both
included; default the last 7 days up to today) and ``channel`` (empty: all). The figures are
:func:`bot.analytics.report.build`'s, with the arguments ``python -m bot report`` passes, so the
command, the JSON and the page agree.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.analytics import dashboard
from bot.analytics import report as analytics_report
from bot.analytics.candidates import TopGroup, lexical_encoder, top_candidates
from bot.analytics.metrics import Report
from bot.analytics.missed import fallback_threshold
from bot.channels import direct, slack, telegram
from bot.channels import web as web_chat
from bot.db.models import utcnow
from bot.gateway.agent_api import signed_in_agent
from bot.gateway.errors import ApiError
from bot.gateway.keys import ENGINE, SETTINGS
from bot.handoff.hours import load_hours

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

PAGE = Path(__file__).resolve().parent.parent / "web" / "static" / "insights.html"
#: The channels a conversation can start on (``conversations.channel``).
CHANNELS = (web_chat.PLATFORM, telegram.PLATFORM, slack.PLATFORM, direct.PLATFORM)
DEFAULT_DAYS = 7
#: Longest period one request may compute (each request reads the period's rows).
MAX_DAYS = 366
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The page fetches its figures and charts from this origin only; nothing inline runs or styles.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PRIVATE = {"Cache-Control": "no-store"}
#: How alike two messages' spellings must be to be shown as one group (character trigrams, cosine).
LEXICAL_SIMILARITY = 0.5


@dataclass(frozen=True)
class Filters:
    """The period (UTC days, both included) and the channel (None: all) of a request."""

    first_day: dt.date
    last_day: dt.date
    channel: str | None

    @property
    def since(self) -> dt.datetime:
        """Start of the first day (UTC, naive like the tables)."""
        return dt.datetime.combine(self.first_day, dt.time())

    @property
    def until(self) -> dt.datetime:
        """Start of the day after the last day (exclusive)."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time())


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_filter", message)


def _day(query: Mapping[str, str], name: str) -> dt.date | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise _invalid(f"{name} must be a date written YYYY-MM-DD, e.g. 2024-05-01.") from None


def parse_filters(query: Mapping[str, str], today: dt.date) -> Filters:
    """Read ``since``, ``until`` and ``channel``; a missing or empty one takes its default.

    Raises:
        ApiError: 400 ``invalid_filter`` for a malformed date, ``since`` after ``until``, a
            period longer than :data:`MAX_DAYS`, or an unknown channel.
    """
    since, until = _day(query, "since"), _day(query, "until")
    last = until or (max(today, since) if since else today)
    first = since or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise _invalid(f"since ({first.isoformat()}) is after until ({last.isoformat()}).")
    if (last - first).days + 1 > MAX_DAYS:
        raise _invalid(f"The period is at most {MAX_DAYS} days; choose a later since or an earlier until.")
    channel = query.get("channel", "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise _invalid(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}, or none for all channels.")
    return Filters(first, last, channel)


def _filters(request: web.Request) -> Filters:
    return parse_filters(request.query, utcnow().date())


async def _report(request: web.Request) -> Report:
    """The signed-in agent's report for the request's filters (401/403/400 before any work)."""
    built, _ = await _report_and_unanswered(request, unanswered=False)
    return built


async def _report_and_unanswered(request: web.Request, *, unanswered: bool) -> tuple[Report, list[TopGroup]]:
    agent = await signed_in_agent(request)
    filters = _filters(request)
    settings, engine = request.app[SETTINGS], request.app[ENGINE]

    def build() -> tuple[Report, list[TopGroup]]:
        hours = load_hours(settings.paths.data_dir / "business_hours.yml")
        built = analytics_report.build(
            engine, settings.dialogue.tracker_url, filters.since, filters.until, filters.channel, hours.is_open
        )
        if not unanswered:
            return built, []
        groups = top_candidates(
            settings.dialogue.tracker_url,
            filters.since,
            filters.until,
            lexical_encoder,
            fallback_threshold=fallback_threshold(settings.paths.project_root / "config.yml"),
            similarity=LEXICAL_SIMILARITY,
        )
        return built, groups

    built, groups = await asyncio.to_thread(build)
    _LOGGER.info(
        "insights.viewed agent=%s since=%s until=%s channel=%s",
        agent.id,
        filters.first_day,
        filters.last_day,
        filters.channel or "all",
    )
    return built, groups


@routes.get("/console/insights")
async def page(request: web.Request) -> web.FileResponse:
    """The dashboard page (no figures in it; 400 when the filters in its address are bad)."""
    try:
        _filters(request)
        status = 200
    except ApiError:
        status = 400  # the page still loads and says what is wrong (its report request gets the message)
    return web.FileResponse(PAGE, status=status, headers={"Content-Security-Policy": PAGE_POLICY, **_PRIVATE})


@routes.get("/console/insights/report")
async def report_fragment(request: web.Request) -> web.Response:
    """The figures and charts as an HTML fragment, for the page."""
    built, groups = await _report_and_unanswered(request, unanswered=True)
    return web.Response(text=dashboard.render_html(built, groups), content_type="text/html", headers=_PRIVATE)


@routes.get("/console/insights.json")
async def report_json(request: web.Request) -> web.Response:
    """The same figures as JSON: ``bot.analytics.report.build(...).as_dict()``."""
    built = await _report(request)
    return web.json_response(built.as_dict(), headers=_PRIVATE)
