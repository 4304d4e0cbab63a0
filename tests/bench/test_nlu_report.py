"""The NLU report page rendered from Rasa's cross-validation reports (no training here)."""

from __future__ import annotations

from bench.nlu_report import confused_pairs, intent_rows, render

REPORT = {
    "greet": {"precision": 1.0, "recall": 0.9, "f1-score": 0.947, "support": 10, "confused_with": {"thank": 1}},
    "thank": {"precision": 0.8, "recall": 1.0, "f1-score": 0.889, "support": 8, "confused_with": {}},
    "order_status": {
        "precision": 0.7,
        "recall": 0.5,
        "f1-score": 0.583,
        "support": 12,
        "confused_with": {"track_order": 5, "greet": 1},
    },
    "accuracy": 0.8,
    "macro avg": {"precision": 0.83, "recall": 0.8, "f1-score": 0.806, "support": 30},
    "weighted avg": {"precision": 0.82, "recall": 0.8, "f1-score": 0.79, "support": 30},
}
ERRORS = [
    {"text": "where's my parcel", "intent": "order_status", "intent_prediction": {"name": "track_order"}},
    {"text": "is it | shipped", "intent": "order_status", "intent_prediction": {"name": "track_order"}},
    {"text": "a third one", "intent": "order_status", "intent_prediction": {"name": "track_order"}},
]


def test_rows_are_worst_first_without_averages() -> None:
    rows = intent_rows(REPORT)
    assert [row["intent"] for row in rows] == ["order_status", "thank", "greet"]
    assert rows[0]["support"] == 12


def test_confused_pairs_are_counted_with_examples() -> None:
    pairs = confused_pairs(REPORT, ERRORS)
    assert pairs[0] == {
        "intent": "order_status",
        "predicted": "track_order",
        "count": 5,
        "examples": ["where's my parcel", "is it | shipped"],
    }
    assert {(p["intent"], p["predicted"]) for p in pairs} == {
        ("order_status", "track_order"),
        ("greet", "thank"),
        ("order_status", "greet"),
    }


def test_render_writes_the_tables() -> None:
    page = render(REPORT, ERRORS, folds=5, seconds=125)
    assert "5-fold cross-validation" in page and "2.1 minutes" in page
    assert "| 30 | 3 | 0.800 | 0.806 | 0.790 |" in page
    assert "| `order_status` | `track_order` | 5 |" in page
    assert "is it \\| shipped" in page  # table cells escaped
