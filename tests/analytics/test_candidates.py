"""Training candidates (bot/analytics/candidates.py, missed.py, personal_data.py): the messages not understood,
grouped, as Rasa NLU YAML; `python -m bot nlu-candidates` on a tracker store with the real MiniLM encoder."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from bot.analytics import personal_data as pd
from bot.analytics.candidates import (
    CandidateGroup,
    TopGroup,
    find_candidates,
    group,
    keep,
    render_nlu_yaml,
    select,
    top_candidates,
    top_groups,
)
from bot.analytics.missed import RASA_DEFAULT_THRESHOLD, fallback_threshold, read_missed

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2024, 5, 1)
STOP_WORDS = {"a", "an", "the", "with", "for", "i", "can", "do", "you", "is", "there", "my"}


def bag_of_words(texts: Sequence[str]) -> np.ndarray:
    """A deterministic stand-in for MiniLM: word counts (stop words left out), not normalised."""
    words = [[w for w in re.findall(r"[a-z]+", t.lower()) if w not in STOP_WORDS] for t in texts]
    vocabulary = {w: i for i, w in enumerate(sorted({w for ws in words for w in ws}))}
    vectors = np.zeros((len(texts), max(len(vocabulary), 1)), np.float32)
    for row, ws in enumerate(words):
        for w in ws:
            vectors[row, vocabulary[w]] += 1.0
    return vectors


#: (text, times sent): the student-discount texts are 6 messages, the PayPal ones 5.
MESSAGES = [
    ("pay with paypal", 2),
    ("Pay with PayPal", 1),  # the same text in other capitals
    ("can I pay with paypal", 1),  # the same words
    ("paypal pay now", 1),  # cos 0.82 with the others
    ("student discount", 2),
    ("discount for student", 1),
    ("student discount please", 3),
    ("hello robot", 2),  # one text, two messages: a group of 2
    ("weather tomorrow", 1),  # alone: dropped by --min-group 2
]


def _texts(messages: list[tuple[str, int]]) -> list[str]:
    return [text for text, times in messages for _ in range(times)]


# -- what is left out --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my email is jo.doe@example.com, help", pd.EMAIL),
        ("call me on +44 20 7946 0958", pd.PHONE),
        ("(030) 123-4567 is my number", pd.PHONE),
        ("order 100104 never came", pd.ORDER_OR_CODE),
        ("the code 482 913 does not work", pd.ORDER_OR_CODE),
        ("my router NX-R12-AB34CD is dead", pd.SERIAL),
        ("tracking 1Z4SSDV56853907036 is stuck", pd.REFERENCE),
        ("it broke on 2024-05-12", None),
        ("on 12.05.2024 at 10:30 it stopped", None),
        ("wifi 6 or wifi 5 for 3 rooms", None),
        ("postcode 12345", None),
    ],
)
def test_personal_data_is_recognised(text: str, kind: str | None) -> None:
    assert pd.personal_data_kind(text) == kind


def test_selection_leaves_out_buttons_and_personal_data_and_counts_each_text_once() -> None:
    selection = select(
        [
            *_texts(MESSAGES),
            "/greet",
            '/choose{"option": "a"}',
            "order 100104 hasn't arrived",
            "my code is 123456",
            "write to me at jo@example.com",
            "  pay   with\tpaypal \n",  # whitespace does not make a new text
            "",
        ]
    )
    assert selection.messages == sum(times for _, times in MESSAGES) + 7
    assert selection.buttons == 2
    assert selection.personal == {pd.EMAIL: 1, pd.ORDER_OR_CODE: 2}
    counts = dict(zip(selection.texts, selection.counts, strict=True))
    assert counts["pay with paypal"] == 4 and "Pay with PayPal" not in counts  # the most frequent spelling
    assert counts["student discount please"] == 3
    assert selection.texts[0] == "pay with paypal"  # most frequent first
    assert not any("100104" in t or "@" in t or t.startswith("/") for t in selection.texts)


# -- grouping ----------------------------------------------------------------------------------


def test_groups_most_frequent_first_with_the_centre_as_example() -> None:
    selection = select(_texts(MESSAGES))
    groups = group(selection.texts, selection.counts, bag_of_words, threshold=0.6)
    assert [(g.messages, g.examples) for g in groups] == [
        (6, ("student discount please", "student discount", "discount for student")),
        (5, ("pay with paypal", "can I pay with paypal", "paypal pay now")),
        (2, ("hello robot",)),
        (1, ("weather tomorrow",)),
    ]
    assert groups[0].counts == (3, 2, 1)
    kept = keep(groups, min_group=2, max_groups=30)
    assert [g.examples[0] for g in kept] == ["student discount please", "pay with paypal", "hello robot"]
    assert keep(groups, min_group=3, max_groups=1) == groups[:1]
    assert top_groups(kept, limit=2) == [
        TopGroup(6, ("student discount please", "student discount", "discount for student")),
        TopGroup(5, ("pay with paypal", "can I pay with paypal", "paypal pay now")),
    ]
    # A stricter threshold splits the PayPal group: "paypal pay now" is 0.82 alike.
    strict = group(selection.texts, selection.counts, bag_of_words, threshold=0.9)
    assert (4, ("pay with paypal", "can I pay with paypal")) in [(g.messages, g.examples) for g in strict]


def test_grouping_invariants_on_random_vectors() -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 16))
    vectors = np.repeat(centres, 20, axis=0) + rng.normal(scale=0.6, size=(120, 16))
    texts = [f"text {i}" for i in range(120)]
    counts = [int(c) for c in rng.integers(1, 5, size=120)]
    lookup = dict(zip(texts, vectors, strict=True))

    def encoder(batch: Sequence[str]) -> np.ndarray:
        return np.stack([lookup[t] for t in batch])

    groups = group(texts, counts, encoder, threshold=0.6)
    assert sorted(t for g in groups for t in g.examples) == sorted(texts)  # every text in exactly one group
    assert sum(g.messages for g in groups) == sum(counts)
    assert [g.messages for g in groups] == sorted((g.messages for g in groups), reverse=True)
    unit = {t: v / np.linalg.norm(v) for t, v in lookup.items()}
    for g in groups:
        assert all(float(unit[g.examples[0]] @ unit[t]) >= 0.6 - 1e-6 for t in g.examples)
    assert groups == group(texts, counts, encoder, threshold=0.6)  # deterministic
    assert len(groups[0].examples) > 5  # the clusters were found


def test_grouping_edge_cases() -> None:
    assert group([], [], bag_of_words) == []
    # Only stop words: a zero vector, alone in its group.
    assert group(["the", "a"], [1, 1], bag_of_words) == [CandidateGroup(("a",), (1,)), CandidateGroup(("the",), (1,))]
    with pytest.raises(ValueError, match="one count per text"):
        group(["a"], [1, 2], bag_of_words)
    with pytest.raises(ValueError, match="the encoder gave"):
        group(["a", "b"], [1, 1], lambda texts: np.zeros((1, 3)))


# -- the YAML ----------------------------------------------------------------------------------

TRICKY = [
    'he said "hi": #1 bug',
    "- starts with a dash",
    "see [my router](http://example.com) and [x]{y}",
    "ünïcode 🙂 text",
    "bell\x07and\x00nul",
    "key: value",
    "'quoted' | pipe > more",
]


def test_the_yaml_is_rasa_nlu_training_data() -> None:
    groups = [
        CandidateGroup(("student discount please", "student discount"), (3, 2)),
        CandidateGroup(tuple(TRICKY), (1,) * 7),
    ]
    text = render_nlu_yaml(groups, header=["Messages not understood\nfrom May", "second line"])
    lines = text.splitlines()
    assert lines[:3] == ["# Messages not understood from May", "# second line", 'version: "3.1"']
    assert '- intent: candidate_1  # 5 messages, e.g. "student discount please"' in lines
    assert '- intent: candidate_2  # 7 messages, e.g. "he said \\"hi\\": #1 bug"' in lines
    data = yaml.safe_load(text)
    assert data["version"] == "3.1" and set(data) == {"version", "nlu"}
    assert [entry["intent"] for entry in data["nlu"]] == ["candidate_1", "candidate_2"]
    assert all(set(entry) == {"intent", "examples"} for entry in data["nlu"])
    examples = [line.removeprefix("- ") for line in data["nlu"][1]["examples"].splitlines()]
    assert examples == [
        'he said "hi": #1 bug',
        "- starts with a dash",
        "see [my router] (http://example.com) and [x] {y}",  # not an entity annotation for Rasa
        "ünïcode 🙂 text",
        "bellandnul",
        "key: value",
        "'quoted' | pipe > more",
    ]
    assert yaml.safe_load(render_nlu_yaml([])) == {"version": "3.1", "nlu": []}
    long = render_nlu_yaml([CandidateGroup(("word " * 40,), (2,))], max_examples=1)
    assert 'e.g. "word word' in long and '…"' in long


def test_max_examples_limits_the_lines_not_the_count() -> None:
    groups = [CandidateGroup(tuple(f"text {i}" for i in range(10)), (1,) * 10)]
    data = yaml.safe_load(render_nlu_yaml(groups, max_examples=3))
    assert data["nlu"][0]["examples"] == "- text 0\n- text 1\n- text 2\n"
    assert "# 10 messages" in render_nlu_yaml(groups, max_examples=3)


def test_find_candidates_summary() -> None:
    found = find_candidates(
        [*_texts(MESSAGES), "/greet", "order 100104 late"], bag_of_words, similarity=0.6, min_group=2, max_groups=2
    )
    assert [g.messages for g in found.groups] == [6, 5]
    assert found.summary(0.6) == (
        "16 messages not understood; left out 1 button payload and 1 with personal data (1 order number or code); "
        "8 different texts in 4 groups (similarity >= 0.60); 2 kept"
    )


# -- reading Rasa's tracker store --------------------------------------------------------------


def _event(row_id: int, at: dt.datetime, text: str, intent: str, confidence: float, kind: str = "user") -> dict:
    data = {"event": kind, "text": text, "parse_data": {"intent": {"name": intent, "confidence": confidence}}}
    return {
        "id": row_id,
        "sender_id": f"conv-{row_id % 3}",
        "type_name": kind,
        "timestamp": at.replace(tzinfo=dt.timezone.utc).timestamp(),
        "intent_name": intent if kind == "user" else None,
        "action_name": None,
        "data": json.dumps(data),
    }


def write_tracker(
    url: str, messages: list[tuple[dt.datetime, str, str, float]], kind_of: dict[int, str] | None = None
) -> None:
    """A Rasa-like SQL tracker store: its ``events`` table, one row per message."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    events = sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255)),
        sa.Column("type_name", sa.String(255)),
        sa.Column("timestamp", sa.Float),
        sa.Column("intent_name", sa.String(255)),
        sa.Column("action_name", sa.String(255)),
        sa.Column("data", sa.Text),
    )
    metadata.create_all(engine)
    rows = [
        _event(i, at, text, intent, confidence, (kind_of or {}).get(i, "user"))
        for i, (at, text, intent, confidence) in enumerate(messages, start=1)
    ]
    with engine.begin() as connection:
        connection.execute(events.insert(), rows)
    engine.dispose()


