"""The insights dashboard (/console/insights) on SQLite and PostgreSQL, and in headless Chromium.

A synthetic week is written straight into the tables the bot fills as it runs (conversations,
messages, handoffs, help answers, outcome events through the SQL sink):

| conversation | channel | customer | day | what happens |
|---|---|---|---|---|
| web-wifi | web | A | 0 | Wi-Fi guide, two steps, resolved; bot CSAT 5 |
| web-price | web | - | 1 | a price question; a help answer marked helpful; bot CSAT 3 |
| tg-order | telegram | B | 2 | order status, handoff 09:05 (business hours): claimed, replied, resolved, CSAT 4 |
| tg-again | telegram | B | 3 | order status again: a repeat contact of tg-order |
| direct-power | direct | - | 4 | power guide exhausted, handoff 22:31 UTC (after hours), escalated |
| web-hello | web | - | 5 | "hi" only |
| web-lost | web | - | 5 | not understood; help: no answer, a suggestion, an answer marked not helpful; Wi-Fi guide abandoned |
| web-empty | web | - | 6 | no message |

and one conversation two days before and one eight days after, outside the period.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.analytics import events as ev
from bot.analytics.report import build
from bot.db.engine import create_db_engine
from bot.db.models import Agent, Conversation, Customer, Handoff, HelpAnswer, Message, utcnow
from bot.gateway import insights
from bot.gateway.app import create_app
from bot.handoff.agents import AgentCredentials
from bot.handoff.hours import load_hours
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.gateway.test_console_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.services import require

#: A Monday; the week of the table above is MONDAY .. MONDAY + 6 days.
MONDAY = dt.datetime(2024, 5, 6)
WEEK = {"since": "2024-05-06", "until": "2024-05-12"}
HOSTILE = "<img src=x onerror=alert(1)>"
PATHS = ("/console/insights.json", "/console/insights/report")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------------ seeding


def _turns(cid: str, channel: str, customer: str | None, at: dt.datetime, intents: list[str]) -> list[ev.OutcomeEvent]:
    return [
        ev.OutcomeEvent(
            ev.TURN,
            cid,
            channel,
            customer,
            intent,
            0.3 if intent == "nlu_fallback" else 0.9,
            at=at + dt.timedelta(seconds=10 * n),
        )
        for n, intent in enumerate(intents)
    ]


def _guide(
    cid: str, channel: str, customer: str | None, at: dt.datetime, guide: str, steps: list[str], outcome: str
) -> list[ev.OutcomeEvent]:
    found = [ev.OutcomeEvent(ev.GUIDE_STARTED, cid, channel, customer, guide, at=at)]
    found += [
        ev.OutcomeEvent(ev.GUIDE_STEP, cid, channel, customer, guide, attrs={"step": step}, at=at) for step in steps
    ]
    return [*found, ev.OutcomeEvent(outcome, cid, channel, customer, guide, at=at)]


def seed_week(engine: Engine, monday: dt.datetime, *, guide: str = "wifi_drops", article: str = "wifi-tips") -> None:
    """The week of the module's table, starting on ``monday`` (any midnight)."""

    def day(n: int, hour: int, minute: int = 0) -> dt.datetime:
        return monday + dt.timedelta(days=n, hours=hour, minutes=minute)

    conversations = [
        ("web-wifi", "web", "CU-A", day(0, 10)),
        ("web-price", "web", None, day(1, 14)),
        ("tg-order", "telegram", "CU-B", day(2, 9)),
        ("tg-again", "telegram", "CU-B", day(3, 11)),
        ("direct-power", "direct", None, day(4, 22, 30)),
        ("web-hello", "web", None, day(5, 8)),
        ("web-lost", "web", None, day(5, 16)),
        ("web-empty", "web", None, day(6, 7)),
        ("web-before", "web", None, day(-2, 12)),
        ("web-after", "web", None, day(8, 12)),
    ]
    events = [
        *_turns("web-wifi", "web", "CU-A", day(0, 10), ["greet", "problem_wifi_drops", "diag_choose"]),
        *_guide("web-wifi", "web", "CU-A", day(0, 10, 1), guide, ["which_device", "status_led"], ev.GUIDE_RESOLVED),
        ev.OutcomeEvent(ev.CSAT, "web-wifi", "web", "CU-A", value=5, attrs={"handled_by": "bot"}, at=day(0, 10, 5)),
        *_turns("web-price", "web", None, day(1, 14), ["ask_product_price", "thanks"]),
        ev.OutcomeEvent(ev.CSAT, "web-price", "web", None, value=3, attrs={"handled_by": "bot"}, at=day(1, 14, 2)),
        *_turns("tg-order", "telegram", "CU-B", day(2, 9), ["order_status", "request_human"]),
        *_turns("tg-again", "telegram", "CU-B", day(3, 11), ["order_status"]),
        *_turns("direct-power", "direct", None, day(4, 22, 30), ["problem_no_power", "diag_choose"]),
        *_guide("direct-power", "direct", None, day(4, 22, 30), "no_power", ["check_cable"], ev.GUIDE_EXHAUSTED),
        *_turns("web-hello", "web", None, day(5, 8), ["greet"]),
        *_turns("web-lost", "web", None, day(5, 16), ["nlu_fallback", "problem_wifi_drops"]),
        *_guide("web-lost", "web", None, day(5, 16, 1), guide, ["which_device"], ev.GUIDE_ABANDONED),
        *_turns("web-before", "web", None, day(-2, 12), ["order_status"]),
        *_turns("web-after", "web", None, day(8, 12), ["order_status"]),
    ]
    with engine.begin() as connection:
        for customer in ("CU-A", "CU-B"):
            connection.execute(
                Customer.__table__.insert().values(
                    id=customer, name=f"Customer {customer}", email=f"{customer.lower()}@example.com"
                )
            )
        for cid, channel, customer, at in conversations:
            connection.execute(
                Conversation.__table__.insert().values(
                    id=cid, channel=channel, customer_id=customer, created_at=at, updated_at=at
                )
            )
        for event in events:
            if event.kind == ev.TURN:
                connection.execute(
                    Message.__table__.insert().values(
                        conversation_id=event.conversation_id, sender="customer", text="…", created_at=event.at
                    )
                )
        connection.execute(
            Handoff.__table__.insert().values(
                conversation_id="tg-order",
                status="resolved",
                reason="customer_request",
                packet={},
                created_at=day(2, 9, 5),
                claimed_at=day(2, 9, 7),
                resolved_at=day(2, 9, 20),
                csat=4,
            )
        )
        connection.execute(
            Message.__table__.insert().values(
                conversation_id="tg-order", sender="agent", text="Hello", created_at=day(2, 9, 8)
            )
        )
        connection.execute(
            Handoff.__table__.insert().values(
                conversation_id="direct-power",
                status="open",
                reason="diagnostics_exhausted",
                packet={},
                created_at=day(4, 22, 31),
                escalated_at=day(4, 22, 45),
            )
        )
        for cid, decision, section, helpful, at in (
            ("web-price", "answer", "returns-policy#window", True, day(1, 14, 1)),
            ("web-lost", "none", None, None, day(5, 16)),
            ("web-lost", "suggest", f"{article}#channels", None, day(5, 16)),
            ("web-lost", "answer", f"{article}#channels", False, day(5, 16, 1)),
        ):
            connection.execute(
                HelpAnswer.__table__.insert().values(
                    conversation_id=cid,
                    decision=decision,
                    section_id=section,
                    score=0.6,
                    helpful=helpful,
                    created_at=at,
                )
            )
    ev.SqlEventSink(engine).record(events)


