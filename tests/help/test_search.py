"""Help search with the real MiniLM encoder: ranking, decisions, the embedding cache, settings."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from bot.help import HelpIndex, SearchSettings, load_help_center
from bot.help.search import cache_path
from bot.nlp.minilm import MiniLMEncoder, get_encoder
from bot.settings import PROJECT_ROOT

ARTICLES = {
    "returns": """---
id: returns
title: Returns and refunds
tags: [send back, money back]
products: []
updated: 2026-11-01
---
Returns.

## How long do I have to return something?

You can return most products within 30 days of delivery.

## When do I get my money back?

Refunds reach your card 3-5 working days after we receive the return.
""",
    "guest-network": """---
id: guest-network
title: Guest network
tags: [visitors, guest wifi]
products: []
updated: 2026-11-01
---
Guests.

## How do I turn on the guest network?

Open the Nimbus app, tap Wi-Fi, then Guest network, and switch it on with its own password.
""",
}


class CountingEncoder:
    """The real encoder, counting how many texts it was asked to encode."""

    def __init__(self, encoder: MiniLMEncoder) -> None:
        self.encoder = encoder
        self.texts = 0

    def encode(self, texts: Iterable[str], batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        self.texts += len(texts)
        return self.encoder.encode(texts, batch_size)


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return get_encoder()


def write_articles(folder: Path, articles: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / f"{name}.md").write_text(text, encoding="utf-8")


def test_the_best_section_is_found_even_misspelt(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    write_articles(tmp_path / "help", ARTICLES)
    index = HelpIndex.build(load_help_center(tmp_path / "help"), encoder, tmp_path / "cache")
    assert (
        index.search("how many days to send stuff back").hits[0].section.id
        == "returns#how-long-do-i-have-to-return-something"
    )
    assert index.search("when will i get my refnud").hits[0].section.id == "returns#when-do-i-get-my-money-back"
    assert index.search("wifi for visitors").hits[0].section.id == "guest-network#how-do-i-turn-on-the-guest-network"
    result = index.search("how many days to send stuff back")
    assert [a.id for a in result.articles(2)] == ["returns", "guest-network"]


def test_the_decision_follows_the_thresholds(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    write_articles(tmp_path / "help", ARTICLES)
    articles = load_help_center(tmp_path / "help")
    index = HelpIndex.build(articles, encoder, tmp_path / "cache")
    question = "how long do i have to return something"
    score = index.search(question).hits[0].score
    index.settings = SearchSettings(answer_threshold=score, suggest_threshold=score / 2)
    assert index.search(question).decision == "answer"
    index.settings = SearchSettings(answer_threshold=min(score + 0.01, 1.0), suggest_threshold=score)
    assert index.search(question).decision == "suggest"
    index.settings = SearchSettings(answer_threshold=1.0, suggest_threshold=min(score + 0.01, 1.0))
    assert index.search(question).decision == "none"
    assert index.search("?!").decision == "none"


def test_section_embeddings_are_cached_per_content(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    write_articles(tmp_path / "help", ARTICLES)
    articles = load_help_center(tmp_path / "help")
    counting = CountingEncoder(encoder)
    HelpIndex.build(articles, counting, tmp_path / "cache")
    assert counting.texts == 6  # heading and passage of three sections
    assert cache_path(articles, tmp_path / "cache").is_file()
    index = HelpIndex.build(articles, counting, tmp_path / "cache")
    assert counting.texts == 6  # nothing encoded again
    index.search("refund")
    assert counting.texts == 7  # only the question

    changed = dict(ARTICLES, returns=ARTICLES["returns"].replace("30 days", "60 days"))
    write_articles(tmp_path / "help", changed)
    new_articles = load_help_center(tmp_path / "help")
    HelpIndex.build(new_articles, counting, tmp_path / "cache")
    assert counting.texts == 13
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [cache_path(new_articles, tmp_path / "cache").name]


def test_a_damaged_cache_is_rebuilt(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    write_articles(tmp_path / "help", ARTICLES)
    articles = load_help_center(tmp_path / "help")
    path = cache_path(articles, tmp_path / "cache")
    path.parent.mkdir()
    path.write_bytes(b"not a numpy file")
    index = HelpIndex.build(articles, encoder, tmp_path / "cache")
    assert index.search("refund").hits
    with np.load(path) as stored:
        assert stored["embeddings"].shape == (6, 384)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("answer_threshold: 2", "between 0 and 1"),
        ("answer_threshold: 0.4\nsuggest_threshold: 0.5", "must not exceed"),
        ("colour: blue", "unknown keys"),
        ("[1, 2]", "expected a mapping"),
        ("answer_threshold: [", "unreadable"),
    ],
)
def test_bad_search_settings_are_a_clear_error(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "search.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        SearchSettings.load(path)


def test_the_shipped_settings_load() -> None:
    settings = SearchSettings.load(PROJECT_ROOT / "data" / "help" / "search.yml")
    assert 0 < settings.suggest_threshold <= settings.answer_threshold < 1
    assert SearchSettings.load(PROJECT_ROOT / "no-such-file.yml") == SearchSettings()