PERIOD = [
    (START - dt.timedelta(seconds=1), "too early", "nlu_fallback", 0.45),
    (START, "pay with paypal", "nlu_fallback", 0.45),
    (START + dt.timedelta(days=1), "can I pay with paypal", "ask_payment", 0.2),  # under the threshold
    (START + dt.timedelta(days=2), "where is my order", "order_status", 0.93),  # understood
    (START + dt.timedelta(days=3), "/greet", "greet", 1.0),
    (START + dt.timedelta(days=4), "utter_greet", "none", 0.0),  # an action, not a message
    (START + dt.timedelta(days=5), "Pay with PayPal", "nlu_fallback", 0.45),
    (START + dt.timedelta(days=30), "too late", "nlu_fallback", 0.45),
]


def test_read_missed_takes_the_period_and_what_was_not_understood(database_url: str) -> None:
    write_tracker(database_url, PERIOD, kind_of={6: "action"})
    missed = read_missed(database_url, START, START + dt.timedelta(days=30), 0.45)
    assert [(m.text, m.intent, m.at) for m in missed] == [
        ("pay with paypal", "nlu_fallback", START),
        ("can I pay with paypal", "ask_payment", START + dt.timedelta(days=1)),
        ("Pay with PayPal", "nlu_fallback", START + dt.timedelta(days=5)),
    ]
    # --since: a shorter period
    later = read_missed(database_url, START + dt.timedelta(days=2), START + dt.timedelta(days=30), 0.45)
    assert [m.text for m in later] == ["Pay with PayPal"]
    # A lower threshold: only nlu_fallback counts (and the button, at 1.0, never)
    assert len(read_missed(database_url, START, START + dt.timedelta(days=30), 0.1)) == 2
    assert len(read_missed(database_url, START - dt.timedelta(days=1), START + dt.timedelta(days=31), 0.45)) == 5