def agent_tokens(engine: Engine) -> dict[str, str]:
    """AG-01 (active), AG-02 (token revoked), AG-03 (not active): each one's own token."""
    with engine.begin() as connection:
        for agent, name in (("AG-01", "Lena"), ("AG-02", "Tomás"), ("AG-03", "Ida")):
            connection.execute(
                Agent.__table__.insert().values(id=agent, name=name, email=f"{agent.lower()}@example.com")
            )
    credentials = AgentCredentials(engine)
    tokens = {agent: credentials.issue(agent) for agent in ("AG-01", "AG-02", "AG-03")}
    credentials.revoke("AG-02")
    with engine.begin() as connection:
        connection.execute(Agent.__table__.update().where(Agent.__table__.c.id == "AG-03").values(active=False))
    return tokens


# ------------------------------------------------------------------------------ fixtures


@dataclass
class Dashboard:
    client: TestClient
    engine: Engine
    settings: Settings
    tokens: dict[str, str]

    @property
    def lena(self) -> dict[str, str]:
        return bearer(self.tokens["AG-01"])

    async def json(self, **query: str) -> dict[str, Any]:
        resp = await self.client.get("/console/insights.json", params=query, headers=self.lena)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Cache-Control"] == "no-store"
        data: dict[str, Any] = await resp.json()
        return data

    async def html(self, **query: str) -> str:
        resp = await self.client.get("/console/insights/report", params=query, headers=self.lena)
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "text/html"
        return await resp.text()

    def build(self, since: dt.datetime, until: dt.datetime, channel: str | None = None) -> dict[str, Any]:
        """What ``python -m bot report`` computes for the same period (its arguments, its is_open)."""
        hours = load_hours(self.settings.paths.data_dir / "business_hours.yml")
        report = build(self.engine, self.settings.dialogue.tracker_url, since, until, channel, hours.is_open)
        return report.as_dict()


