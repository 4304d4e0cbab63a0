"""``python -m bot simulate`` against the real stack, then the figures it leaves: the report and the dashboard.

The command runs as an operator runs it (a subprocess with the stack's settings, ``--url`` of its
gateway); the figures are read back with ``bot.analytics.report.build`` from the stack's database
and Rasa's tracker store, and the insights dashboard is opened in headless Chromium.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from bot.analytics.metrics import Report
from bot.analytics.report import build
from bot.db.engine import create_db_engine
from bot.db.models import utcnow
from bot.handoff.hours import load_hours
from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.simulation.scenarios import SCENARIOS
from tests.gateway.test_console_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.helpers import free_port
from tests.services import require
from tests.stack import RunningStack

pytestmark = pytest.mark.e2e

CONVERSATIONS = 25
SEED = 2024
#: Charts the simulation must fill (data-chart names, docs/analytics.md); plus one funnel per guide that ran.
MUST_DRAW = {"trend", "containment", "handoff_reasons", "csat", "help", "help_articles"}


@dataclass
class Simulated:
    """The command's run and the stack's settings."""

    result: subprocess.CompletedProcess[str]
    settings: Settings
    engine: Engine

    def report(self, channel: str | None = None) -> Report:
        """The figures of the last day (and a minute ahead: the run's conversations are stamped now)."""
        hours = load_hours(self.settings.paths.data_dir / "business_hours.yml")
        until = utcnow() + dt.timedelta(minutes=1)
        return build(
            self.engine, self.settings.dialogue.tracker_url, until - dt.timedelta(days=1), until, channel, hours.is_open
        )


def simulate(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "simulate", *args],
        cwd=PROJECT_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def simulated(stack: RunningStack) -> Iterator[Simulated]:
    result = simulate(stack, "--conversations", str(CONVERSATIONS), "--seed", str(SEED), "--url", stack.gateway_url)
    settings = load_settings(stack.env)
    engine = create_db_engine(settings.database_url)
    try:
        yield Simulated(result, settings, engine)
    finally:
        engine.dispose()


BACKDATED = 14


@pytest.fixture(scope="module")
def backdated(stack: RunningStack, simulated: Simulated) -> subprocess.CompletedProcess[str]:
    """A second, smaller run moved over the last week (the stack is new: nothing else is older than a day)."""
    return simulate(
        stack, "--conversations", str(BACKDATED), "--seed", "77", "--backdate-days", "7", "--url", stack.gateway_url
    )


def test_a_backdated_run_fills_the_past_week_day_by_day(
    simulated: Simulated, backdated: subprocess.CompletedProcess[str]
) -> None:
    out = backdated.stdout
    assert backdated.returncode == 0, f"{out}\n{backdated.stderr}"
    assert "then each visit moved as a whole to a start over the last 7 days" in out
    moved = re.search(r"Moved (\d+) conversations \((\d+) rows of the bot, (\d+) tracker events\)", out)
    assert moved, out
    assert int(moved[1]) == BACKDATED and int(moved[2]) > BACKDATED and int(moved[3]) > BACKDATED
    assert "report --since 7d" in out
    hours = load_hours(simulated.settings.paths.data_dir / "business_hours.yml")
    until = utcnow() - dt.timedelta(minutes=29)  # starts are moved at least 30 minutes back
    week = build(
        simulated.engine,
        simulated.settings.dialogue.tracker_url,
        until - dt.timedelta(days=7, minutes=2),
        until - dt.timedelta(hours=1),  # the stack is younger than that: only the moved run
        None,
        hours.is_open,
    )
    assert week.conversations["total"] <= BACKDATED
    assert len(week.per_day) >= 3, week.per_day  # 14 visits over a week: several days
    assert week.nlu["turns"] > 0  # Rasa's turns moved with their conversations


def test_the_command_shows_progress_and_a_summary_per_scenario(simulated: Simulated) -> None:
    out = simulated.result.stdout
    assert simulated.result.returncode == 0, f"{out}\n{simulated.result.stderr}"
    assert f"simulated {CONVERSATIONS}/{CONVERSATIONS} conversations" in out
    assert f"seed {SEED}" in out and "nothing is backdated" in out
    summary = out[out.index("scenario ") :]
    for scenario in SCENARIOS:
        assert f"\n{scenario.name} " in summary, summary
    assert "FAILED" not in summary, summary


def test_the_report_has_requests_handoffs_ratings_guides_and_help(simulated: Simulated) -> None:
    report = simulated.report()
    assert report.conversations["total"] >= CONVERSATIONS
    assert report.conversations["with_request"] > 0 and report.conversations["greeting_only"] > 0
    assert report.handoff_rate.count > 0 and report.handoffs_by_reason
    assert report.time_to_claim.n > 0 and report.time_to_first_reply.n > 0  # claimed and answered by agents
    assert report.time_to_resolution.n > 0  # and resolved
    assert report.csat_bot.n > 0
    assert report.guides and any(guide["resolved"] > 0 for guide in report.guides.values()), report.guides
    assert report.help["answers"] > 0
    assert report.repeat_contact.count > 0  # the same verified customer came back about the same order


def test_repeat_contacts_come_through_the_web_widget(simulated: Simulated) -> None:
    web = simulated.report(channel="web")
    assert web.conversations["total"] > 0
    assert web.conversations["verified_with_request"] > 0


def test_a_gateway_that_does_not_answer_is_a_clear_error(stack: RunningStack) -> None:
    result = simulate(stack, "--conversations", "3", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no gateway answers at http://127.0.0.1:" in result.stderr and "make run" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.browser
def test_every_chart_of_the_dashboard_has_data_after_a_simulation(
    stack: RunningStack, simulated: Simulated, backdated: subprocess.CompletedProcess[str]
) -> None:
    require(CHROMIUM.exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    ran = {f"guide:{guide}" for guide in simulated.report().guides}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{stack.gateway_url}/console")
            page.get_by_label("Agent token").fill(stack.agent_token)  # Lena's, printed by `python -m bot run`
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#ac-who-text")).to_have_text("Signed in as Lena Hoffmann", timeout=15_000)
            page.get_by_role("link", name="Insights").click()  # the tab keeps the token: no second sign-in
            svgs = page.locator("#in-report svg[data-chart]")
            expect(svgs.first).to_be_attached(timeout=30_000)
            points = dict(svgs.evaluate_all("nodes => nodes.map(n => [n.dataset.chart, Number(n.dataset.points)])"))
            trend = page.locator('#in-report svg[data-chart="trend"] circle title').all_text_contents()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "insights-simulated.png"), full_page=True)
        finally:
            browser.close()
    assert MUST_DRAW | ran <= set(points), points
    assert all(n > 0 for n in points.values()), points
    busy_days = {t.split(",")[0] for t in trend if re.fullmatch(r"\S+, conversations: [1-9]\d*", t)}
    assert len(busy_days) >= 3, trend  # the default range is the week: the moved run fills several days
