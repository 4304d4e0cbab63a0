"""bench/help_retrieval.py: the figures, the question files and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.help_retrieval import QUESTIONS_GLOB, Question, Scored, figures, load_questions
from bot.help import load_help_center
from bot.settings import PROJECT_ROOT


def scored(section: str | None, ranked: tuple[str, ...], score: float, margin: float) -> Scored:
    return Scored(Question(f"q{section}{ranked}{score}", section, "plain"), ranked, score, margin)


def test_figures_count_ranking_and_decisions() -> None:
    rows = [
        scored("a#1", ("a#1", "b#1", "c#1"), 0.8, 0.3),  # right, answered
        scored("a#2", ("b#1", "a#2", "c#1"), 0.7, 0.01),  # wrong first, in top 3, not clear: suggested
        scored("b#1", ("c#1", "a#1", "a#2"), 0.9, 0.5),  # wrong and answered
        scored(None, ("a#1", "b#1", "c#1"), 0.2, 0.1),  # unanswerable, abstained
        scored(None, ("a#1", "b#1", "c#1"), 0.9, 0.2),  # unanswerable, answered
    ]
    f = figures(rows, threshold=0.5, margin=0.05)
    assert (f["answerable"], f["unanswerable"]) == (3, 2)
    assert f["top1"] == round(1 / 3, 4) and f["recall3"] == round(2 / 3, 4)
    assert f["abstain"] == 0.5
    assert f["precision"] == round(1 / 3, 4)  # three answered, one right
    assert f["coverage"] == round(2 / 3, 4)


def test_the_shipped_questions_are_enough_and_labelled_with_real_sections() -> None:
    articles = load_help_center(PROJECT_ROOT / "data" / "help")
    files = sorted((PROJECT_ROOT / "bench" / "data").glob(QUESTIONS_GLOB))
    questions = load_questions(files, {s.id for a in articles for s in a.sections})
    answerable = [q for q in questions if q.section]
    assert len(answerable) >= 250 and len(questions) - len(answerable) >= 100
    assert sum(q.style != "plain" for q in answerable) / len(answerable) >= 0.40
    calibration = sum(q.calibration for q in questions) / len(questions)
    assert 0.3 < calibration < 0.5


def test_a_label_naming_no_section_or_a_repeated_question_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "help_questions_bad.yml"
    bad.write_text('answerable:\n  - q: "x"\n    section: nope#none\nunanswerable: []\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="unknown section"):
        load_questions([bad], {"a#1"})
    twice = tmp_path / "help_questions_twice.yml"
    twice.write_text('answerable: []\nunanswerable:\n  - q: "Same"\n  - q: "same "\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="twice"):
        load_questions([twice], set())
