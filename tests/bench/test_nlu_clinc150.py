"""CLINC150 NLU benchmark: metric functions on hand-made predictions, data helpers, and a --small run."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.nlu_clinc150 import (
    OOS,
    Prediction,
    choose_threshold,
    choose_threshold_within,
    decide,
    load_clinc,
    macro_f1,
    metrics_at,
    nlu_config,
    nlu_yaml,
    percentile,
    prediction_from_parse,
    resolve_pipeline,
    score,
    served_label,
    small_subset,
    sweep,
    top1_in_scope,
)
from bot.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT

# Four in-scope examples (a, a, b, b) and two out-of-scope ones.
PREDICTIONS = [
    Prediction("a", "a", 0.9),  # right, confident
    Prediction("a", "b", 0.6),  # wrong, medium
    Prediction("b", "b", 0.4),  # right, unsure
    Prediction("b", "b", 0.8),  # right, confident
    Prediction(OOS, "a", 0.3),  # out of scope, unsure
    Prediction(OOS, "b", 0.7),  # out of scope, fairly confident
]


def test_decide_rejects_below_threshold_and_the_oos_class() -> None:
    assert decide(Prediction("a", "a", 0.5), 0.5) == "a"  # not below: kept (as FallbackClassifier)
    assert decide(Prediction("a", "a", 0.49), 0.5) == OOS
    assert decide(Prediction(OOS, OOS, 0.99), 0.0) == OOS
    assert decide(Prediction("a", "b", 0.0), 0.0) == "b"


def test_metrics_at_zero_threshold_rejects_nothing() -> None:
    m = metrics_at(PREDICTIONS, 0.0)
    assert m["in_scope_accuracy"] == pytest.approx(3 / 4)
    assert m["oos_recall"] == 0.0
    assert m["oos_precision"] == 0.0  # nothing rejected
    assert m["rejected"] == 0
    # predicted: a, b, b, b, a, b; gold: a, a, b, b, oos, oos
    # a: tp1, fp1 (oos->a), fn1 (a->b) -> 2/4; b: tp2, fp2, fn0 -> 4/6; oos: tp0, fn2 -> 0
    assert m["macro_f1"] == pytest.approx((0.5 + 4 / 6 + 0.0) / 3)


def test_metrics_at_half_threshold() -> None:
    # predicted: a, b, oos, b, oos, b
    m = metrics_at(PREDICTIONS, 0.5)
    assert m["in_scope_accuracy"] == pytest.approx(2 / 4)
    assert m["in_scope_rejected"] == 1
    assert m["oos_recall"] == pytest.approx(1 / 2)
    assert m["oos_precision"] == pytest.approx(1 / 2)
    assert m["accuracy"] == pytest.approx(3 / 6)
    # a: tp1 fp0 fn1 -> 2/3; b: tp1 fp2 fn1 -> 2/5; oos: tp1 fp1 fn1 -> 2/4
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 5 + 1 / 2) / 3)


def test_metrics_at_high_threshold_rejects_everything() -> None:
    m = metrics_at(PREDICTIONS, 0.95)
    assert m["in_scope_accuracy"] == 0.0
    assert m["oos_recall"] == 1.0
    assert m["oos_precision"] == pytest.approx(2 / 6)
    assert m["rejected"] == 6


def test_oos_class_counts_as_rejection() -> None:
    predictions = [Prediction("a", OOS, 0.9), Prediction(OOS, OOS, 0.9), Prediction(OOS, "a", 0.9)]
    m = metrics_at(predictions, 0.0)
    assert m["in_scope_accuracy"] == 0.0
    assert m["oos_recall"] == pytest.approx(1 / 2)
    assert m["oos_precision"] == pytest.approx(1 / 2)
    assert top1_in_scope(predictions) == 0.0


def test_score_and_macro_f1_edge_cases() -> None:
    assert macro_f1(["a", "b"], ["a", "b"], ["a", "b"]) == 1.0
    assert macro_f1(["a"], ["a"], ["a", "never"]) == pytest.approx(0.5)  # a label never seen scores 0
    assert macro_f1([], [], []) == 0.0
    with pytest.raises(ValueError):
        score(["a"], [])
    perfect = score(["a", OOS], ["a", OOS])
    assert perfect["in_scope_accuracy"] == perfect["oos_recall"] == perfect["oos_precision"] == 1.0
    assert perfect["macro_f1"] == 1.0


def test_sweep_is_monotone_and_choose_threshold_maximises_the_sum() -> None:
    thresholds = [0.0, 0.35, 0.5, 0.65, 0.75, 0.95]
    rows = sweep(PREDICTIONS, thresholds)
    assert [r["threshold"] for r in rows] == thresholds
    recalls = [r["oos_recall"] for r in rows]
    accuracies = [r["in_scope_accuracy"] for r in rows]
    assert recalls == sorted(recalls)
    assert accuracies == sorted(accuracies, reverse=True)
    # sums: 0.0 -> .75+0, 0.35 -> .75+.5, 0.5 -> .5+.5, 0.65 -> .5+.5, 0.75 -> .5+1, 0.95 -> 0+1
    assert choose_threshold(PREDICTIONS, thresholds) == 0.75
    # ties go to the lowest threshold
    assert choose_threshold([Prediction("a", "a", 0.9)], [0.5, 0.1, 0.3]) == 0.1
    with pytest.raises(ValueError):
        choose_threshold(PREDICTIONS, [])


def test_choose_threshold_within_gives_up_at_most_the_budget() -> None:
    thresholds = [0.0, 0.35, 0.5, 0.65, 0.75, 0.95]
    # top-1 is 3/4; in-scope accuracy: 0.0 -> .75, 0.35 -> .75, 0.5 -> .5, ... 0.95 -> 0
    assert choose_threshold_within(PREDICTIONS, 0.0, thresholds) == 0.35  # the highest with no loss
    assert choose_threshold_within(PREDICTIONS, 0.25, thresholds) == 0.75  # a quarter may go
    assert choose_threshold_within(PREDICTIONS, 1.0, thresholds) == 0.95
    with pytest.raises(ValueError):
        choose_threshold_within(PREDICTIONS, 0.005, [])


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile([3.0], 0.95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_prediction_from_parse_looks_past_nlu_fallback() -> None:
    parsed = {
        "intent": {"name": "nlu_fallback", "confidence": 0.7},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.7},
            {"name": "timer", "confidence": 0.42},
            {"name": "alarm", "confidence": 0.3},
        ],
    }
    p = prediction_from_parse("timer", parsed)
    assert p == Prediction("timer", "timer", 0.42, "nlu_fallback")
    assert served_label(p) == OOS
    plain = prediction_from_parse(OOS, {"intent": {"name": "alarm", "confidence": 0.9}})
    assert plain == Prediction(OOS, "alarm", 0.9, "alarm")
    assert served_label(plain) == "alarm"


def test_nlu_yaml_round_trips_awkward_texts() -> None:
    texts = ['how do they say "what\'s up" in chinese', "remind me in (x) hours", "a: b # not a comment", "- dash"]
    document = yaml.safe_load(nlu_yaml([(t, "intent_x") for t in texts]))
    assert document["nlu"][0]["intent"] == "intent_x"
    assert [e["text"] for e in document["nlu"][0]["examples"]] == texts
    with pytest.raises(ValueError):
        nlu_yaml([("[entity](label) text", "x")])
    with pytest.raises(ValueError):
        nlu_yaml([("/greet", "x")])


def test_rasa_reads_the_training_data_verbatim() -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    texts = [
        'how do they say "what\'s up" in chinese',
        "set timer for (x) minutes",
        "a: b # c",
        "what's 'this'",
        "travel alert for [country]",
    ]
    data = RasaYAMLReader().reads(nlu_yaml([(t, "i") for t in texts]))
    assert sorted(m.get("text") for m in data.training_examples) == sorted(texts)
    assert {m.get("intent") for m in data.training_examples} == {"i"}


def test_small_subset_and_pipelines() -> None:
    data = small_subset(load_clinc())
    intents = {i for _, i in data["train"]}
    assert len(intents) == 10
    assert len(data["train"]) == 200
    assert {i for _, i in data["test"]} == intents and len(data["test"]) == 300
    assert len(data["oos_test"]) == 100
    name, path = resolve_pipeline("stock")
    assert name == "stock" and path == ROOT / "bench" / "pipelines" / "stock.yml"
    config, epochs = nlu_config(path, 3)
    assert epochs == 3
    assert [c["name"] for c in config["pipeline"]][-2:] == ["DIETClassifier", "FallbackClassifier"]
    bot, epochs = nlu_config(resolve_pipeline("bot")[1], None)
    assert "policies" not in bot and epochs is None  # the bot classifies with MiniLM, no DIET
    spacy = next(c for c in bot["pipeline"] if c["name"] == "SpacyNLP")
    assert Path(spacy["model"]).is_absolute()
    with pytest.raises(FileNotFoundError):
        resolve_pipeline("no-such-pipeline")


def test_small_benchmark_run_writes_report(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "bench/nlu_clinc150.py", "--pipeline", "stock", "--small", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "val-chosen" in done.stdout
    report = json.loads((tmp_path / "nlu_clinc150-stock-small.json").read_text(encoding="utf-8"))
    assert report["small"] is True and report["with_oos_train"] is False and report["epochs"] == 10
    assert report["data"] == {"train": 200, "intents": 10, "val": 70, "test_in_scope": 300, "test_oos": 100}
    assert report["latency"]["parses"] == 400 and report["latency"]["p95_ms"] > 0
    assert report["train_seconds"] > 0
    assert len(report["sweep"]["test"]) == 100 and len(report["sweep"]["val"]) == 100
    assert set(report["fixed"]) == {"0.27", "0.7"}
    chosen = report["val_chosen"]
    assert 0.0 <= chosen["threshold"] < 1.0
    for m in (chosen["test"], *report["fixed"].values(), report["as_served"]):
        assert 0.0 <= m["in_scope_accuracy"] <= 1.0 and 0.0 <= m["oos_recall"] <= 1.0
        assert m["in_scope"] == 300 and m["out_of_scope"] == 100
    assert report["sweep"]["test"][0]["oos_recall"] == 0.0  # no oos class, threshold 0: nothing rejected
    assert report["top1_in_scope"] == report["sweep"]["test"][0]["in_scope_accuracy"]
    assert (tmp_path / "nlu_clinc150-stock-small.png").stat().st_size > 1000
    with gzip.open(tmp_path / "nlu_clinc150-stock-small.predictions.jsonl.gz", "rt", encoding="utf-8") as stream:
        rows = [json.loads(line) for line in stream]
    assert len(rows) == 470 and {r["split"] for r in rows} == {"val", "test"}
    assert elapsed < 90, f"--small took {elapsed:.0f} s"
