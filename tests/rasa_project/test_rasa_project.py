"""The Rasa project itself: data validation and the conversation tests (`rasa test`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT
from bot.training import DATA_PATHS, ensure_model

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _rasa(*args: str, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    # endpoints.yml reads these; point them at the test's own temporary files.
    tracker = (tmp or Path("/nonexistent")) / "tracker.db"
    env = {
        **ENV,
        "BOT_ACTION_URL": "http://127.0.0.1:1",
        "BOT_ACTION_TOKEN": "unused",
        "BOT_TRACKER_URL": f"sqlite:///{tracker}",
    }
    return subprocess.run(
        [sys.executable, "-m", "rasa", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )


def test_rasa_data_validate_is_clean() -> None:
    result = _rasa(
        "data", "validate", "--domain", "domain.yml", "--config", "config.yml", "--data", *DATA_PATHS,
        "--fail-on-warnings",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_conversation_tests_pass(tmp_path: Path) -> None:
    stories_file = Path(__file__).resolve().parent / "conversation_tests.yml"
    stories = yaml.safe_load(stories_file.read_text())["stories"]
    assert len(stories) >= 15
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models").path
    result = _rasa(
        "test", "core", "--model", str(model), "--stories", str(stories_file), "--out", str(tmp_path),
        "--fail-on-prediction-errors", tmp=tmp_path,
    )  # fmt: skip
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text()[-4000:] if failed.exists() else result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, detail
