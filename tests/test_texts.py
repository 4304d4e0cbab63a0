"""The gateway's customer-facing texts file (bot/texts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.texts import TextsError, load_texts


def test_texts_file_checks(tmp_path: Path) -> None:
    texts = load_texts(Path("data/texts.yml"))
    assert "try again" in texts.dialogue_unavailable
    broken = tmp_path / "texts.yml"
    broken.write_text("texts:\n  dialogue_unavailable: [unclosed\n")
    with pytest.raises(TextsError, match="line"):
        load_texts(broken)
    broken.write_text("texts:\n  dialogue_unavailable: hi\n")
    with pytest.raises(TextsError, match="message_too_long"):
        load_texts(broken)
