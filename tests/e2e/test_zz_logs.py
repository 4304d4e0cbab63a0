"""After every end-to-end conversation of the run: the logs hold no personal data and only their owner reads them (issue 14, point 8).

Named to run last among the end-to-end tests, so the logs it reads hold everything they did.
"""

from __future__ import annotations

import re
import stat

import pytest
import sqlalchemy as sa

from bot.db.seed import DemoData
from tests.mail import MailSink
from tests.stack import E2E_IDENTITY_SECRET, RunningStack

pytestmark = pytest.mark.e2e


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def test_no_log_line_holds_a_customers_data(stack: RunningStack, mailbox: MailSink, demo_data: DemoData) -> None:
    logs_dir = stack.var_dir / "logs"
    files = sorted(logs_dir.glob("*.log"))
    assert {f.name for f in files} >= {"gateway.log", "actions.log", "rasa.log"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is readable by others"
    assert stat.S_IMODE(logs_dir.stat().st_mode) == 0o700
    logs = "\n".join(path.read_text(errors="replace") for path in files)
    lowered = logs.lower()
    # Rasa logs a response it cannot fill with every slot value in the error's locals.
    assert "The specified slot name does not exist" not in logs, "a domain response with {...} Rasa cannot fill"

    for customer in demo_data.customers:
        assert customer.email.lower() not in lowered, f"{customer.id}'s email is in the logs"
        if customer.phone:
            assert customer.phone not in logs, f"{customer.id}'s phone is in the logs"
            assert not re.search(rf"(?<!\d){_digits(customer.phone)}(?!\d)", logs), f"{customer.id}'s phone"
    numbers = {order.number for order in demo_data.orders}
    found = {n for n in re.findall(r"(?<!\d)1\d{5}(?!\d)", logs) if n in numbers}
    assert not found, f"order numbers in the logs: {sorted(found)[:5]}"
    tracking = {order.tracking_number for order in demo_data.orders if order.tracking_number}
    assert not [t for t in tracking if t in logs]
    for code in mailbox.all_codes():
        # A code standing as a number of its own; six digits inside a log's hashed id ("263105caf1") are not it.
        assert not re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", logs), "a linking code is in the logs"
    assert E2E_IDENTITY_SECRET not in logs and "eyJ" not in logs  # no secret, no signed token

    url = stack.database_url
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            conversations = [row[0] for row in connection.execute(sa.text("SELECT id FROM conversations"))]
    finally:
        engine.dispose()
    assert len(conversations) > 10
    leaked = [c for c in conversations if c in logs]
    assert not leaked, f"conversation ids in the logs (they name a chat or a platform user): {leaked[:5]}"
