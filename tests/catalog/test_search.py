"""Product search: model numbers, aliases, typos, sentences, category words, misses, and the benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.catalog import Match, ProductIndex
from bot.catalog.normalize import compact, edit_distance, model_core, normalize
from bot.db.seed import load_demo_data
from bot.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT


@pytest.fixture(scope="module")
def index() -> ProductIndex:
    return ProductIndex.from_products(load_demo_data(ROOT / "data").products)


def test_normalize_helpers() -> None:
    assert normalize("NR-AX3000!") == "nr ax3000"
    assert normalize("Wi-Fi München") == "wifi munchen"
    assert compact("nr ax-3000") == "nrax3000"
    assert model_core("NR-AX3000") == "ax3000"
    assert model_core("NM-AX3000-2") == "ax30002"
    assert edit_distance("routr", "router", 1) == 1
    assert edit_distance("trio", "tiro", 1) == 1
    assert edit_distance("router", "switch", 2) == 3


@pytest.mark.parametrize("query", ["NR-AX3000", "nr ax3000", "AX3000", "ax 3000", "nr-ax3000-eu", "Nimbus Velo AX3000"])
def test_model_number_and_name_forms(index: ProductIndex, query: str) -> None:
    result = index.resolve(query)
    assert result.status == "found"
    assert result.match is not None and result.match.sku == "NR-AX3000-EU"


def test_exact_model_number_scores_one_and_says_so(index: ProductIndex) -> None:
    top = index.search("NR-AX6000P")[0]
    assert top == Match("NR-AX6000P-EU", "Nimbus AX6000 Pro", 1.0, "model_number")


@pytest.mark.parametrize(
    ("query", "sku", "matched_on"),
    [
        ("velo", "NR-AX3000-EU", "alias"),
        ("the mesh thing", "NM-DUO-EU", "alias"),
        ("Nimbus Mesh Trio", "NM-TRIO-EU", "name"),
        ("mesh trioo", "NM-TRIO-EU", "fuzzy"),
        ("ax300o", "NR-AX3000-EU", "fuzzy"),
        ("range extnder", "NE-AX1500-EU", "fuzzy"),
        ("caravan routr", "NR-LTE1200-EU", "fuzzy"),
        ("velo be7200", "NR-BE7200-EU", "alias"),
        # A full name that contains a shorter product's name is that product, not "which one?".
        ("Nimbus Mesh Duo BE5000", "NM-BE-DUO-EU", "name"),
        ("how much is the Nimbus Mesh Duo BE5000?", "NM-BE-DUO-EU", "name"),
    ],
)
def test_aliases_names_and_typos(index: ProductIndex, query: str, sku: str, matched_on: str) -> None:
    result = index.resolve(query)
    assert result.status == "found", index.search(query)
    assert result.match is not None
    assert (result.match.sku, result.match.matched_on) == (sku, matched_on)


@pytest.mark.parametrize(
    ("query", "sku"),
    [
        ("how much is the velo router in berlin?", "NR-AX3000-EU"),
        ("is the mesh satellite in stock in munich", "NM-SAT-EU"),
        ("do you sell a wifi booster", "NE-AX1500-EU"),
        ("I lost my charger", "NX-PS12-3-EU"),
    ],
)
def test_product_mentioned_in_a_sentence(index: ProductIndex, query: str, sku: str) -> None:
    result = index.resolve(query)
    assert result.match is not None and result.match.sku == sku


@pytest.mark.parametrize(
    ("query", "category_skus"),
    [
        ("a mesh kit", {"NM-DUO-EU", "NM-TRIO-EU", "NM-SAT-EU", "NM-BE-DUO-EU", "NM-OUT-EU"}),
        ("routr", {"NR-AX1800-EU", "NR-AX3000-EU", "NR-AX6000P-EU", "NR-BE7200-EU", "NR-GX7800-EU"}),
        ("extnder", {"NE-AX1500-EU", "NE-AX3000-EU", "NE-N300-EU"}),
    ],
)
def test_category_words_are_ambiguous(index: ProductIndex, query: str, category_skus: set[str]) -> None:
    result = index.resolve(query)
    assert result.status == "ambiguous"
    assert result.match is None
    assert 2 <= len(result.candidates) <= 4
    assert {m.sku for m in result.candidates} <= category_skus


@pytest.mark.parametrize("query", ["iphone charger", "xbox", "", "   ", "hello there", "qwertyuiop"])
def test_not_found(index: ProductIndex, query: str) -> None:
    result = index.resolve(query)
    assert result.status == "not_found"
    assert result.match is None and result.candidates == ()


def test_search_scores_are_ranked_bounded_and_limited(index: ProductIndex) -> None:
    found = index.search("nimbus mesh", limit=3)
    assert len(found) == 3
    assert all(0.0 <= m.score <= 1.0 for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert index.search("xbox") == []


def test_benchmark_quick_run_writes_report(tmp_path: Path) -> None:
    output = tmp_path / "catalog_search.json"
    done = subprocess.run(
        [sys.executable, "bench/catalog_search.py", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text(encoding="utf-8"))
    assert {"accuracy", "latency", "targets", "meets_targets"} <= set(report)
    assert {"total", "correct", "top1", "misses"} <= set(report["accuracy"])
    assert {"catalog_size", "queries", "p50_ms", "p95_ms", "mean_ms", "build_s"} <= set(report["latency"])
    assert report["accuracy"]["total"] >= 150