@pytest.fixture
async def dashboard(fake_rasa: tuple[FakeRasa, Settings], migrated_database_url: str) -> AsyncIterator[Dashboard]:
    """The real gateway on a migrated database (SQLite, PostgreSQL), with three agents and their tokens."""
    _, settings = fake_rasa
    settings = settings.with_overrides(database_url=migrated_database_url)
    settings.paths.var_dir.mkdir(parents=True, exist_ok=True)  # where Rasa's tracker store would be
    engine = create_db_engine(migrated_database_url)
    tokens = agent_tokens(engine)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield Dashboard(client, engine, settings, tokens)
    finally:
        await client.close()
        engine.dispose()


def charts(markup: str) -> dict[str, int]:
    """data-chart name → data-points of every chart in ``markup``."""
    found = re.findall(r'<svg [^>]*data-chart="([^"]+)" data-points="(\d+)"', markup)
    return {name: int(points) for name, points in found}


# ------------------------------------------------------------------------------ sign-in


@pytest.mark.parametrize("path", PATHS)
async def test_the_figures_need_an_agents_own_token(dashboard: Dashboard, path: str) -> None:
    seed_week(dashboard.engine, MONDAY)
    refused = {
        "no token": ({}, 401, "unauthorized"),
        "the old shared agent token": (bearer("agent-token-for-tests"), 401, "unauthorized"),
        "the direct API's token": (bearer("api-token-for-tests"), 401, "unauthorized"),
        "a revoked token": (bearer(dashboard.tokens["AG-02"]), 401, "token_revoked"),
        "an inactive agent": (bearer(dashboard.tokens["AG-03"]), 403, "agent_inactive"),
    }
    for case, (headers, status, code) in refused.items():
        resp = await dashboard.client.get(path, params=WEEK, headers=headers)
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code), case
    # refused before the filters are read: a stranger learns nothing from a 400
    resp = await dashboard.client.get(path, params={"since": "nonsense"})
    assert resp.status == 401

    resp = await dashboard.client.get(path, params=WEEK, headers=dashboard.lena)
    assert resp.status == 200


async def test_the_page_itself_holds_no_figures(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY)
    resp = await dashboard.client.get("/console/insights", params=WEEK)
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert "Agent token" in page and "data-chart" not in page and "tg-order" not in page
    policy = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


