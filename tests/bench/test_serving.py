"""bench/serving.py's arithmetic: the issue's targets from a results file, and the profile's summary."""

from __future__ import annotations

from typing import Any

from bench.serving import Point, summarise_folded, targets


def _point(msg_per_s: float, p50_ms: float, p95_ms: float) -> dict[str, float]:
    return {"msg_per_s": msg_per_s, "p50_ms": p50_ms, "p95_ms": p95_ms}


def _results(**overrides: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "concurrency": [1, 10, 50],
        "setups": {
            "stack-api": {"1": _point(30, 40, 60), "10": _point(40, 300, 500), "50": _point(28, 1700, 2200)},
            "bare": {"1": _point(32, 36, 50), "10": _point(42, 290, 480), "50": _point(30, 1600, 2100)},
            "starter": {"1": _point(29, 30, 35), "10": _point(45, 200, 350), "50": _point(47, 1000, 1050)},
        },
        "rss_mib": {"stack": {"rasa": 780.0}},
        "cold_start_s": {"stack": 12.0},
    }
    results.update(overrides)
    return results


def test_each_target_is_checked_against_its_limit() -> None:
    checked = {row["target"]: row for row in targets(_results())}
    assert checked["full stack msg/s / starter msg/s at c=1"]["met"]  # 30 / 29
    assert not checked["full stack msg/s / starter msg/s at c=10"]["met"]  # 40 / 45
    assert checked["full stack p50 at c=1, ms (limit: bare p50 + 5)"]["limit"] == 41
    assert checked["full stack p50 at c=1, ms (limit: bare p50 + 5)"]["met"]
    # saturation: the best rate of each over the levels, 40 (c=10) against 42 (c=10)
    assert checked["full stack saturation msg/s / bare saturation msg/s"]["measured"] == round(40 / 42, 3)
    assert checked["full stack saturation msg/s / bare saturation msg/s"]["met"]
    assert checked["full stack p95 / bare p95 at c=50"]["met"]
    assert checked["Rasa server RSS, MiB"]["met"] and checked["cold start with a trained model, s"]["met"]


def test_a_missing_figure_is_not_met() -> None:
    checked = targets(_results(rss_mib={}, cold_start_s={}, setups={}))
    assert checked and not any(row["met"] for row in checked)


def test_a_point_summary() -> None:
    summary = Point([0.01, 0.02, 0.03, 0.04], errors=1, wall_s=2.0).summary()
    assert summary["messages"] == 4 and summary["errors"] == 1 and summary["msg_per_s"] == 2.0
    assert summary["p50_ms"] == 25.0 and summary["max_ms"] == 40.0


def test_the_profile_summary_leaves_idle_stacks_out() -> None:
    folded = "\n".join(
        [
            "main (app.py:1);handle (service.py:10);execute (engine.py:5) 30",
            "main (app.py:1);handle (service.py:10) 10",
            "main (app.py:1);select (selectors.py:468) 60",
        ]
    )
    summary = summarise_folded(folded)
    assert summary["samples"] == 100 and summary["busy_share"] == 0.4
    shares = {row["frame"]: row["share_of_busy"] for row in summary["top_inclusive"]}
    assert shares["handle (service.py)"] == 1.0 and shares["execute (engine.py)"] == 0.75
