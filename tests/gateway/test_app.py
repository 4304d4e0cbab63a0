"""The gateway's composition root: resources opened in order, and closed even when a later one fails to start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.db.migrate import upgrade
from bot.gateway.app import create_app
from bot.gateway.keys import ENGINE, HTTP, INBOX_WORKER, OUTBOX_WORKER
from bot.handoff.hours import HoursError
from bot.settings import PROJECT_ROOT, Settings
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import TOKEN, base_url, start_fake_telegram


async def test_a_failing_start_closes_what_was_opened_before_it(
    settings: Settings, slack: tuple[FakeSlack, str], tmp_path: Path
) -> None:
    """Slack and Telegram start, then the timers find a broken hours file: nothing is left open."""
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data, ignore=shutil.ignore_patterns("nlu"))
    (data / "business_hours.yml").write_text("timezone: [unclosed\n", encoding="utf-8")
    telegram, telegram_server = await start_fake_telegram()
    _, slack_url = slack
    tuned = settings.with_overrides(
        paths={"data_dir": data},
        slack={"bot_token": "xoxb-t", "signing_secret": "s", "agents_channel": "#support-agents", "api_url": slack_url},
        telegram={"bot_token": TOKEN, "api_url": base_url(str(telegram_server.make_url(""))), "webhook_secret": "w"},
    )
    upgrade(tuned.database_url)
    disposed: list[Engine] = []

    def on_dispose(engine: Engine) -> None:
        disposed.append(engine)

    event.listen(Engine, "engine_disposed", on_dispose)
    app = create_app(tuned)
    runner = web.AppRunner(app)
    try:
        with pytest.raises(HoursError, match=r"business_hours\.yml"):
            await runner.setup()  # nobody calls runner.cleanup(): the gateway cleans up by itself
    finally:
        event.remove(Engine, "engine_disposed", on_dispose)
        await telegram_server.close()
    assert telegram.called("getMe")  # Telegram had started before the failure...
    assert app[HTTP].closed  # ...and still the HTTP session is closed,
    assert disposed == [app[ENGINE]]  # the database engine disposed,
    assert not app[INBOX_WORKER].running and not app[OUTBOX_WORKER].running  # and the workers stopped
