"""Product search on follow-ups and corrections: distinguishing words, sizes, "not the ...", filler words."""

from __future__ import annotations

import pytest

from bot.catalog import ProductIndex
from bot.catalog.normalize import BASE_VARIANT_WORDS, FILLER_WORDS, negated_positions, tokens
from bot.db.seed import load_demo_data
from bot.settings import PROJECT_ROOT

POWERLINK_KITS = {"NP-AV1000-EU", "NP-AV1000W-EU", "NP-AV2000-EU"}


@pytest.fixture(scope="module")
def index() -> ProductIndex:
    return ProductIndex.from_products(load_demo_data(PROJECT_ROOT / "data").products)


def _found(index: ProductIndex, query: str) -> str:
    result = index.resolve(query)
    assert result.status == "found", (result, index.search(query))
    assert result.match is not None
    return result.match.sku


@pytest.mark.parametrize(
    ("query", "sku"),
    [
        # A word in exactly one candidate's name beats a shorter or more popular name.
        ("how much is the nimbus shield yearly?", "NS-SHIELD-Y"),
        ("how much is the nimbus shield yearly plan", "NS-SHIELD-Y"),
        ("and the outdoor one?", "NM-OUT-EU"),
        ("the outdoor one", "NM-OUT-EU"),
        ("the be5000 one", "NM-BE-DUO-EU"),
        ("the pro one", "NR-AX6000P-EU"),
        ("tell me about the mini ups", "NX-UPS12-EU"),
        ("av1000 wifi kit", "NP-AV1000W-EU"),
        # Numbers with units.
        ("how much is the 5 m ethernet cable", "NX-C6-5M-EU"),
        ("how much is the 5m ethernet cable", "NX-C6-5M-EU"),
        ("the 5 metre cable", "NX-C6-5M-EU"),
        ("the 5 m one", "NX-C6-5M-EU"),
        ("the 10 m cable", "NX-C6A-10M-EU"),
        ("and the 10 m one?", "NX-C6A-10M-EU"),
        ("and the 5 port one?", "NW-SW5G-EU"),
        ("the 5-port one", "NW-SW5G-EU"),
        ("the 8 port switch", "NW-SW8G-EU"),
        ("the 8-port one", "NW-SW8G-EU"),
    ],
)
def test_distinguishing_words_and_sizes(index: ProductIndex, query: str, sku: str) -> None:
    assert _found(index, query) == sku


@pytest.mark.parametrize(
    ("query", "sku"),
    [
        ("what about the regular mesh duo", "NM-DUO-EU"),
        ("the normal mesh duo", "NM-DUO-EU"),
        ("the basic mesh duo", "NM-DUO-EU"),
        ("the standard satellite", "NM-SAT-EU"),
    ],
)
def test_regular_means_the_variant_without_a_suffix(index: ProductIndex, query: str, sku: str) -> None:
    assert _found(index, query) == sku


def test_plain_leaves_out_the_extended_variant(index: ProductIndex) -> None:
    result = index.resolve("the plain powerlink kit")
    assert result.status == "ambiguous"
    assert {m.sku for m in result.candidates} <= POWERLINK_KITS - {"NP-AV1000W-EU"}


@pytest.mark.parametrize(
    ("query", "sku"),
    [
        ("the trio not the duo", "NM-TRIO-EU"),
        ("oops, the trio not the duo", "NM-TRIO-EU"),
        ("the trio instead of the duo", "NM-TRIO-EU"),
        ("not the pro, the be7200", "NR-BE7200-EU"),
        ("sorry, not the pro, the be7200", "NR-BE7200-EU"),
        ("the mesh duo be5000, not the mesh duo", "NM-BE-DUO-EU"),
    ],
)
def test_a_name_after_not_is_ruled_out(index: ProductIndex, query: str, sku: str) -> None:
    assert _found(index, query) == sku


def test_a_category_without_the_ruled_out_product(index: ProductIndex) -> None:
    result = index.resolve("a mesh kit, not the duo")
    assert result.status == "ambiguous"
    assert "NM-DUO-EU" not in {m.sku for m in result.candidates}
    assert index.resolve("not the mesh duo").status == "not_found"


@pytest.mark.parametrize(
    ("query", "sku"),
    [
        ("sorry, the yearly one", "NS-SHIELD-Y"),
        ("no no, the velo ax3000 i mean", "NR-AX3000-EU"),
        ("no, the be7200", "NR-BE7200-EU"),
        ("i meant the ax6000 pro", "NR-AX6000P-EU"),
        ("actually, the gaming one instead", "NR-GX7800-EU"),
        ("wrong one, i meant the wifi 7 one", "NR-BE7200-EU"),
    ],
)
def test_corrections(index: ProductIndex, query: str, sku: str) -> None:
    assert _found(index, query) == sku


def test_correction_to_a_family_is_ambiguous(index: ProductIndex) -> None:
    result = index.resolve("sorry I meant the powerlink kit")
    assert result.status == "ambiguous"
    assert len(result.candidates) >= 2
    assert {m.sku for m in result.candidates} <= POWERLINK_KITS


@pytest.mark.parametrize(
    ("segment", "sku"), [("does the 5g antenna kit work", "NX-ANT5G-EU"), ("the roam 5g?", "NR-5G3000-EU")]
)
def test_each_side_of_a_pair_resolves(index: ProductIndex, segment: str, sku: str) -> None:
    assert _found(index, segment) == sku


@pytest.mark.parametrize(
    "query", ["sorry, I meant, no, wrong one actually instead", "oops", "the regular one", "which one", "not that one"]
)
def test_filler_words_name_nothing(index: ProductIndex, query: str) -> None:
    assert index.search(query) == []
    assert index.resolve(query).status == "not_found"


def test_filler_word_lists() -> None:
    words = {"sorry", "oops", "meant", "mean", "no", "wrong", "actually", "instead", "one", "not", "regular"}
    assert words <= FILLER_WORDS
    assert BASE_VARIANT_WORDS <= FILLER_WORDS


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("the trio not the duo", ["duo"]),
        ("sorry, not the pro, the be7200", ["pro"]),
        ("not the mesh duo but the trio", ["mesh", "duo"]),
        ("the trio instead of the duo", ["duo"]),
        ("the trio rather than the duo one", ["duo"]),
        ("is it not in stock", []),
        ("no, the be7200", []),
    ],
)
def test_negated_positions(text: str, negated: list[str]) -> None:
    words = tokens(text)
    assert [words[i] for i in sorted(negated_positions(words))] == negated


@pytest.mark.parametrize(
    ("query", "status", "sku"),
    [
        # A word common to many products (wifi) does not let a longer name beat a model number.
        ("what wifi standard does the AX3000 support", "found", "NR-AX3000-EU"),
        # A full alias ("the wifi 7 one") is not overruled by another product's name.
        ("is it wifi 7?", "ambiguous", "NR-BE7200-EU"),
        # A typo of a three-letter word is no evidence ("let" is not "lte").
        ("actually let's start the whole chat again", "not_found", None),
        ("card declined", "not_found", None),
        ("i need 10", "not_found", None),
    ],
)
def test_distinguishing_words_stay_in_their_lane(index: ProductIndex, query: str, status: str, sku: str | None) -> None:
    result = index.resolve(query)
    assert result.status == status, index.search(query)
    if status == "found":
        assert result.match is not None and result.match.sku == sku
    elif status == "ambiguous":
        assert sku in {m.sku for m in result.candidates}
