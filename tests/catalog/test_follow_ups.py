"""Follow-ups and corrections of a product answer: the same question about what the new message names."""

from __future__ import annotations

import pytest

from bot.catalog.answers import ProductAnswers, question_asked, reads_as_follow_up
from bot.catalog.texts import load_catalog_texts
from bot.db.seed import load_demo_data
from bot.settings import PROJECT_ROOT

SATELLITE, AX1800, VELO, TRIO = "NM-SAT-EU", "NR-AX1800-EU", "NR-AX3000-EU", "NM-TRIO-EU"


@pytest.fixture(scope="module")
def answers() -> ProductAnswers:
    data = load_demo_data(PROJECT_ROOT / "data")
    return ProductAnswers.from_data(data, load_catalog_texts(PROJECT_ROOT / "data" / "texts.yml"))


@pytest.mark.parametrize(
    "text",
    [
        "and the mesh trio?",
        "what about Hamburg?",
        "sorry, I meant with the velo",
        "no no, the velo ax3000 i mean",
        "the yearly one",
    ],
)
def test_short_cued_messages_read_as_follow_ups(text: str) -> None:
    assert reads_as_follow_up(text)


@pytest.mark.parametrize(
    "text",
    [
        "I would like to know whether the mesh trio covers a three storey house",
        "/ask_product_price",
        "",
        "is it wifi 7?",
        "does it fit my raptor?",
    ],
)
def test_long_messages_and_buttons_are_not_follow_ups(text: str) -> None:
    assert not reads_as_follow_up(text)


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("and how much is the trio?", "price"),
        ("is it in stock in munich", "availability"),
        ("does it fit the velo", "compatibility"),
        ("and the trio?", None),
        ("sorry, I meant vienna", None),
    ],
)
def test_a_follow_up_asks_its_own_question_only_in_its_own_words(text: str, question: str | None) -> None:
    assert question_asked(text) == question


def test_a_corrected_product_replaces_the_one_of_its_kind_in_the_pair(answers: ProductAnswers) -> None:
    answer = answers.answer(
        "compatibility", "sorry, I meant with the velo ax3000", last_skus=[SATELLITE, AX1800], follow_up=True
    )
    assert answer.skus == (SATELLITE, VELO)
    assert "Mesh Satellite" in answer.replies[0].text and "Velo AX3000" in answer.replies[0].text


def test_without_a_follow_up_a_single_product_is_not_paired_with_the_last_pair(answers: ProductAnswers) -> None:
    answer = answers.answer("compatibility", "what works with the velo ax3000", last_skus=[SATELLITE, AX1800])
    assert answer.skus == (VELO,)


def test_a_stock_follow_up_keeps_the_last_store(answers: ProductAnswers) -> None:
    answer = answers.answer("availability", "and the mesh trio?", last_stores=["ST-BER"], follow_up=True)
    text = answer.replies[0].text
    assert answer.skus == (TRIO,) and answer.stores == ("ST-BER",)
    assert "Berlin" in text and "Hamburg" not in text


def test_a_store_named_in_a_correction_is_asked_about_the_last_product(answers: ProductAnswers) -> None:
    answer = answers.answer(
        "availability", "sorry, I meant vienna", last_sku=TRIO, last_stores=["ST-HAM"], follow_up=True
    )
    assert answer.skus == (TRIO,) and answer.stores == ("ST-VIE",)
    assert "Vienna" in answer.replies[0].text


def test_there_refers_to_the_last_store_even_later(answers: ProductAnswers) -> None:
    answer = answers.answer("availability", "is the mesh trio there too?", last_stores=["ST-MUC"])
    assert answer.stores == ("ST-MUC",) and "Munich" in answer.replies[0].text
