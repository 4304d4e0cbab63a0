"""Product answers: catalog facts worded for customers, clarifying questions and fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.catalog.answers import QUESTIONS, ProductAnswer, ProductAnswers, Reply, payload
from bot.catalog.texts import CatalogTexts, load_catalog_texts
from bot.db.demo_types import DemoData
from bot.db.seed import load_demo_data
from bot.settings import PROJECT_ROOT
from bot.texts import TextsError, load_texts

ROOT = PROJECT_ROOT
TEXTS = ROOT / "data" / "texts.yml"


@pytest.fixture(scope="module")
def data() -> DemoData:
    return load_demo_data(ROOT / "data")


@pytest.fixture(scope="module")
def texts() -> CatalogTexts:
    return load_catalog_texts(TEXTS)


@pytest.fixture(scope="module")
def answers(data: DemoData, texts: CatalogTexts) -> ProductAnswers:
    return ProductAnswers.from_data(data, texts)


def quantity(data: DemoData, store_id: str, sku: str) -> int:
    return next((row.quantity for row in data.stock if row.store_id == store_id and row.sku == sku), 0)


def only_text(answer: ProductAnswer) -> str:
    assert len(answer.replies) == 1
    return answer.replies[0].text


def decode(button_payload: str) -> tuple[str, object]:
    intent, _, entities = button_payload.partition("{")
    return intent, json.loads("{" + entities)["sku"]


# --- price -----------------------------------------------------------------------------


def test_price_of_a_named_product(answers: ProductAnswers) -> None:
    answer = answers.answer("price", "how much is the velo router?")
    assert answer.skus == ("NR-AX3000-EU",)
    assert "€129.99" in only_text(answer)
    assert "Nimbus Velo AX3000" in only_text(answer)


@pytest.mark.parametrize(
    ("text", "sku", "price"),
    [
        ("AX3000", "NR-AX3000-EU", "€129.99"),
        ("price of the nimbus ax18OO", "NR-AX1800-EU", "€79.99"),
        ("how much is the mesh thing", "NM-DUO-EU", "€199.99"),
        ("what does the raptr gaming router cost", "NR-GX7800-EU", "€329.99"),
        ("mesh satelite price", "NM-SAT-EU", "€99.99"),
    ],
)
def test_price_with_typos_and_informal_names(answers: ProductAnswers, text: str, sku: str, price: str) -> None:
    answer = answers.answer("price", text)
    assert answer.skus == (sku,)
    assert price in only_text(answer)


def test_subscription_prices_say_the_billing_period(answers: ProductAnswers) -> None:
    monthly = only_text(answers.answer("price", "how much is nimbus shield per month"))
    yearly = only_text(answers.answer("price", "annual shield"))
    assert "€4.99 per month" in monthly
    assert "€49.99 per year" in yearly


# --- availability ------------------------------------------------------------------------


def test_availability_in_a_named_city(answers: ProductAnswers, data: DemoData) -> None:
    answer = answers.answer("availability", "is the velo in stock in berlin?")
    expected = quantity(data, "ST-BER", "NR-AX3000-EU")
    assert expected > 0
    text = only_text(answer)
    assert f"{expected} × Nimbus Velo AX3000" in text
    assert "Hamburg" not in text


def test_availability_tolerates_a_typo_in_the_city(answers: ProductAnswers, data: DemoData) -> None:
    text = only_text(answers.answer("availability", "do you have the ax6000 pro in munchen?"))
    assert f"{quantity(data, 'ST-MUC', 'NR-AX6000P-EU')} ×" in text
    assert "Berlin" not in text


def test_availability_out_of_stock_in_the_city_points_to_other_stores(answers: ProductAnswers, data: DemoData) -> None:
    assert quantity(data, "ST-BER", "NR-AX6000P-EU") == 0
    text = only_text(answers.answer("availability", "is the pro router in stock in berln"))
    assert "no Nimbus AX6000 Pro in stock" in text
    assert f"Nimbus Store München ({quantity(data, 'ST-MUC', 'NR-AX6000P-EU')})" in text


def test_availability_without_a_city_lists_every_store(answers: ProductAnswers, data: DemoData) -> None:
    text = only_text(answers.answer("availability", "do you have the mesh duo"))
    for store in data.stores:
        assert store.city in text
    assert f"(Vienna): {quantity(data, 'ST-VIE', 'NM-DUO-EU')} in stock" in text


def test_availability_of_a_subscription(answers: ProductAnswers) -> None:
    assert "subscription" in only_text(answers.answer("availability", "is shield available"))


# --- specs -------------------------------------------------------------------------------


def test_specs_use_readable_labels(answers: ProductAnswers, data: DemoData) -> None:
    text = only_text(answers.answer("specs", "specs of the ax 3000"))
    assert "Wi-Fi standard: Wi-Fi 6 (802.11ax)" in text
    assert "Coverage (m²): 150" in text
    assert "Bands: 2.4 GHz, 5 GHz" in text
    assert "coverage_m2" not in text


# --- compatibility -----------------------------------------------------------------------


def test_compatibility_yes_from_compatible_with(answers: ProductAnswers, data: DemoData) -> None:
    extender = next(p for p in data.products if p.sku == "NE-AX1500-EU")
    assert "NR-AX3000-EU" in extender.compatible_with
    answer = answers.answer("compatibility", "does the reach ax1500 extender work with my velo router?")
    assert answer.skus == ("NE-AX1500-EU", "NR-AX3000-EU")
    assert only_text(answer).startswith("Yes")


def test_compatibility_no_explains_what_it_works_with(answers: ProductAnswers, data: DemoData) -> None:
    satellite = next(p for p in data.products if p.sku == "NM-SAT-EU")
    ax1800 = next(p for p in data.products if p.sku == "NR-AX1800-EU")
    assert "NR-AX1800-EU" not in satellite.compatible_with and "NM-SAT-EU" not in ax1800.compatible_with
    text = only_text(answers.answer("compatibility", "does the mesh satellite work with the ax1800?"))
    assert text.startswith("No")
    assert "Nimbus Velo AX3000" in text


def test_compatibility_from_mentions(answers: ProductAnswers) -> None:
    answer = answers.answer("compatibility", "will the psu fit my router", mentions=["19v adapter", "gaming router"])
    assert answer.skus == ("NX-PS19-3-EU", "NR-GX7800-EU")
    assert only_text(answer).startswith("Yes")


def test_compatibility_with_one_product_lists_partners_both_ways(answers: ProductAnswers) -> None:
    answer = answers.answer("compatibility", "what works with the ax1800?")
    assert answer.skus == ("NR-AX1800-EU",)
    text = only_text(answer)
    # The AX1800 lists nothing itself; the extenders list it.
    assert "Nimbus Reach AX1500 Range Extender" in text


def test_compatibility_refers_back_to_the_last_product(answers: ProductAnswers) -> None:
    answer = answers.answer("compatibility", "does it work with the mesh satellite?", last_sku="NR-AX1800-EU")
    assert answer.skus == ("NR-AX1800-EU", "NM-SAT-EU")
    assert only_text(answer).startswith("No")


# --- compare -------------------------------------------------------------------------------


def test_compare_shows_prices_and_differing_specs(answers: ProductAnswers) -> None:
    answer = answers.answer("compare", "what's the difference between the ax1800 and the velo")
    assert answer.skus == ("NR-AX1800-EU", "NR-AX3000-EU")
    text = only_text(answer)
    assert "Price: €79.99 | €129.99" in text
    assert "Coverage (m²): 90 | 150" in text
    assert "Wi-Fi standard" not in text  # the same on both


def test_compare_with_one_product_asks_for_the_second(answers: ProductAnswers) -> None:
    answer = answers.answer("compare", "how does the mesh trio compare")
    reply = answer.replies[0]
    assert answer.skus == ("NM-TRIO-EU",)
    assert reply.buttons
    for _, button in reply.buttons:
        intent, skus = decode(button)
        assert intent == "/ask_product_compare"
        assert isinstance(skus, list) and skus[0] == "NM-TRIO-EU" and skus[1] != "NM-TRIO-EU"


def test_compare_with_one_ambiguous_side_keeps_the_resolved_sku(answers: ProductAnswers) -> None:
    answer = answers.answer("compare", "compare the velo with a mesh")
    buttons = answer.replies[0].buttons
    assert 2 <= len(buttons) <= 4
    assert buttons[0] == ("Nimbus Mesh Duo", '/ask_product_compare{"sku":["NR-AX3000-EU","NM-DUO-EU"]}')


# --- clarification, not found, fallbacks -----------------------------------------------------


def test_ambiguous_name_asks_back_with_payloads(answers: ProductAnswers, data: DemoData) -> None:
    answer = answers.answer("price", "how much is the routr")
    reply = answer.replies[0]
    assert answer.skus == ()
    assert 2 <= len(reply.buttons) <= 4
    routers = {p.sku: p.name for p in data.products if p.category == "router"}
    for title, button in reply.buttons:
        intent, sku = decode(button)
        assert intent == "/ask_product_price"
        assert sku in routers and routers[sku] == title
    assert reply.buttons[0][1] == '/ask_product_price{"sku":"NR-AX1800-EU"}'


def test_button_payload_format() -> None:
    assert payload("availability", ["NR-AX3000-EU"]) == '/ask_product_availability{"sku":"NR-AX3000-EU"}'
    assert payload("compare", ["A", "B"]) == '/ask_product_compare{"sku":["A","B"]}'


def test_clicked_sku_takes_precedence(answers: ProductAnswers) -> None:
    answer = answers.answer("price", "how much is the velo router?", mentions=["velo"], skus=["NE-N300-EU"])
    assert answer.skus == ("NE-N300-EU",)
    assert "€24.99" in only_text(answer)
    both = answers.answer("compare", "/ask_product_compare", skus=["NR-AX1800-EU", "NR-BE7200-EU"])
    assert both.skus == ("NR-AX1800-EU", "NR-BE7200-EU")
    as_one_entity = answers.answer("compare", "", skus=[["NR-AX1800-EU", "NR-BE7200-EU"]])  # type: ignore[list-item]
    assert as_one_entity.skus == ("NR-AX1800-EU", "NR-BE7200-EU")


def test_unknown_clicked_sku_is_ignored(answers: ProductAnswers) -> None:
    answer = answers.answer("price", "how much is the velo?", skus=["NOPE"])
    assert answer.skus == ("NR-AX3000-EU",)


def test_wrong_mention_falls_back_to_the_whole_message(answers: ProductAnswers) -> None:
    answer = answers.answer("price", "how much is the velo router in berlin", mentions=["berlin"])
    assert answer.skus == ("NR-AX3000-EU",)


def test_product_not_in_the_catalog(answers: ProductAnswers) -> None:
    answer = answers.answer("price", "how much is the Nimbus Hyperblaster 9000?", mentions=["Nimbus Hyperblaster 9000"])
    reply = answer.replies[0]
    assert answer.skus == ()
    assert "Nimbus Hyperblaster 9000" in reply.text and "don't have" in reply.text
    assert 2 <= len(reply.buttons) <= 3
    assert all(decode(button)[0] == "/ask_product_price" for _, button in reply.buttons)


def test_unknown_product_is_not_replaced_by_the_last_one(answers: ProductAnswers) -> None:
    answer = answers.answer("price", "how much is the zorblatt?", last_sku="NR-AX3000-EU")
    assert answer.skus == ()
    assert "don't have" in answer.replies[0].text


def test_last_sku_fallback(answers: ProductAnswers, data: DemoData) -> None:
    price = answers.answer("price", "how much is it?", last_sku="NM-TRIO-EU")
    assert price.skus == ("NM-TRIO-EU",) and "€279.99" in only_text(price)
    stock = answers.answer("availability", "is it in stock in hamburg?", last_sku="NR-BE7200-EU")
    assert f"{quantity(data, 'ST-HAM', 'NR-BE7200-EU')} × Nimbus Velo BE7200" in only_text(stock)


def test_last_sku_settles_an_ambiguous_category(answers: ProductAnswers) -> None:
    answer = answers.answer("specs", "what are the specs of the router", last_sku="NR-BE7200-EU")
    assert answer.skus == ("NR-BE7200-EU",)


def test_no_product_and_no_last_sku_asks_which(answers: ProductAnswers) -> None:
    answer = answers.answer("availability", "is it in stock?")
    reply = answer.replies[0]
    assert answer.skus == ()
    assert reply.text.startswith("Which product")
    assert 2 <= len(reply.buttons) <= 4
    assert reply.buttons[0] == ("Nimbus Velo AX3000", '/ask_product_availability{"sku":"NR-AX3000-EU"}')


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_question_answers_with_replies(answers: ProductAnswers, question: str) -> None:
    answer = answers.answer(question, "the velo and the mesh duo")
    assert answer.replies and all(isinstance(reply, Reply) and reply.text for reply in answer.replies)


def test_unknown_question_raises(answers: ProductAnswers) -> None:
    with pytest.raises(ValueError, match="warranty"):
        answers.answer("warranty", "velo")


# --- texts -----------------------------------------------------------------------------------


def test_catalog_texts_load_next_to_gateway_texts() -> None:
    assert load_texts(TEXTS).rate_limited
    texts = load_catalog_texts(TEXTS)
    assert texts.currency_symbols["EUR"] == "€"
    assert texts.label("coverage_m2") == "Coverage (m²)"
    assert texts.label("some_new_key") == "Some new key"


def test_missing_catalog_key_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "texts.yml"
    path.write_text(TEXTS.read_text(encoding="utf-8").replace("  clarify:", "  clarfy:"), encoding="utf-8")
    with pytest.raises(TextsError, match=r"texts\.yml: missing or empty catalog text\(s\): clarify"):
        load_catalog_texts(path)
    assert load_texts(path).bad_frame  # the gateway texts are unaffected


def test_unknown_placeholder_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "texts.yml"
    original = TEXTS.read_text(encoding="utf-8")
    path.write_text(original.replace("The {name} costs {price}.", "The {nmae} costs {price}."), encoding="utf-8")
    with pytest.raises(TextsError, match=r"catalog\.price: unknown placeholder\(s\) nmae"):
        load_catalog_texts(path)


def test_load_reads_the_data_folder() -> None:
    answers = ProductAnswers.load(ROOT / "data")
    assert answers.answer("price", "NR-AX1800").skus == ("NR-AX1800-EU",)
