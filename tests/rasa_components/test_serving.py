"""The Rasa server's hot-path fixes (rasa_components/serving.py): same validation, kept SQLite connections."""

from __future__ import annotations

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core import tracker_store
from rasa.core.actions.action import RemoteAction
from sqlalchemy.pool import QueuePool

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