async def test_the_page_offers_exactly_the_channels_the_filter_accepts(dashboard: Dashboard) -> None:
    page = await (await dashboard.client.get("/console/insights")).text()
    assert re.findall(r'<option value="([^"]*)"', page) == ["", *insights.CHANNELS]


# ------------------------------------------------------------------------------ figures


async def test_the_json_equals_the_report_built_for_the_same_period(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY)
    since, until = MONDAY, MONDAY + dt.timedelta(days=7)

    shown = await dashboard.json(**WEEK)

    assert shown == dashboard.build(since, until)
    assert shown["since"] == "2024-05-06T00:00:00" and shown["until"] == "2024-05-13T00:00:00"
    assert shown["conversations"]["total"] == 8  # not the ones before and after the week
    assert (shown["handoff_rate"]["count"], shown["handoff_rate"]["of"]) == (2, shown["conversations"]["with_request"])
    # the business hours are passed: the handoff at 22:31 UTC on Friday came after hours
    assert (shown["after_hours"]["count"], shown["after_hours"]["of"]) == (1, 2)
    assert shown["csat_bot"]["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert shown["csat_agent"]["distribution"]["4"] == 1
    assert set(shown["guides"]) == {"no_power", "wifi_drops"}


async def test_filters_narrow_the_figures_as_the_report_does(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY)
    week_end = MONDAY + dt.timedelta(days=7)

    telegram = await dashboard.json(**WEEK, channel="telegram")
    assert telegram == dashboard.build(MONDAY, week_end, "telegram")
    assert telegram["channel"] == "telegram" and telegram["conversations"]["total"] == 2
    assert telegram["handoffs_by_reason"] == {"customer_request": 1}

    wednesday = await dashboard.json(since="2024-05-08", until="2024-05-08")
    assert wednesday == dashboard.build(MONDAY + dt.timedelta(days=2), MONDAY + dt.timedelta(days=3))
    assert wednesday["conversations"]["total"] == 1 and [d["day"] for d in wednesday["per_day"]] == ["2024-05-08"]

    assert (await dashboard.json(since="2024-05-06", until="2024-05-12", channel=""))["channel"] is None


async def test_the_default_period_is_the_last_seven_days_up_to_today(dashboard: Dashboard) -> None:
    today = utcnow().date()
    seed_week(dashboard.engine, dt.datetime.combine(today - dt.timedelta(days=6), dt.time()))

    shown = await dashboard.json()

    assert shown["since"] == f"{today - dt.timedelta(days=6)}T00:00:00"
    assert shown["until"] == f"{today + dt.timedelta(days=1)}T00:00:00"
    assert shown["conversations"]["total"] == 8
    only_until = await dashboard.json(until=today.isoformat())
    assert only_until["since"] == shown["since"]


async def test_turns_in_rasas_tracker_store_are_counted(dashboard: Dashboard) -> None:
    """The dashboard passes the tracker store on, as the command does: Rasa's turns are imported first."""
    seed_week(dashboard.engine, MONDAY)
    before = (await dashboard.json(**WEEK))["nlu"]["turns"]
    tracker = Path(dashboard.settings.dialogue.tracker_url.removeprefix("sqlite:///"))
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL,"
            " intent_name TEXT, action_name TEXT, data TEXT)"
        )
        at = (MONDAY + dt.timedelta(days=6, hours=7, minutes=1)).replace(tzinfo=dt.timezone.utc).timestamp()
        connection.execute(
            "INSERT INTO events VALUES (1, 'web-empty', 'user', ?, 'order_status', NULL, ?)",
            (
                at,
                '{"text": "where is my order", "parse_data": {"intent": {"name": "order_status", "confidence": 0.8}}}',
            ),
        )
    connection.close()

    after = await dashboard.json(**WEEK)

    assert after["nlu"]["turns"] == before + 1
    assert after["conversations"]["no_message"] == 0


