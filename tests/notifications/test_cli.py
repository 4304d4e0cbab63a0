"""``python -m bot notifications`` and ``python -m bot orders status``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import ChannelIdentity, utcnow
from tests.orders import add_order


def test_opt_in_then_report_a_shipment_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    assert main(["seed"]) == 0
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        with session_factory(engine).begin() as session:
            now = utcnow()
            session.add(ChannelIdentity(channel="telegram", external_id="990001", customer_id="C1001", linked_at=now))
        number = add_order(engine, "C1001", "processing")
        capsys.readouterr()
        assert (
            main(["notifications", "set", "C1001", "on", "--quiet", "22:00-07:00", "--timezone", "Europe/Paris"]) == 0
        )
        assert json.loads(capsys.readouterr().out) == {
            "customer_id": "C1001",
            "order_updates": True,
            "quiet_hours": {"start": "22:00", "end": "07:00"},
            "timezone": "Europe/Paris",
        }
        assert main(["notifications", "set", "C1001", "on", "--quiet", "none"]) == 0
        assert json.loads(capsys.readouterr().out)["quiet_hours"] is None
        assert main(["notifications", "show", "C1001"]) == 0
        assert json.loads(capsys.readouterr().out)["timezone"] == "Europe/Paris"  # kept
        assert main(["notifications", "set", "C1001", "on", "--quiet", "7-22"]) == 1
        assert "HH:MM" in capsys.readouterr().err
        assert main(["notifications", "show", "C9999"]) == 1

        capsys.readouterr()
        assert main(["orders", "status", number, "shipped", "--carrier", "GLS", "--tracking", "ZX81"]) == 0
        assert capsys.readouterr().out.strip() == f"order {number}: shipped, changed; customer update: sent"
        assert main(["orders", "status", number, "shipped"]) == 0
        assert (
            capsys.readouterr().out.strip() == f"order {number}: shipped, already so; customer update: already_recorded"
        )
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT m.text, o.state FROM messages m JOIN channel_outbox o ON o.message_id = m.id")
            ).all()
        assert [tuple(row) for row in rows] == [
            (f"Good news: your order {number} has shipped with GLS. Tracking number: ZX81.", "pending")
        ]
        assert main(["orders", "status", "999999", "delivered"]) == 1
        assert "no order '999999'" in capsys.readouterr().err
        cancelled = add_order(engine, "C1001", "cancelled")
        assert main(["orders", "status", cancelled, "shipped"]) == 1
        assert "is cancelled and cannot become shipped" in capsys.readouterr().err
    finally:
        engine.dispose()