def test_read_missed_only_reads(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    url = f"sqlite:///{path}"
    write_tracker(url, PERIOD, kind_of={6: "action"})
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    path.chmod(0o444)
    try:
        assert len(read_missed(url, START, START + dt.timedelta(days=30), 0.45)) == 3
    finally:
        path.chmod(0o644)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    missing = tmp_path / "none" / "tracker.db"
    assert read_missed(f"sqlite:///{missing}", START, START + dt.timedelta(days=1), 0.45) == []
    assert not missing.parent.exists()  # not created
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    assert read_missed(f"sqlite:///{empty}", START, START + dt.timedelta(days=1), 0.45) == []


def test_top_candidates_for_the_dashboard(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    at = START + dt.timedelta(hours=1)
    write_tracker(url, [(at, text, "nlu_fallback", 0.45) for text in _texts(MESSAGES)])
    top = top_candidates(url, START, START + dt.timedelta(days=1), bag_of_words, fallback_threshold=0.45, limit=2)
    assert top == [
        TopGroup(6, ("student discount please", "student discount", "discount for student")),
        TopGroup(5, ("pay with paypal", "can I pay with paypal", "paypal pay now")),
    ]


def test_fallback_threshold_comes_from_config_yml(tmp_path: Path) -> None:
    assert fallback_threshold(PROJECT_ROOT / "config.yml") == 0.45
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: FallbackClassifier\n")
    assert fallback_threshold(config) == RASA_DEFAULT_THRESHOLD
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n")
    assert fallback_threshold(config) == RASA_DEFAULT_THRESHOLD
    config.write_text("recipe: default.v1\n")
    with pytest.raises(ValueError, match="no pipeline"):
        fallback_threshold(config)
    with pytest.raises(ValueError, match="cannot read"):
        fallback_threshold(tmp_path / "missing.yml")


# -- the command, with the real MiniLM encoder (loads in ~5 s, offline) -------------------------


def test_the_command_groups_with_minilm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    tracker = tmp_path / "tracker.db"
    now = dt.datetime(2024, 6, 1)
    texts = [
        "is there a student discount",
        "do students get a discount",
        "Do students get a discount",
        "discount for students?",
        "can I pay with paypal",
        "do you accept paypal",
        "paypal payment possible?",
        "what's the weather tomorrow",
        "my order 100104 is late, mail me at jo@example.com",
        "/greet",
    ]
    messages = [(now - dt.timedelta(days=2, minutes=i), t, "nlu_fallback", 0.45) for i, t in enumerate(texts)]
    messages.append((now - dt.timedelta(days=40), "is there a discount for teachers", "nlu_fallback", 0.45))
    write_tracker(f"sqlite:///{tracker}", messages)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_TRACKER_URL", f"sqlite:///{tracker}")

    assert main(["nlu-candidates", "--since", "30d", "--until", now.isoformat()]) == 0
    captured = capsys.readouterr()
    data = yaml.safe_load(captured.out)
    assert data["version"] == "3.1"
    groups = [(entry["intent"], set(entry["examples"].replace("- ", "").splitlines())) for entry in data["nlu"]]
    assert groups == [
        ("candidate_1", {"is there a student discount", "do students get a discount", "discount for students?"}),
        ("candidate_2", {"can I pay with paypal", "do you accept paypal", "paypal payment possible?"}),
    ]
    assert "# 4 messages, e.g." in captured.out and "# 3 messages, e.g." in captured.out
    assert "100104" not in captured.out and "jo@example.com" not in captured.out and "teachers" not in captured.out
    assert "10 messages not understood" in captured.err and "1 with personal data" in captured.err

    assert main(["nlu-candidates", "--min-group", "0"]) == 2