BAD_FILTERS = [
    ({"since": "2024-5-6"}, "since must be a date written YYYY-MM-DD"),
    ({"until": "2024-02-30"}, "until must be a date written YYYY-MM-DD"),
    ({"since": "yesterday"}, "since must be a date"),
    ({"since": "2024-05-06T00:00"}, "since must be a date"),
    ({"since": "2024-05-12", "until": "2024-05-06"}, "since (2024-05-12) is after until (2024-05-06)"),
    ({"since": "2020-01-01", "until": "2024-05-06"}, "at most 366 days"),
    ({**WEEK, "channel": "fax"}, "Unknown channel 'fax'; use one of web, telegram, slack, direct"),
    ({**WEEK, "channel": HOSTILE}, "Unknown channel"),
]


@pytest.mark.parametrize(("query", "message"), BAD_FILTERS)
async def test_bad_filters_are_a_400_that_says_why(dashboard: Dashboard, query: dict[str, str], message: str) -> None:
    for path in PATHS:
        resp = await dashboard.client.get(path, params=query, headers=dashboard.lena)
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (400, "invalid_filter"), path
        assert message in body["error"]["message"]
    page = await dashboard.client.get("/console/insights", params=query)
    assert page.status == 400 and page.content_type == "text/html"  # the page loads and shows the message


async def test_the_report_draws_every_chart_with_the_figures_and_their_denominators(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY)
    shown = await dashboard.json(**WEEK)

    markup = await dashboard.html(**WEEK)

    drawn = charts(markup)
    assert set(drawn) == {
        "trend",
        "containment",
        "handoff_reasons",
        "csat",
        "help",
        "help_articles",
        "guide:no_power",
        "guide:wifi_drops",
    }
    assert all(points > 0 for points in drawn.values()), drawn
    assert drawn["trend"] == 7 * 4  # every day of the week, four lines
    assert drawn["csat"] == 5 * 2  # 1..5 stars, bot only and with an agent
    assert "no data yet" not in markup
    containment, handoffs = shown["containment"], shown["handoff_rate"]
    assert f"{containment['count']} of {containment['of']} conversations with a request" in markup
    assert f"{handoffs['count']} of {handoffs['of']} conversations with a request" in markup
    assert "1 of 2 handoffs outside business hours" in markup
    assert 'data-since="2024-05-06" data-until="2024-05-12" data-channel=""' in markup
    for svg in re.findall(r"<svg .*?</svg>", markup, flags=re.S):
        assert 'role="img"' in svg and 'aria-label="' in svg and "<title>" in svg


async def test_an_empty_period_says_no_data_yet(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY)

    markup = await dashboard.html(since="2023-01-02", until="2023-01-08")

    drawn = charts(markup)
    assert drawn and set(drawn.values()) == {0}
    assert markup.count("no data yet") >= len(drawn)
    assert "0 of 0 conversations with a request" in markup


async def test_names_from_the_database_are_escaped(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY, guide=HOSTILE[:40], article='"><script>alert(1)</script>')

    markup = await dashboard.html(**WEEK)

    assert "<img" not in markup and "<script" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


# ------------------------------------------------------------------------------ browser


