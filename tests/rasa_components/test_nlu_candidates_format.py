"""The training candidates' YAML (bot/analytics/candidates.py) is training data Rasa itself loads, unchanged.

``bot/`` cannot import Rasa, so the check lives here: the file ``python -m bot nlu-candidates``
writes goes through Rasa's own reader (schema validation included) with every example intact
and no entity read into a customer's brackets.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data

from bot.analytics.candidates import CandidateGroup, render_nlu_yaml

TRICKY = (
    'he said "hi": #1 bug',
    "- starts with a dash",
    "see [my router](http://example.com) and [x]{y} and [a][b]",
    "ünïcode 🙂 text",
    "key: value",
    "'quoted' | pipe > more & *star !tag %percent @at `tick`",
)


def test_rasa_loads_the_candidates_as_written(tmp_path: Path) -> None:
    groups = [
        CandidateGroup(("student discount please", "student discount", "discount for students?"), (3, 2, 1)),
        CandidateGroup(TRICKY, (1,) * len(TRICKY)),
    ]
    path = tmp_path / "candidates.yml"
    path.write_text(render_nlu_yaml(groups, header=["Customer messages not understood"]), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Rasa's complaints about training data are UserWarnings
        data = load_data(str(path))
    assert data.intents == {"candidate_1", "candidate_2"}
    by_intent: dict[str, list[str]] = {}
    for example in data.intent_examples:
        by_intent.setdefault(example.get("intent"), []).append(example.get("text"))
        assert not example.get("entities")
    assert by_intent["candidate_1"] == ["student discount please", "student discount", "discount for students?"]
    assert by_intent["candidate_2"] == [
        'he said "hi": #1 bug',
        "- starts with a dash",
        "see [my router] (http://example.com) and [x] {y} and [a] [b]",
        "ünïcode 🙂 text",
        "key: value",
        "'quoted' | pipe > more & *star !tag %percent @at `tick`",
    ]
