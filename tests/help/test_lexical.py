"""The lexical half of help search: terms, typo correction and BM25."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.help.lexical import BM25, Speller, stem, terms, tokens, words


def test_terms_fold_case_and_accents_drop_stop_words_and_stem() -> None:
    assert tokens("Wie läuft's? Straße") == ["wie", "lauft", "s", "strasse"]
    assert words("How do I return my router?") == ["return", "router"]
    assert terms("Refunds refunded refunding") == ["refund", "refund", "refund"]
    assert stem("deliveries") == "delivery"
    assert stem("bus") == "bus"  # a stem keeps three characters


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("retrun", "return"),
        ("refnud", "refund"),
        ("adress", "address"),
        ("delivry", "delivery"),
        ("pasword", "password"),
    ],
)
def test_a_misspelt_word_is_read_as_the_indexed_word(typo: str, meant: str) -> None:
    speller = Speller(Counter(["return", "refund", "address", "delivery", "password", "parcel", "returns"]))
    assert speller.correct(typo) == meant


def test_known_short_and_far_words_are_left_alone() -> None:
    speller = Speller(Counter(["return", "router"]))
    assert speller.correct("return") == "return"
    assert speller.correct("rtn") == "rtn"  # too short to guess
    assert speller.correct("bitcoin") == "bitcoin"  # nothing close
    assert speller.correct("12345") == "12345"


def test_the_more_frequent_of_two_equally_close_words_wins() -> None:
    speller = Speller(Counter({"parcel": 9, "pardel": 1}))
    assert speller.correct("parcek") == "parcel"


def test_bm25_ranks_the_document_with_the_rare_term_first_and_scores_relative_to_a_ceiling() -> None:
    docs = [terms("return a router within thirty days"), terms("router set up in the app"), terms("pay by card")]
    index = BM25(docs)
    scores, ceiling = index.scores(terms("return router"))
    assert scores[0] > scores[1] > scores[2] == 0.0
    assert 0 < scores[0] / ceiling <= 1
    # a word no document has lowers the relative score: the question is partly about something else
    more, more_ceiling = index.scores(terms("return router bitcoin"))
    assert more[0] == scores[0] and more[0] / more_ceiling < scores[0] / ceiling


def test_bm25_of_an_empty_query_is_zero() -> None:
    index = BM25([terms("return a router")])
    assert index.scores([]) == ([0.0], 0.0)