@pytest.fixture
def chromium() -> str:
    """The Chromium binary (skips, or fails under BOT_REQUIRE_SERVICES=1, when it is missing)."""
    require(CHROMIUM.exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    return str(CHROMIUM)


@pytest.mark.browser
async def test_an_agent_opens_the_dashboard_from_the_console(
    gateway: tuple[TestClient, FakeRasa], settings: Settings, chromium: str
) -> None:
    from playwright.async_api import async_playwright, expect

    client, _ = gateway
    engine = create_db_engine(settings.database_url)
    try:
        tokens = agent_tokens(engine)
        seed_week(engine, dt.datetime.combine(utcnow().date() - dt.timedelta(days=6), dt.time()))
    finally:
        engine.dispose()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        await sign_in(page, client, tokens["AG-01"], "Lena")
        await page.get_by_role("link", name="Insights").click()  # the tab keeps the token: no second sign-in
        await expect(page).to_have_url(re.compile(r"/console/insights$"))
        await expect(page.locator("#ac-who-text")).to_have_text("Signed in as Lena")
        svgs = page.locator("#in-report svg[data-chart]")
        await expect(svgs).to_have_count(8)
        points = await svgs.evaluate_all("nodes => nodes.map(n => [n.dataset.chart, Number(n.dataset.points)])")
        assert all(n > 0 for _, n in points), points
        await expect(page.locator('[data-figure="containment"] .in-card-detail')).to_contain_text(" of ")
        await expect(page.get_by_label("From")).to_have_value((utcnow().date() - dt.timedelta(days=6)).isoformat())
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        await page.screenshot(path=str(ARTIFACTS / "insights.png"), full_page=True)

        await page.get_by_label("Channel").select_option("telegram")
        await page.get_by_role("button", name="Show").click()
        await expect(page).to_have_url(re.compile(r"channel=telegram"))
        await expect(page.locator(".in-period")).to_contain_text("channel telegram: 2")
        await expect(page.get_by_label("Channel")).to_have_value("telegram")

        assert problems == []  # no script error, nothing the Content-Security-Policy blocked

        await page.goto(str(client.make_url("/console/insights?since=2024-02-30")))
        await expect(page.get_by_role("alert")).to_have_text(
            "since must be a date written YYYY-MM-DD, e.g. 2024-05-01."
        )
        assert await page.locator("#in-report svg").count() == 0

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_label("Agent token")).to_be_visible()
        assert await page.evaluate("sessionStorage.getItem('nimbus-console:token')") is None
        await browser.close()
    assert all("status of 400" in problem for problem in problems), problems  # the page and its report request


@pytest.mark.browser
async def test_the_dashboard_asks_for_a_token_and_refuses_a_wrong_one(
    gateway: tuple[TestClient, FakeRasa], settings: Settings, chromium: str
) -> None:
    from playwright.async_api import async_playwright, expect

    client, _ = gateway
    engine = create_db_engine(settings.database_url)
    try:
        tokens = agent_tokens(engine)
    finally:
        engine.dispose()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(str(client.make_url("/console/insights")))
        await page.get_by_label("Agent token").fill("not-the-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("The agent token was not accepted.")
        assert await page.locator("#in-dashboard").is_hidden()
        await page.get_by_label("Agent token").fill(tokens["AG-01"])
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#ac-who-text")).to_have_text("Signed in as Lena")
        await expect(page.locator("#in-report svg[data-chart]").first).to_be_attached()
        await expect(page.locator("#in-report")).to_contain_text("no data yet")
        await browser.close()


async def test_the_top_messages_not_understood_are_listed_without_personal_data(dashboard: Dashboard) -> None:
    seed_week(dashboard.engine, MONDAY)
    tracker = Path(dashboard.settings.dialogue.tracker_url.removeprefix("sqlite:///"))
    at = (MONDAY + dt.timedelta(days=2)).replace(tzinfo=dt.timezone.utc).timestamp()
    texts = ["can i pay with bitcoin", "can i pay with bitcoins?", "Can I pay with Bitcoin", "my email is a@b.example"]
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL,"
            " intent_name TEXT, action_name TEXT, data TEXT)"
        )
        for n, text in enumerate(texts, start=1):
            data = json.dumps({"text": text, "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}}})
            connection.execute(
                "INSERT INTO events VALUES (?, 'web-empty', 'user', ?, 'nlu_fallback', NULL, ?)", (n, at + n, data)
            )
    connection.close()

    markup = await dashboard.html(**WEEK)

    listed = re.search(r'<ol class="in-unanswered" data-list="unanswered" data-items="(\d+)">(.*?)</ol>', markup, re.S)
    assert listed is not None and listed.group(1) == "1", markup
    assert "<strong>3×</strong>" in listed.group(2) and "bitcoin" in listed.group(2).lower()
    assert "a@b.example" not in markup  # a message with personal data is left out whole
    assert "unanswered" not in (await dashboard.json(**WEEK))  # the JSON stays the report's figures
