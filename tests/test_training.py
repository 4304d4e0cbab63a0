"""The training fingerprint: the model is retrained only when its inputs change (bot/training.py)."""

from __future__ import annotations

from pathlib import Path

from bot.training import fingerprint


def test_fingerprint_changes_only_with_training_data(tmp_path: Path) -> None:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "config.yml").write_text("a")
    (tmp_path / "domain.yml").write_text("b")
    (tmp_path / "data" / "nlu" / "x.yml").write_text("c")
    before = fingerprint(tmp_path)
    (tmp_path / "data" / "texts.yml").write_text("not training data")
    assert fingerprint(tmp_path) == before
    (tmp_path / "data" / "nlu" / "x.yml").write_text("changed")
    assert fingerprint(tmp_path) != before
