"""bot/nlp/help_model.py: the help center's fine-tuned encoder, trained once per content and then only loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.help import load_help_center
from bot.nlp.help_model import PREFIX, ensure_help_model, load_help_index, model_path, training_examples
from tests.help.test_search import ARTICLES, write_articles

ALSO_ASKED = {
    "returns": ARTICLES["returns"].replace(
        "## How long do I have to return something?\n",
        "## How long do I have to return something?\n<!-- also asked: return window | send it back after 3 weeks -->\n",
    ),
    "guest-network": ARTICLES["guest-network"],
}


def test_each_section_is_a_class_of_its_headings_and_phrasings(tmp_path: Path) -> None:
    write_articles(tmp_path / "help", ALSO_ASKED)
    articles = load_help_center(tmp_path / "help")
    texts, labels = training_examples(articles)
    by_label = {label: [t for t, lab in zip(texts, labels, strict=True) if lab == label] for label in set(labels)}
    assert by_label[0] == [
        "How do I turn on the guest network?",
        "Guest network: How do I turn on the guest network?",
        # The passage's first sentence: what the section is about, in its own words.
        "Open the Nimbus app, tap Wi-Fi, then Guest network, and switch it on with its own password.",
    ]
    assert "return window" in by_label[1] and "send it back after 3 weeks" in by_label[1]
    assert len(by_label) == 3


def test_the_model_is_trained_once_per_content_then_loaded(tmp_path: Path) -> None:
    write_articles(tmp_path / "help", ALSO_ASKED)
    articles = load_help_center(tmp_path / "help")
    cache = tmp_path / "models"
    path, trained = ensure_help_model(articles, cache)
    assert trained and path == model_path(articles, cache)
    stamp = path.stat().st_mtime_ns
    assert ensure_help_model(articles, cache) == (path, False)
    assert path.stat().st_mtime_ns == stamp

    index = load_help_index(articles, cache)
    assert index.prototypes is not None and index.prototypes.shape == (3, 384)
    assert np.allclose(np.linalg.norm(index.prototypes, axis=1), 1.0, atol=1e-4)
    assert index.search("can i still send it back after 3 weeks").hits[0].section.id == (
        "returns#how-long-do-i-have-to-return-something"
    )
    assert index.search("wifi for my visitors").hits[0].section.id == "guest-network#how-do-i-turn-on-the-guest-network"

    write_articles(
        tmp_path / "help", {**ALSO_ASKED, "guest-network": ALSO_ASKED["guest-network"].replace("Wi-Fi", "WiFi")}
    )
    changed = load_help_center(tmp_path / "help")
    new_path, trained = ensure_help_model(changed, cache)
    assert trained and new_path != path
    assert [p.name for p in cache.glob(f"{PREFIX}*")] == [new_path.name]  # the old one is gone


def test_a_damaged_model_file_is_trained_again(tmp_path: Path) -> None:
    write_articles(tmp_path / "help", ALSO_ASKED)
    articles = load_help_center(tmp_path / "help")
    path = model_path(articles, tmp_path / "models")
    path.parent.mkdir()
    path.write_bytes(b"garbage")
    index = load_help_index(articles, tmp_path / "models")
    assert index.search("return window").hits
    assert ensure_help_model(articles, tmp_path / "models") == (path, False)
