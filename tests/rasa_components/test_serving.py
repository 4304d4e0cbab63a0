"""The Rasa server's hot-path fixes (rasa_components/serving.py): same validation, kept SQLite connections."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core import tracker_store
from rasa.core.actions.action import RemoteAction
from sqlalchemy.pool import QueuePool

from bot.settings import PROJECT_ROOT
from bot.training import ensure_model
from rasa_components import serving


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    serving.install()
    serving.install()  # idempotent


def _action() -> RemoteAction:
    return RemoteAction("action_anything", None)


def test_a_valid_action_answer_passes() -> None:
    answer = {"events": [{"event": "slot", "name": "product", "value": "velo"}], "responses": [{"text": "hi"}]}
    assert _action()._validate_action_result(answer) is True
    assert _action()._validate_action_result({}) is True


@pytest.mark.parametrize(
    "answer",
    [
        {"events": "not a list"},
        {"events": [{"event": "slot"}]},  # a slot event without its name
        {"responses": "not a list"},
    ],
)
def test_an_invalid_action_answer_fails_as_rasa_fails_it(answer: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as stock:  # what jsonschema.validate, Rasa's own check, says
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError, match="Failed to validate Action server response") as cached:
        _action()._validate_action_result(answer)
    assert cached.value.message.startswith(stock.value.message)


def test_a_sqlite_tracker_store_keeps_its_connections(tmp_path: object) -> None:
    kwargs = tracker_store.create_engine_kwargs(f"sqlite:///{tmp_path}/tracker.db")
    assert kwargs["poolclass"] is QueuePool and kwargs["pool_size"] > 0
    assert tracker_store.create_engine_kwargs("sqlite://") == {}  # in memory: SQLAlchemy's own choice
    postgres = tracker_store.create_engine_kwargs("postgresql://rasa@db:5432/tracker")
    assert "poolclass" not in postgres and "pool_size" in postgres  # Rasa's own settings


def test_ted_loaded_for_inference_predicts_exactly_as_rasa_loads_it() -> None:
    """The trained model's TED, loaded Rasa's way and for inference only: the same probabilities, to the bit."""
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models").path

    def predictions(way: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.rasa_components.ted_probe", str(model), way],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        )  # fmt: skip
        lines = [line for line in done.stdout.splitlines() if line.startswith("PREDICTIONS ")]
        assert done.returncode == 0 and lines, done.stderr[-3000:]
        return dict(json.loads(lines[-1].removeprefix("PREDICTIONS ")))

    stock, inference = predictions("stock"), predictions("inference")
    assert stock["weights"] == inference["weights"]
    assert len(stock["probabilities"]) > 20  # type: ignore[arg-type]
    assert inference["probabilities"] == stock["probabilities"]
