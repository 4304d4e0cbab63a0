"""Skip-or-fail policy for tests that need something the machine may lack."""

from __future__ import annotations

import os

import pytest


def require(available: bool, reason: str) -> None:
    """Skip with ``reason`` when unavailable; under BOT_REQUIRE_SERVICES=1 (CI) fail instead."""
    if available:
        return
    if os.environ.get("BOT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (BOT_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)
