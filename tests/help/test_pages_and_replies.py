"""Help-center pages and chat replies: pure translation of articles and search results."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.help import Article, Section
from bot.help.pages import article_html, index_html
from bot.help.replies import HelpReplies, article_payload, feedback_payload
from bot.help.search import Hit, SearchResult
from bot.help.texts import load_help_texts
from bot.settings import PROJECT_ROOT
from bot.texts import TextsError

SECTION = Section(
    "returns#window",
    "returns",
    "How long do I have?",
    "Thirty days. See [who pays](help:shipping#who-pays) for [the router](product:NR-AX1800-EU), "
    "or [our site](https://nimbus.example/returns).",
    10,
    ("return window",),
)
RETURNS = Article(
    "returns",
    "Returns",
    ("send back",),
    (),
    dt.date(2026, 11, 1),
    "What <b>this</b> covers.",
    (SECTION,),
    Path("returns.md"),
)
SHIPPING = Article(
    "shipping",
    "Shipping",
    (),
    (),
    dt.date(2026, 11, 1),
    "",
    (Section("shipping#who-pays", "shipping", "Who pays?", "We do.", 9),),
    Path("shipping.md"),
)
TEXTS = load_help_texts(PROJECT_ROOT / "data" / "texts.yml")
REPLIES = HelpReplies(TEXTS, lambda article: f"https://help.example/{article}")


def result(decision: str) -> SearchResult:
    hits = (Hit(SECTION, RETURNS, 0.8, 0.8, 0.5), Hit(SHIPPING.sections[0], SHIPPING, 0.5, 0.5, 0.2))
    return SearchResult(decision, hits)


def test_an_answer_is_the_passage_with_links_written_out_and_feedback_buttons() -> None:
    reply = REPLIES.for_result(result("answer"))
    assert reply.text.startswith(
        "Thirty days. See who pays (https://help.example/shipping) for the router, "
        "or our site (https://nimbus.example/returns)."
    )
    assert "Returns — https://help.example/returns" in reply.text
    assert reply.buttons == (("Yes, thanks", feedback_payload(True)), ("No", feedback_payload(False)))


def test_a_doubtful_match_offers_two_articles_and_a_person() -> None:
    reply = REPLIES.for_result(result("suggest"))
    assert reply.text == TEXTS.suggest
    assert reply.buttons == (
        ("Returns", article_payload("returns")),
        ("Shipping", article_payload("shipping")),
        ("Talk to a person", "/request_human"),
    )
    assert REPLIES.for_result(result("none")).buttons == (("Talk to a person", "/request_human"),)
    assert REPLIES.for_result(SearchResult("answer", ())).text == TEXTS.nothing_found


def test_after_feedback() -> None:
    assert REPLIES.after_feedback(True, SHIPPING).buttons == ()
    assert REPLIES.after_feedback(False, SHIPPING).buttons == (
        ("Shipping", article_payload("shipping")),
        ("Talk to a person", "/request_human"),
    )
    assert REPLIES.after_feedback(False, None).buttons == (("Talk to a person", "/request_human"),)


def test_an_article_picked_in_the_chat_shows_its_intro_or_first_section() -> None:
    assert REPLIES.for_article(RETURNS).text.startswith("Returns: What <b>this</b> covers.")
    assert REPLIES.for_article(SHIPPING).text.startswith("Shipping: We do.")


def test_pages_escape_the_article_text_and_link_articles() -> None:
    html = article_html(RETURNS)
    assert "What &lt;b&gt;this&lt;/b&gt; covers." in html
    assert '<h2 id="how-long-do-i-have">How long do I have?</h2>' in html
    assert '<a href="/help/shipping#who-pays">who pays</a>' in html
    assert "the router" in html and "product:" not in html
    assert "return window" not in html
    assert '<a href="/help/returns">Returns</a>' in index_html([SHIPPING, RETURNS])


def test_a_broken_help_text_is_a_clear_error(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "data" / "texts.yml").read_text(encoding="utf-8")
    broken = tmp_path / "texts.yml"
    broken.write_text(text.replace("{passage}", "{passage} {customer_name}"), encoding="utf-8")
    with pytest.raises(TextsError, match=r"help\.answer: unknown placeholder\(s\) customer_name"):
        load_help_texts(broken)
    broken.write_text(text.replace('  button_person: "Talk to a person"\n', ""), encoding="utf-8")
    with pytest.raises(TextsError, match="missing or empty help text"):
        load_help_texts(broken)
